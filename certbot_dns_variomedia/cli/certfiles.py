"""The files ``variomedia-dns issue`` keeps: the certificate set and the ACME account key.

A web server that reloads while a file is half written, or finds a new certificate beside the
old key, is down. So every file is written whole to a temporary name, flushed to disk, and only
when all of them are complete are they renamed into place; a failure before that leaves the old
files untouched and no temporary files behind. Private keys are created 0600 from the first
byte, never chmod-ed afterwards.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import tempfile
from pathlib import Path

from .. import safe_files
from ..errors import ConfigurationError
from ..issuing.certificate import IssuedCertificate
from ..issuing.keys import generate_key, key_to_pem

logger = logging.getLogger(__name__)

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644
CERT_FILES = ("privkey.pem", "cert.pem", "chain.pem", "fullchain.pem")


def _write_temp(directory: Path, name: str, data: bytes, mode: int) -> Path:
    """`data` in a new file beside its final name, on disk (fsync) before this returns."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)  # mkstemp creates 0600: only ever loosened for public files
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_files(directory: Path, files: dict[str, tuple[bytes, int]]) -> dict[str, Path]:
    """Write every ``name: (data, mode)`` completely, then rename them all into place."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in files:  # a rename onto a directory would fail halfway through the set
        if (directory / name).is_dir():
            raise IsADirectoryError(
                errno.EISDIR, "a directory is in the way", str(directory / name)
            )
    written: list[tuple[Path, Path]] = []
    try:
        for name, (data, mode) in files.items():
            written.append((_write_temp(directory, name, data, mode), directory / name))
        for tmp, final in written:
            os.replace(tmp, final)
    except BaseException:
        for tmp, _ in written:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise
    _fsync_directory(directory)
    return {name: directory / name for name in files}


def write_certificate_files(certificate: IssuedCertificate, directory: Path) -> dict[str, Path]:
    """privkey.pem (0600; only when the key was made here), cert.pem, chain.pem, fullchain.pem."""
    files: dict[str, tuple[bytes, int]] = {}
    if certificate.private_key_pem is not None:
        files["privkey.pem"] = (certificate.private_key_pem, PRIVATE_MODE)
    files["cert.pem"] = (certificate.cert_pem, PUBLIC_MODE)
    files["chain.pem"] = (certificate.chain_pem, PUBLIC_MODE)
    files["fullchain.pem"] = (certificate.fullchain_pem, PUBLIC_MODE)
    return write_files(directory, files)


def load_or_create_account_key(path: Path) -> bytes:
    """The PEM account key at `path`; a new ECDSA P-256 key there (0600) if there is none.

    Created with a hard link from a complete temporary file, so two runs starting at once
    end up with the same key, never with a half-written or overwritten one. Used only where no
    other user can plant or change it (`safe_files`).
    """
    try:
        fd = safe_files.open_file(path, os.O_RDONLY)
    except FileNotFoundError:
        pass
    except safe_files.UnsafePathError as e:
        raise safe_files.refusal("ACME account key", path, e) from None
    except OSError as e:
        raise ConfigurationError(
            f"The ACME account key {path} cannot be read ({e.strerror}); run as its owner."
        ) from None
    else:
        with os.fdopen(fd, "rb") as f:
            mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
            data = f.read()
        if mode & 0o077:
            logger.warning(
                "The ACME account key %s can be read by other users (mode %04o); run: chmod 600 %s",
                path,
                mode,
                path,
            )
        return data
    try:
        directory = safe_files.safe_directory(path.parent, create=True)
    except safe_files.UnsafePathError as e:
        raise safe_files.refusal("ACME account key", path, e) from None
    tmp = _write_temp(directory, path.name, key_to_pem(generate_key("ecdsa")), PRIVATE_MODE)
    try:
        os.link(tmp, directory / path.name)
    except FileExistsError:
        pass  # another run created it first: use that one
    finally:
        os.unlink(tmp)
    logger.info("Created the ACME account key %s", path)
    return load_or_create_account_key(path)
