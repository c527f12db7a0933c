"""The command's pure pieces: defaults, option values, hook environment, owner, files, keys."""

from __future__ import annotations

import datetime
import errno
import ipaddress
import logging
import stat
from pathlib import Path

import pytest
from acme.crypto_util import make_csr
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from josepy.jwa import ES256, ES384, RS256
from josepy.jwk import JWKEC, JWKRSA

from certbot_dns_variomedia import cli
from certbot_dns_variomedia.cli import certfiles
from certbot_dns_variomedia.cli.certfiles import (
    load_or_create_account_key,
    write_certificate_files,
)
from certbot_dns_variomedia.cli.hook_owner import is_certbot, owner_pid, read_process
from certbot_dns_variomedia.cli.hooks import HookCall
from certbot_dns_variomedia.cli.options import UsageError, seconds_value, ttl_value
from certbot_dns_variomedia.cli.output import shorten, table
from certbot_dns_variomedia.errors import ConfigurationError
from certbot_dns_variomedia.issue import (
    IssuedCertificate,
    account_jwk,
    certificate_names,
    csr_names,
    generate_key,
    key_to_pem,
)
from certbot_dns_variomedia.paths import default_account_key, default_state_file

# -- paths ----------------------------------------------------------------------------------------


def test_state_file_default_for_root_users_and_the_override() -> None:
    home = {"HOME": "/home/ann"}
    assert default_state_file({}, euid=0) == Path("/var/lib/variomedia-dns/state.json")
    assert default_state_file(home, euid=1000) == Path(
        "/home/ann/.local/state/variomedia-dns/state.json"
    )
    xdg = {**home, "XDG_STATE_HOME": "/srv/state"}
    assert default_state_file(xdg, euid=1000) == Path("/srv/state/variomedia-dns/state.json")
    # The XDG spec: a relative value is invalid and ignored.
    relative = {**home, "XDG_STATE_HOME": "state"}
    assert default_state_file(relative, euid=1000).is_relative_to("/home/ann/.local/state")
    explicit = {"VARIOMEDIA_DNS_STATE_FILE": "/tmp/s.json"}
    assert default_state_file(explicit, euid=0) == Path("/tmp/s.json")


def test_one_account_key_per_ca() -> None:
    env = {"HOME": "/home/ann"}
    production = default_account_key("https://acme-v02.api.letsencrypt.org/directory", env, 1000)
    staging = default_account_key("https://acme-staging-v02.api.letsencrypt.org/directory", env, 1)
    assert production == Path(
        "/home/ann/.config/variomedia-dns/accounts/"
        "acme-v02.api.letsencrypt.org_directory/account-key.pem"
    )
    assert staging != production
    explicit = {"VARIOMEDIA_DNS_ACCOUNT_DIR": "/srv/acme"}
    assert default_account_key("https://127.0.0.1:14000/dir", explicit, 0) == Path(
        "/srv/acme/127.0.0.1_14000_dir/account-key.pem"
    )
    assert default_account_key("https://127.0.0.1:14000/dir", {}, 0).parts[:4] == (
        "/",
        "etc",
        "variomedia-dns",
        "accounts",
    )


# -- option values --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "ttl"), [("300", 300), ("86400", 86400)])
def test_ttl_limits_are_variomedias(text: str, ttl: int) -> None:
    assert ttl_value(text) == ttl


@pytest.mark.parametrize("text", ["299", "86401", "5m", ""])
def test_bad_ttl_is_a_usage_error(text: str) -> None:
    with pytest.raises(Exception, match="seconds"):
        ttl_value(text)


def test_seconds_must_be_finite_and_not_negative() -> None:
    assert seconds_value("2.5") == 2.5
    for bad in ("-1", "inf", "nan", "x"):
        with pytest.raises(Exception, match="seconds"):
            seconds_value(bad)


# -- hook environment -----------------------------------------------------------------------------


def test_hook_call_reads_certbots_variables() -> None:
    call = HookCall.from_environ(
        {
            "CERTBOT_DOMAIN": "example.test",
            "CERTBOT_VALIDATION": "abc",
            "CERTBOT_REMAINING_CHALLENGES": "1",
        }
    )
    assert call == HookCall("example.test", "abc", 1)
    # Without the count (another ACME client) every call is the last of its batch.
    alone = HookCall.from_environ({"CERTBOT_DOMAIN": "a.test", "CERTBOT_VALIDATION": "v"})
    assert alone.remaining == 0


def test_hook_call_without_certbot_says_how_it_is_meant_to_run() -> None:
    with pytest.raises(UsageError, match="CERTBOT_DOMAIN and CERTBOT_VALIDATION not set"):
        HookCall.from_environ({})
    with pytest.raises(UsageError, match="must be a number"):
        HookCall.from_environ(
            {
                "CERTBOT_DOMAIN": "a.test",
                "CERTBOT_VALIDATION": "v",
                "CERTBOT_REMAINING_CHALLENGES": "-1",
            }
        )


# -- the owner of hook records --------------------------------------------------------------------


def fake_proc(root: Path, processes: dict[int, tuple[int, list[str]]]) -> Path:
    """A /proc with `stat` and `cmdline` for pid → (ppid, argv)."""
    for pid, (ppid, argv) in processes.items():
        directory = root / str(pid)
        directory.mkdir(parents=True)
        name = Path(argv[0]).name[:15]
        (directory / "stat").write_text(f"{pid} ({name}) S {ppid} {pid} {pid} 0 -1\n")
        (directory / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    return root


def test_owner_is_the_certbot_ancestor(tmp_path: Path) -> None:
    proc = fake_proc(
        tmp_path,
        {
            90: (80, ["/bin/sh", "-c", "variomedia-dns certbot-auth"]),
            80: (70, ["/usr/bin/python3", "-s", "/usr/bin/certbot", "certonly", "--manual"]),
            70: (1, ["/bin/bash"]),
        },
    )
    assert owner_pid(90, proc) == 80


def test_owner_without_certbot_is_the_nearest_ancestor_that_is_not_a_shell(
    tmp_path: Path,
) -> None:
    proc = fake_proc(
        tmp_path,
        {
            90: (85, ["sh", "-c", "variomedia-dns certbot-auth"]),
            85: (60, ["/usr/bin/env", "FOO=1", "sh", "-c", "..."]),
            60: (50, ["/usr/local/bin/acme-client", "renew"]),
            50: (1, ["/usr/sbin/cron"]),
        },
    )
    assert owner_pid(90, proc) == 60
    only_shells = fake_proc(tmp_path / "b", {90: (70, ["dash", "-c", "x"]), 70: (1, ["bash"])})
    assert owner_pid(90, only_shells) == 90  # nothing better: the parent


def test_a_shell_script_is_named_by_its_script(tmp_path: Path) -> None:
    proc = fake_proc(
        tmp_path,
        {90: (80, ["sh", "-c", "hook"]), 80: (1, ["/bin/sh", "/opt/bin/certbot", "renew"])},
    )
    assert owner_pid(90, proc) == 80


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("certbot", "renew"), True),
        (("/snap/certbot/4567/bin/python3", "-s", "/snap/certbot/4567/bin/certbot"), True),
        (("python3", "-m", "certbot", "certonly"), True),
        (("python3.11", "-mcertbot.main"), True),
        (("/usr/bin/letsencrypt",), True),
        (("certbot-dns-helper",), False),
        (("python3", "-c", "print(1)"), False),
        ((), False),
    ],
)
def test_is_certbot(argv: tuple[str, ...], expected: bool) -> None:
    assert is_certbot(argv) is expected


def test_command_names_with_spaces_and_parentheses_are_parsed(tmp_path: Path) -> None:
    directory = tmp_path / "42"
    directory.mkdir()
    (directory / "stat").write_text("42 (we (ird) name) S 7 42 42 0 -1\n")
    (directory / "cmdline").write_bytes(b"x\0")
    info = read_process(42, tmp_path)
    assert info is not None
    assert info.ppid == 7
    assert read_process(43, tmp_path) is None


# -- output ---------------------------------------------------------------------------------------


def test_table_aligns_columns_and_does_not_pad_the_last() -> None:
    text = table(["ID", "NAME", "DATA"], [["1", "example.test", "x"], ["22", "a", "yy"]])
    assert text.splitlines() == [
        "ID  NAME          DATA",
        "1   example.test  x",
        "22  a             yy",
    ]
    assert shorten("abcdef", 4) == "abc…"
    assert shorten("abc", 4) == "abc"


# -- certificate files ----------------------------------------------------------------------------


def certificate(key: bytes | None = b"KEY\n") -> IssuedCertificate:
    return IssuedCertificate(
        names=("example.test",),
        cert_pem=b"CERT\n",
        chain_pem=b"CHAIN\n",
        fullchain_pem=b"CERT\nCHAIN\n",
        not_after=datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc),
        private_key_pem=key,
    )


def test_certificate_files_have_their_content_and_modes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = write_certificate_files(certificate(), out)
    assert sorted(files) == ["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"]
    assert (out / "fullchain.pem").read_bytes() == b"CERT\nCHAIN\n"
    assert stat.S_IMODE((out / "privkey.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "cert.pem").stat().st_mode) == 0o644
    assert sorted(p.name for p in out.iterdir()) == sorted(files)  # no temporary files left
    # With a CSR there is no key to write, and an old one is not touched.
    (out / "privkey.pem").write_bytes(b"OLD KEY\n")
    assert "privkey.pem" not in write_certificate_files(certificate(key=None), out)
    assert (out / "privkey.pem").read_bytes() == b"OLD KEY\n"


def test_a_failed_write_leaves_the_old_files_and_no_temporary_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write_certificate_files(certificate(b"OLD KEY\n"), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = certfiles._write_temp
    calls = []

    def disk_full(directory: Path, name: str, data: bytes, mode: int) -> Path:
        calls.append(name)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(directory, name, data, mode)

    monkeypatch.setattr(certfiles, "_write_temp", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_certificate_files(certificate(b"NEW KEY\n"), out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_directory_in_the_way_is_found_before_anything_is_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_certificate_files(certificate(b"OLD KEY\n"), out)
    (out / "fullchain.pem").unlink()
    (out / "fullchain.pem").mkdir()
    with pytest.raises(IsADirectoryError):
        write_certificate_files(certificate(b"NEW KEY\n"), out)
    assert (out / "privkey.pem").read_bytes() == b"OLD KEY\n"
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_account_key_is_created_private_and_then_reused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "accounts" / "ca" / "account-key.pem"
    first = load_or_create_account_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert isinstance(serialization.load_pem_private_key(first, None), ec.EllipticCurvePrivateKey)
    assert load_or_create_account_key(path) == first
    assert [p.name for p in path.parent.iterdir()] == ["account-key.pem"]
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        assert load_or_create_account_key(path) == first
    assert "chmod 600" in caplog.text


# -- keys and names for the ACME order ------------------------------------------------------------


def test_certificate_names_are_ace_unique_and_keep_wildcards() -> None:
    assert certificate_names(
        ["Example.TEST", "*.example.test", "example.test.", "bücher.test"]
    ) == [
        "example.test",
        "*.example.test",
        "xn--bcher-kva.test",
    ]
    with pytest.raises(ConfigurationError, match="No domain"):
        certificate_names([])
    with pytest.raises(ConfigurationError, match="wildcard"):
        certificate_names(["www.*.example.test"])


def test_csr_names_and_ip_addresses(tmp_path: Path) -> None:
    key = key_to_pem(generate_key())
    assert csr_names(make_csr(key, ["a.example.test", "*.example.test"])) == [
        "a.example.test",
        "*.example.test",
    ]
    with pytest.raises(ConfigurationError, match="IP addresses"):
        csr_names(make_csr(key, ["a.example.test"], ipaddrs=[ipaddress.ip_address("192.0.2.1")]))
    with pytest.raises(ConfigurationError, match="not a PEM"):
        csr_names(b"nonsense")


def test_keys_and_their_signature_algorithms() -> None:
    rsa_key = generate_key("rsa", rsa_key_size=3072)
    assert isinstance(rsa_key, rsa.RSAPrivateKey)
    assert rsa_key.key_size == 3072
    p384 = generate_key("ecdsa", elliptic_curve="secp384r1")
    assert isinstance(p384, ec.EllipticCurvePrivateKey)
    jwk, alg = account_jwk(key_to_pem(rsa_key))
    assert (type(jwk), alg) == (JWKRSA, RS256)
    assert (type(account_jwk(key_to_pem(p384))[0]), account_jwk(key_to_pem(p384))[1]) == (
        JWKEC,
        ES384,
    )
    assert account_jwk(key_to_pem(generate_key()))[1] == ES256
    with pytest.raises(ConfigurationError, match="RSA key size"):
        generate_key("rsa", rsa_key_size=1024)
    with pytest.raises(ConfigurationError, match="Curve"):
        generate_key("ecdsa", elliptic_curve="secp192r1")
    with pytest.raises(ConfigurationError, match="not an unencrypted PEM"):
        account_jwk(b"-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----\n")


def test_generated_csr_carries_the_names_and_no_subject(tmp_path: Path) -> None:
    csr = x509.load_pem_x509_csr(make_csr(key_to_pem(generate_key()), ["example.test"]))
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME) == []


# -- the parser -----------------------------------------------------------------------------------


HELP = [
    [],
    ["certbot-auth"],
    ["certbot-cleanup"],
    ["records"],
    ["records", "list"],
    ["records", "add"],
    ["records", "delete"],
    ["lock"],
    ["check"],
    ["doctor"],
    ["issue"],
]


@pytest.mark.parametrize("command", HELP, ids=lambda c: " ".join(c) or "top")
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([*command, "--help"]) == 0
    assert "usage: variomedia-dns" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["records"],
        ["records", "add", "x.example.test", "TXT"],
        ["records", "add", "x.example.test", "BOGUS", "v"],
        ["records", "add", "x.example.test", "TXT", "v", "--ttl", "30"],
        ["lock", "maybe", "example.test"],
        ["check"],
        ["issue", "-d", "example.test"],
        ["issue", "--out", "x", "--staging", "--server", "https://ca.test/dir"],
        ["doctor", "-v", "-q"],
    ],
    ids=lambda a: " ".join(a) or "nothing",
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    assert "error:" in capsys.readouterr().err
