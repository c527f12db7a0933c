"""``variomedia-sandbox`` (the one-shot demo) removes its temporary folder, yet still shows
the certificate it issued: printed, copied to ``--out``, or kept with ``--keep``."""

from __future__ import annotations

import functools
import os
import re
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from cryptography import x509

from certbot_dns_variomedia.testing.acme.pebble import Pebble
from certbot_dns_variomedia.testing.demo import sandbox as sandbox_module
from certbot_dns_variomedia.testing.demo.command import main
from certbot_dns_variomedia.testing.demo.sandbox import DEMO_DOMAINS, certificate_names

pytestmark = pytest.mark.e2e

TIMEOUT = 180.0


def demo(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The console script, with its temporary folder below `tmp`."""
    tmp.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [str(Path(sys.executable).parent / "variomedia-sandbox"), *args],
        env={**os.environ, "TMPDIR": str(tmp)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def line(output: str, label: str) -> str:
    found = re.findall(rf"^{re.escape(label)}:\s+(.*)$", output, re.MULTILINE)
    assert len(found) == 1, (label, output)
    return str(found[0])


def test_the_demo_removes_its_folder_and_prints_the_certificate(tmp_path: Path) -> None:
    result = demo(tmp_path / "tmp")

    assert result.returncode == 0, result.stdout + result.stderr
    assert list((tmp_path / "tmp").iterdir()) == []
    pem = re.search(
        r"-----BEGIN CERTIFICATE-----\n.*?-----END CERTIFICATE-----\n", result.stdout, re.DOTALL
    )
    assert pem, result.stdout
    cert = x509.load_pem_x509_certificate(pem.group(0).encode())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == list(DEMO_DOMAINS)
    assert line(result.stdout, "Names") == ", ".join(DEMO_DOMAINS)
    assert "Removed the sandbox's folder " in result.stdout


def test_keep_and_out_keep_the_sandbox_and_copy_the_certificate(tmp_path: Path) -> None:
    out = tmp_path / "certs"
    result = demo(tmp_path / "tmp", "--keep", "--out", str(out), "-d", "www.example.test")

    assert result.returncode == 0, result.stdout + result.stderr
    assert line(result.stdout, "Certificate") == str(out / "fullchain.pem")
    assert line(result.stdout, "Private key") == str(out / "privkey.pem")
    assert certificate_names(out / "cert.pem") == ["www.example.test"]
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.glob("*.pem")}
    assert modes == {
        "privkey.pem": 0o600,
        "cert.pem": 0o644,
        "chain.pem": 0o644,
        "fullchain.pem": 0o644,
    }
    kept = list((tmp_path / "tmp").iterdir())
    assert [p.name.startswith("variomedia-sandbox-") for p in kept] == [True]
    assert f"The sandbox is kept in {kept[0]}" in result.stdout
    assert (kept[0] / "certbot/config/live/sandbox/privkey.pem").is_file()


def test_a_failed_run_leaves_nothing_and_says_how_to_keep_the_log(tmp_path: Path) -> None:
    result = demo(tmp_path / "tmp", "-d", "not-in-the-account.test")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "certbot failed (exit status 1); to read its log, run again with --keep" in (
        result.stdout
    )
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("cert.pem", "--out {tmp}/cert.pem is a file; give a directory."),
        ("cert.pem/live", "--out {tmp}/cert.pem/live: {tmp}/cert.pem is a file; give a directory."),
    ],
)
def test_out_below_a_file_is_refused_before_anything_starts(
    out: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "cert.pem"
    a_file.write_text("not a directory")
    with pytest.raises(SystemExit) as exit_status:
        main(["--out", str(tmp_path / out)])
    assert exit_status.value.code == 2
    assert message.format(tmp=tmp_path) in capsys.readouterr().err
    assert a_file.read_text() == "not a directory"


def test_without_pebble_it_says_what_to_install_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "bin" / "pebble"
    monkeypatch.setattr(sandbox_module, "Pebble", functools.partial(Pebble, binary=str(missing)))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()

    assert main([]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"variomedia-sandbox: {missing} is not an executable; install Debian's 'pebble' package"
    ), err
    assert "Traceback" not in err
    assert list((tmp_path / "tmp").iterdir()) == []
