"""The files ``variomedia-dns issue`` keeps: the certificate set and the ACME account key.

A web server that reloads while a file is half written, or finds a new certificate beside the
old key, is down. So the four files are one set, written whole and switched to with one rename
(`fileset`); a failure before that leaves the old set showing and no temporary files behind.
Private keys are created 0600 from the first byte, never chmod-ed afterwards.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from .. import safe_files
from ..errors import ConfigurationError
from ..issuing.certificate import IssuedCertificate
from ..issuing.keys import generate_key, key_to_pem
from .fileset import write_set, write_temp

logger = logging.getLogger(__name__)

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644
CERT_FILES = ("privkey.pem", "cert.pem", "chain.pem", "fullchain.pem")


def write_certificate_files(certificate: IssuedCertificate, directory: Path) -> dict[str, Path]:
    """privkey.pem (0600; only when the key was made here), cert.pem, chain.pem, fullchain.pem."""
    files: dict[str, tuple[bytes, int]] = {}
    if certificate.private_key_pem is not None:
        files["privkey.pem"] = (certificate.private_key_pem, PRIVATE_MODE)
    files["cert.pem"] = (certificate.cert_pem, PUBLIC_MODE)
    files["chain.pem"] = (certificate.chain_pem, PUBLIC_MODE)
    files["fullchain.pem"] = (certificate.fullchain_pem, PUBLIC_MODE)
    return write_set(directory, files, CERT_FILES)


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
    tmp = write_temp(directory, path.name, key_to_pem(generate_key("ecdsa")), PRIVATE_MODE)
    try:
        os.link(tmp, directory / path.name)
    except FileExistsError:
        pass  # another run created it first: use that one
    finally:
        os.unlink(tmp)
    logger.info("Created the ACME account key %s", path)
    return load_or_create_account_key(path)
