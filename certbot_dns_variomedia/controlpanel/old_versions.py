"""Does a gateway still accept TLS 1.0 or 1.1? One handshake each, offering only that version.

The main probe reports the version negotiated, which is the best both sides have; an old
sender may get less. Many OpenSSL builds can no longer offer TLS 1.0/1.1 at all (compiled out,
or refused at the default security level). This machine's own ability is checked first,
without the network, so that a version it cannot offer is reported as "not tested" rather than
as refused by the server.
"""

from __future__ import annotations

import functools
import socket
import ssl
import warnings
from collections.abc import Sequence

from .starttls import ProbeError, quit_smtp
from .tls import (
    DEFAULT_TIMEOUT,
    Kind,
    NoConnection,
    OldVersion,
    Session,
    failure_reason,
    open_tls,
    probing_context,
)

__all__ = ["OLD_VERSIONS", "offered_locally", "probe_old_versions"]

OLD_VERSIONS: tuple[ssl.TLSVersion, ...] = (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)
"""What is probed: the versions RFC 8996 deprecated."""

_NAMES = {
    ssl.TLSVersion.SSLv3: "SSLv3",
    ssl.TLSVersion.TLSv1: "TLSv1",
    ssl.TLSVersion.TLSv1_1: "TLSv1.1",
}


def _context(version: ssl.TLSVersion) -> ssl.SSLContext:
    """The probe's unverifying client (it sends nothing), offering only ``version`` with every
    cipher OpenSSL still has for it."""
    context = probing_context()
    with warnings.catch_warnings():
        # Offering a deprecated version is the point of this probe.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = version
        context.maximum_version = version
    try:
        context.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:  # a build without security levels
        context.set_ciphers("ALL")
    return context


@functools.cache
def offered_locally(version: ssl.TLSVersion) -> str | None:
    """``None`` when this machine's OpenSSL can send a hello for ``version``; else why not."""
    name = _NAMES.get(version, version.name)
    try:
        context = _context(version)
        client = context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="x.invalid")
        client.do_handshake()
    except ssl.SSLWantReadError:
        return None  # the hello went out; now it would wait for the server
    except (ssl.SSLError, ValueError) as error:
        return f"this machine's OpenSSL ({ssl.OPENSSL_VERSION}) cannot offer {name} ({error})"
    return None


def _try(
    kind: Kind,
    version: ssl.TLSVersion,
    *,
    host: str,
    address: str,
    port: int,
    timeout: float,
    ehlo_name: str,
) -> OldVersion:
    name = _NAMES.get(version, version.name)
    why_not = offered_locally(version)
    if why_not is not None:
        return OldVersion(name, "not tested", why_not)
    try:
        tls = open_tls(
            kind,
            address=address,
            port=port,
            host=host,
            context=_context(version),
            timeout=timeout,
            ehlo_name=ehlo_name,
            session=Session(),
        )
    except ssl.SSLError as error:
        return OldVersion(name, "refused", failure_reason(error))
    except NoConnection as error:
        return OldVersion(name, "not tested", f"cannot connect: {error}")
    except (OSError, ProbeError) as error:
        return OldVersion(name, "not tested", failure_reason(error))
    if tls is None:
        return OldVersion(name, "not tested", "the server did not offer STARTTLS this time")
    try:
        cipher = tls.cipher()
        if kind == "smtp":
            quit_smtp(tls)
    finally:
        tls.close()
    return OldVersion(name, "accepted", cipher[0] if cipher else "")


def probe_old_versions(
    kind: Kind,
    host: str,
    address: str,
    port: int,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    ehlo_name: str | None = None,
    versions: Sequence[ssl.TLSVersion] = OLD_VERSIONS,
) -> tuple[OldVersion, ...]:
    """One handshake per old version; never raises for network or TLS trouble."""
    name = ehlo_name or socket.gethostname() or "cp-audit.invalid"
    return tuple(
        _try(
            kind,
            version,
            host=host,
            address=address,
            port=port,
            timeout=timeout,
            ehlo_name=name,
        )
        for version in versions
    )
