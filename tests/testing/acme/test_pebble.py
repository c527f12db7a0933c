"""The Pebble runner, proven with a real Pebble from Debian."""

from __future__ import annotations

import datetime
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from acme import challenges, messages
from acme import client as acme_client
from acme.crypto_util import make_csr
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.jwa import ES256
from josepy.jwk import JWKEC

from certbot_dns_variomedia.testing.acme import pebble as pebble_module
from certbot_dns_variomedia.testing.acme.pebble import Pebble, PebbleError
from certbot_dns_variomedia.testing.servers.dns import DNSServer, StaticZones
from certbot_dns_variomedia.testing.servers.service import free_port

needs_pebble = pytest.mark.skipif(
    not os.access(pebble_module.DEFAULT_BINARY, os.X_OK), reason="Debian's pebble is not installed"
)


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    server = Pebble(tmp_path_factory.mktemp("pebble"), dns_server="127.0.0.1:5353")
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _plain_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no REQUESTS_CA_BUNDLE or proxies from the environment
    return session


@needs_pebble
def test_directory_is_served_over_https_verified_by_ca_bundle(pebble: Pebble) -> None:
    with _plain_session() as session:
        response = session.get(pebble.directory_url, verify=str(pebble.ca_bundle), timeout=5)
        assert response.status_code == 200
        directory = response.json()
        assert directory["newAccount"].startswith(f"https://127.0.0.1:{pebble.acme_port}/")
        assert pebble.directory_url.startswith("https://127.0.0.1:")

        with pytest.raises(requests.exceptions.SSLError):
            session.get(pebble.directory_url, verify=True, timeout=5)


@needs_pebble
def test_acme_account_can_be_registered(pebble: Pebble, monkeypatch: pytest.MonkeyPatch) -> None:
    # The way certbot trusts Pebble: REQUESTS_CA_BUNDLE.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pebble.ca_bundle))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    key = JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    net = acme_client.ClientNetwork(key, alg=ES256, user_agent="certbot-dns-variomedia-tests")
    directory = acme_client.ClientV2.get_directory(pebble.directory_url, net)
    client = acme_client.ClientV2(directory, net)

    account = client.new_account(
        messages.NewRegistration.from_data(email="admin@example.org", terms_of_service_agreed=True)
    )

    assert account.uri is not None
    assert account.uri.startswith(f"https://127.0.0.1:{pebble.acme_port}/")
    assert account.body.status == "valid"
    assert account.body.contact == ("mailto:admin@example.org",)


@needs_pebble
def test_dns01_is_validated_through_the_given_dns_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pebble's validation authority asks the server passed as dns_server, and issues."""
    zones = StaticZones()
    zones.add_zone("example.test")
    with (
        DNSServer(zones) as dns_server,
        Pebble(tmp_path / "pebble", dns_server=f"127.0.0.1:{dns_server.port}") as server,
    ):
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_bundle))
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        key = JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
        net = acme_client.ClientNetwork(key, alg=ES256, user_agent="certbot-dns-variomedia-tests")
        client = acme_client.ClientV2(
            acme_client.ClientV2.get_directory(server.directory_url, net), net
        )
        client.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        csr = make_csr(
            leaf_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            ["example.test", "*.example.test"],
        )
        order = client.new_order(csr)
        for authz in order.authorizations:
            challb = next(c for c in authz.body.challenges if isinstance(c.chall, challenges.DNS01))
            response, validation = challb.chall.response_and_validation(key)
            zones.add("_acme-challenge.example.test", "TXT", f'"{validation}"')
            client.answer_challenge(challb, response)
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=30)
        final = client.poll_and_finalize(order, deadline=deadline)
        root = x509.load_pem_x509_certificate(server.root_pem().encode())

    assert dns_server.queries >= 2  # one validation per authorization, asked of our server
    assert final.fullchain_pem is not None
    chain = x509.load_pem_x509_certificates(final.fullchain_pem.encode())
    sans = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(sans.get_values_for_type(x509.DNSName)) == ["*.example.test", "example.test"]
    chain[-1].verify_directly_issued_by(root)


@needs_pebble
def test_management_api_returns_the_issuing_root_and_intermediate(pebble: Pebble) -> None:
    root = x509.load_pem_x509_certificate(pebble.root_pem().encode())
    intermediate = x509.load_pem_x509_certificate(pebble.intermediate_pem().encode())

    assert root.issuer == root.subject
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    intermediate.verify_directly_issued_by(root)
    # Pebble's issuing root is not the certificate that serves its HTTPS.
    https_ca = x509.load_pem_x509_certificate(pebble.ca_bundle.read_bytes())
    assert root != https_ca


@needs_pebble
def test_configuration_reaches_pebble(tmp_path: Path) -> None:
    with Pebble(tmp_path, dns_server="127.0.0.1:5354", authz_reuse=50, nonce_reject=0) as server:
        config = server.config_path.read_text()
        log = server.log_tail(lines=100)
    assert f'"listenAddress": "127.0.0.1:{server.acme_port}"' in config
    assert f'"managementListenAddress": "127.0.0.1:{server.management_port}"' in config
    assert f'"httpPort": {server.http_port}' in config
    assert len({server.acme_port, server.management_port, server.http_port, server.tls_port}) == 4
    assert "custom DNS resolver for ACME challenges: 127.0.0.1:5354" in log
    assert "Disabling random VA sleeps" in log
    assert "reject 0% of good nonces" in log
    assert "authz reuse for each identifier 50% of the time" in log


@needs_pebble
def test_stop_ends_the_process_and_frees_the_port(tmp_path: Path) -> None:
    server = Pebble(tmp_path)
    try:
        server.start()
        pid = server.pid
        port = server.acme_port
        assert pid is not None
        assert port is not None
        was_running = server.running
    finally:
        server.stop()

    assert was_running
    assert not server.running
    assert server.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped, so the pid no longer exists
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with socket.socket() as sock:
        # SO_REUSEADDR as every server sets it (Pebble too): connections of the stopped process
        # may linger in TIME_WAIT, but nothing may still listen on the port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
    server.stop()  # idempotent


def test_start_failure_reports_the_log_tail(tmp_path: Path) -> None:
    fake = tmp_path / "fake-pebble"
    fake.write_text("#!/bin/sh\necho 'config: the certificate is missing' >&2\nexit 3\n")
    fake.chmod(0o755)
    server = Pebble(tmp_path / "work", binary=str(fake))

    with pytest.raises(PebbleError) as info:
        server.start()

    message = str(info.value)
    assert "exited with status 3" in message
    assert "config: the certificate is missing" in message
    assert not server.running


def test_missing_binary_is_reported(tmp_path: Path) -> None:
    with pytest.raises(PebbleError, match="install Debian's 'pebble' package"):
        Pebble(tmp_path, binary=str(tmp_path / "nope")).start()


def test_directory_that_never_answers_times_out(tmp_path: Path) -> None:
    """A process that runs but never serves HTTPS is stopped and reported, within the bound."""
    fake = tmp_path / "silent-pebble"
    fake.write_text("#!/bin/sh\necho 'waiting forever'\nexec sleep 60\n")
    fake.chmod(0o755)
    server = Pebble(tmp_path / "work", binary=str(fake), start_timeout=0.5)

    with pytest.raises(PebbleError, match=r"did not answer within 0.5 s") as info:
        server.start()

    assert "waiting forever" in str(info.value)
    assert not server.running


@needs_pebble
def test_lost_port_race_is_retried_with_new_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        real_free_port = free_port
        calls: list[int] = []

        def first_port_taken(host: str = "127.0.0.1", *, count: int = 1) -> list[int]:
            ports = real_free_port(host, count=count)
            if not calls:
                ports[0] = taken
            calls.append(count)
            return ports

        monkeypatch.setattr(pebble_module, "free_port", first_port_taken)
        with Pebble(tmp_path) as server:
            assert server.acme_port != taken
            assert len(calls) == 2
