"""Old TLS versions against real STARTTLS servers that accept or refuse them, and the versions
this machine's OpenSSL cannot offer at all (reported as not tested, never guessed)."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pytest

from certbot_dns_variomedia.controlpanel.old_versions import offered_locally, probe_old_versions
from certbot_dns_variomedia.testing.acme.certs import CertificateAuthority
from certbot_dns_variomedia.testing.servers.smtp import accepts_old_versions

from .conftest import MX, Servers, World, leaf, reasons, run_main

OLD_VERSIONS_HERE = accepts_old_versions() or offered_locally(ssl.TLSVersion.TLSv1)


@pytest.mark.skipif(
    OLD_VERSIONS_HERE is not None,
    reason=f"skipped: a server accepting TLS 1.0/1.1 cannot run here: {OLD_VERSIONS_HERE}",
)
def test_a_server_that_still_accepts_tls_1_0_and_1_1(
    ca: CertificateAuthority, servers: Servers, tmp_path: Path
) -> None:
    server = servers.smtp(
        leaf(ca, tmp_path, [MX]), versions=(ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_3)
    )
    found = probe_old_versions("smtp", MX, "127.0.0.1", server.port, timeout=5)
    assert [(o.version, o.outcome) for o in found] == [
        ("TLSv1", "accepted"),
        ("TLSv1.1", "accepted"),
    ]
    assert all(o.detail for o in found)  # the cipher each one got


@pytest.mark.skipif(
    offered_locally(ssl.TLSVersion.TLSv1) is not None,
    reason=f"skipped: this client cannot offer TLS 1.0: {offered_locally(ssl.TLSVersion.TLSv1)}",
)
def test_a_server_that_refuses_them(
    ca: CertificateAuthority, servers: Servers, tmp_path: Path
) -> None:
    server = servers.smtp(leaf(ca, tmp_path, [MX]))  # OpenSSL's defaults: TLS 1.2 and up
    found = probe_old_versions("smtp", MX, "127.0.0.1", server.port, timeout=5)
    assert [(o.version, o.outcome) for o in found] == [
        ("TLSv1", "refused"),
        ("TLSv1.1", "refused"),
    ]


@pytest.mark.skipif(
    offered_locally(ssl.TLSVersion.SSLv3) is None,
    reason="skipped: this OpenSSL still offers SSLv3, so there is no version it cannot offer",
)
def test_a_version_this_openssl_cannot_offer_is_not_tested(
    ca: CertificateAuthority, servers: Servers, tmp_path: Path
) -> None:
    server = servers.smtp(leaf(ca, tmp_path, [MX]))
    connections = server.connections
    (found,) = probe_old_versions(
        "smtp", MX, "127.0.0.1", server.port, timeout=5, versions=(ssl.TLSVersion.SSLv3,)
    )
    assert (found.version, found.outcome) == ("SSLv3", "not tested")
    assert found.detail.startswith("this machine's OpenSSL (OpenSSL ")
    assert "cannot offer SSLv3" in found.detail
    assert server.connections == connections  # decided here, without asking the server


def test_an_unreachable_server_is_not_tested() -> None:
    found = probe_old_versions("smtp", MX, "127.0.0.1", 9, timeout=2)
    assert {o.outcome for o in found} == {"not tested"}
    assert all("cannot" in o.detail for o in found)


@pytest.mark.skipif(
    OLD_VERSIONS_HERE is not None,
    reason=f"skipped: a server accepting TLS 1.0/1.1 cannot run here: {OLD_VERSIONS_HERE}",
)
def test_a_gateway_that_still_accepts_tls_1_0_is_a_warning(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.smtp_port = world.servers.smtp(
        world.leaf([MX]), versions=(ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_3)
    ).port
    status, out, _ = run_main(world.argv("--json", control_panel=False), capsys)
    doc = json.loads(out)
    assert status == 1, reasons(doc)
    assert f"warning: {MX} 127.0.0.1:{world.smtp_port}: still accepts TLSv1 (cipher " in (
        " ".join(reasons(doc))
    )
    probe = doc["gateways"][0]["probes"][0]
    assert [(o["version"], o["outcome"]) for o in probe["old_versions"]] == [
        ("TLSv1", "accepted"),
        ("TLSv1.1", "accepted"),
    ]
    assert probe["tls_version"] == "TLSv1.3"  # the best is still what a modern sender gets
