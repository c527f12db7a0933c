"""Certificate files and the ACME account key on disk: content, modes, no half-written files."""

from __future__ import annotations

import datetime
import errno
import logging
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certbot_dns_variomedia.cli import fileset
from certbot_dns_variomedia.cli.certfiles import (
    CERT_FILES,
    load_or_create_account_key,
    write_certificate_files,
)
from certbot_dns_variomedia.errors import ConfigurationError
from certbot_dns_variomedia.issuing.certificate import IssuedCertificate
from certbot_dns_variomedia.issuing.keys import generate_key, key_to_pem


def certificate(key: bytes | None = b"KEY\n") -> IssuedCertificate:
    return IssuedCertificate(
        names=("example.test",),
        cert_pem=b"CERT\n",
        chain_pem=b"CHAIN\n",
        fullchain_pem=b"CERT\nCHAIN\n",
        not_after=datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc),
        private_key_pem=key,
    )


def shown(out: Path) -> dict[str, bytes]:
    """What a reader of `out` sees under each name."""
    return {name: (out / name).read_bytes() for name in CERT_FILES if (out / name).exists()}


def test_certificate_files_have_their_content_and_modes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = write_certificate_files(certificate(), out)
    assert sorted(files) == ["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"]
    assert (out / "fullchain.pem").read_bytes() == b"CERT\nCHAIN\n"
    assert stat.S_IMODE((out / "privkey.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "cert.pem").stat().st_mode) == 0o644
    assert sorted(p.name for p in out.iterdir()) == sorted([*files, ".sets", "current"])
    assert not [p for p in out.rglob("*") if p.name.endswith((".tmp", ".link"))]
    # With a CSR there is no key to write, and the one shown before is still shown.
    assert "privkey.pem" not in write_certificate_files(certificate(key=None), out)
    assert (out / "privkey.pem").read_bytes() == b"KEY\n"


def test_a_failed_write_leaves_the_old_files_and_no_temporary_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write_certificate_files(certificate(b"OLD KEY\n"), out)
    before = shown(out)
    sets = sorted((out / ".sets").iterdir())
    real = fileset.write_temp
    calls = []

    def disk_full(directory: Path, name: str, data: bytes, mode: int) -> Path:
        calls.append(name)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(directory, name, data, mode)

    monkeypatch.setattr(fileset, "write_temp", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_certificate_files(certificate(b"NEW KEY\n"), out)
    assert shown(out) == before
    assert sorted((out / ".sets").iterdir()) == sets  # the half-written set is gone


def test_a_directory_in_the_way_is_found_before_anything_is_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_certificate_files(certificate(b"OLD KEY\n"), out)
    (out / "fullchain.pem").unlink()
    (out / "fullchain.pem").mkdir()
    with pytest.raises(IsADirectoryError):
        write_certificate_files(certificate(b"NEW KEY\n"), out)
    assert (out / "privkey.pem").read_bytes() == b"OLD KEY\n"


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


def test_an_account_key_planted_as_a_symlink_is_refused(tmp_path: Path) -> None:
    """The key of someone else's account (or any file root can read) is not used as ours."""
    other = tmp_path / "someone-elses-key.pem"
    other.write_bytes(key_to_pem(generate_key("ecdsa")))
    path = tmp_path / "accounts" / "ca" / "account-key.pem"
    path.parent.mkdir(parents=True)
    path.symlink_to(other)
    with pytest.raises(
        ConfigurationError,
        match=r"The ACME account key .*account-key\.pem is not used: .* is a symbolic link",
    ):
        load_or_create_account_key(path)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand a directory to another user")
def test_an_account_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts"
    accounts.mkdir()
    os.chown(accounts, 4242, 4242)
    with pytest.raises(ConfigurationError, match="accounts belongs to uid 4242, and only root"):
        load_or_create_account_key(accounts / "ca" / "account-key.pem")
    assert list(accounts.iterdir()) == []
