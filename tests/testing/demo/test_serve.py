"""``variomedia-sandbox --serve``: every line it prints to paste really works, and stopping it
leaves nothing running and nothing behind."""

from __future__ import annotations

import os
import signal
import socket
import stat
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from certbot_dns_variomedia.credentials import load_variomedia_credentials
from certbot_dns_variomedia.testing.demo.command import main
from certbot_dns_variomedia.testing.demo.sandbox import certificate_names

from ..served import alive, serve_sandbox

pytestmark = pytest.mark.e2e


def listening(url: str) -> bool:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=2).close()
    except ConnectionRefusedError:
        return False
    return True


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def saved_certificate(output: str) -> list[str]:
    """The names of the certificate certbot says it saved."""
    marker = "Certificate is saved at: "
    line = next(line for line in output.splitlines() if line.startswith(marker))
    return certificate_names(Path(line[len(marker) :].strip()).parent / "cert.pem")


def test_pasted_commands_work_and_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    served = serve_sandbox(tmp_path / "tmp", env={**os.environ, "HOME": str(home)})
    try:
        root = Path(served.value("Its folder").split(" (")[0])
        credentials = Path(served.value("Credentials for the simulator (mode 0600)"))
        assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
        api_url = load_variomedia_credentials(str(credentials)).api_url
        plugin = served.command("certbot", "certonly", "--authenticator", "dns-variomedia")
        pebble_url = option(plugin, "--server")
        outputs: dict[tuple[str, ...], str] = {}
        for argv in served.commands():  # in the order printed, as a person would
            result = served.run(argv)
            outputs[tuple(argv)] = result.stdout + result.stderr
            assert result.returncode == 0, f"{argv}\n{outputs[tuple(argv)]}"

        def output(program: str, *words: str) -> str:
            return outputs[tuple(served.command(program, *words))]

        assert saved_certificate(outputs[tuple(plugin)]) == ["example.test", "*.example.test"]
        assert saved_certificate(output("certbot", "certonly", "--manual")) == ["www.other.test"]
        assert "FAIL" not in output("variomedia-dns", "doctor")
        assert '"hello" is visible on all 2 name servers' in output("variomedia-dns", "check")
        assert "hello.example.test" in output("variomedia-dns", "records", "list")
        issued = Path(option(served.command("variomedia-dns", "issue"), "--out"))
        assert issued.parent == root
        assert certificate_names(issued / "cert.pem") == ["other.test", "*.other.test"]
        assert stat.S_IMODE((issued / "privkey.pem").stat().st_mode) == 0o600
        # The commands' cache, state and ACME account stayed in the sandbox.
        assert list(home.iterdir()) == []
        assert list((root / "variomedia-dns" / "accounts").iterdir())
    finally:
        status = served.stop(signal.SIGINT)
    assert status == 0, served.output
    assert served.lines[-2:] == [
        "Stopped Pebble and the simulator.",
        f"Removed the sandbox's folder {root}",
    ]
    assert served.children, "Pebble was not a child of the serve command"
    assert not [pid for pid in served.children if alive(pid)]
    assert not listening(api_url)
    assert not listening(pebble_url)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_kill_stops_it_and_keep_keeps_the_folder(tmp_path: Path) -> None:
    served = serve_sandbox(tmp_path / "tmp", "--keep")
    status = served.stop(signal.SIGTERM)
    assert status == 0, served.output
    root = Path(served.value("Its folder").split(" (")[0])
    assert served.value("Its folder") == f"{root} (kept when it stops)"
    assert served.lines[-1] == f"The sandbox is kept in {root}"
    assert (root / "variomedia.ini").is_file()
    assert not [pid for pid in served.children if alive(pid)]


@pytest.mark.parametrize("extra", [["--out", "certs"], ["-d", "example.test"]])
def test_serve_refuses_the_one_shot_options(
    extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_status:
        main(["--serve", *extra])
    assert exit_status.value.code == 2
    assert "--serve prints commands to run; give -d and --out to those instead" in (
        capsys.readouterr().err
    )
