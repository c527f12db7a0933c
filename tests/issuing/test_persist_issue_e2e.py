"""`obtain_certificate` with dns-persist-01, for real: acme2certifier validates the records the
simulator's name servers publish (on port 53, as it asks nowhere else).

The proof of the issue's promise: once the record stands, issuing and renewing make no
Variomedia request and need no credentials.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from persist_stage import account_of, persist_sandbox

from certbot_dns_variomedia.core.settings import Settings
from certbot_dns_variomedia.core.state import StateFile
from certbot_dns_variomedia.credentials import VariomediaCredentials, load_variomedia_credentials
from certbot_dns_variomedia.errors import ConfigurationError
from certbot_dns_variomedia.issue import CertificateError, IssuedCertificate, obtain_certificate
from certbot_dns_variomedia.issuing.keys import generate_key, key_to_pem
from certbot_dns_variomedia.resolver import parse_nameservers
from certbot_dns_variomedia.testing.acme.acme2certifier import DEFAULT_ISSUER, Acme2Certifier
from certbot_dns_variomedia.testing.demo.persist_sandbox import PersistSandbox

pytestmark = pytest.mark.e2e

NAMES = ["example.test", "*.example.test", "www.other.test"]


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PersistSandbox]:
    with persist_sandbox(tmp_path_factory.mktemp("persist")) as stage:
        yield stage


@pytest.fixture
def cache(box: PersistSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VARIOMEDIA_DNS_CACHE_DIR", str(box.cache_dir))  # the pacing ledger


def issue(
    box: PersistSandbox,
    tmp_path: Path,
    account_key: bytes,
    names: list[str],
    *,
    challenge: str = "dns-persist-01",
    credentials: VariomediaCredentials | None = None,
    ca: Acme2Certifier | None = None,
) -> IssuedCertificate:
    ca = ca or box.ca
    return obtain_certificate(
        names,
        credentials=credentials,
        challenge=challenge,  # type: ignore[arg-type]
        directory_url=ca.directory_url,
        account_key=account_key,
        ca_bundle=str(ca.ca_bundle),
        state_file=StateFile(tmp_path / "state.json"),
        settings=Settings(
            nameservers=tuple(parse_nameservers(box.nameservers_option)), propagation_timeout=30
        ),
        acme_timeout=30,
    )


def persist_records(box: PersistSandbox, account_uri: str) -> dict[str, str]:
    """name → value of the live _validation-persist records of one account."""
    return {
        r.fqdn_ace: r.data
        for r in box.sim.records()
        if not r.deleted
        and r.fqdn_ace.startswith("_validation-persist.")
        and f"accounturi={account_uri}" in r.data
    }


def signed_by(cert: IssuedCertificate, ca: Acme2Certifier) -> bool:
    leaf = x509.load_pem_x509_certificate(cert.cert_pem)
    issuer = x509.load_pem_x509_certificate(ca.issuer_pem.encode())
    leaf.verify_directly_issued_by(issuer)
    return True


def test_the_record_is_set_once_then_renewals_make_no_api_request(
    box: PersistSandbox, tmp_path: Path, cache: None
) -> None:
    key = key_to_pem(generate_key())
    uri = account_of(box.ca, key)
    credentials = load_variomedia_credentials(box.credentials)
    before = box.sim.counters.total

    first = issue(box, tmp_path, key, NAMES, credentials=credentials)
    written = box.sim.counters.total - before
    records = persist_records(box, uri)

    assert sorted(first.names) == sorted(NAMES)
    assert signed_by(first, box.ca)
    assert written > 0
    assert records == {
        "_validation-persist.example.test": f"{DEFAULT_ISSUER}; accounturi={uri}; policy=wildcard",
        "_validation-persist.www.other.test": f"{DEFAULT_ISSUER}; accounturi={uri}",
    }
    assert all(d.update_lock for d in box.sim.domains() if d.name in ("example.test", "other.test"))

    renewals = [
        issue(box, tmp_path, key, NAMES),
        issue(box, tmp_path, key, NAMES, challenge="auto"),
    ]

    assert box.sim.counters.total - before == written  # renewals: no request at all
    assert [sorted(c.names) for c in renewals] == [sorted(NAMES)] * 2
    assert len({c.cert_pem for c in [first, *renewals]}) == 3  # three certificates, one record
    assert persist_records(box, uri) == records


def test_auto_answers_dns_01_where_no_record_stands(
    box: PersistSandbox, tmp_path: Path, cache: None
) -> None:
    key = key_to_pem(generate_key())
    uri = account_of(box.ca, key)
    box.sim.add_record(
        "example.test", "_validation-persist.www", "TXT", f"{DEFAULT_ISSUER}; accounturi={uri}"
    )
    before = {r.id for r in box.sim.records()}

    cert = issue(
        box,
        tmp_path,
        key,
        ["www.example.test", "mail.other.test"],
        challenge="auto",
        credentials=load_variomedia_credentials(box.credentials),
    )
    new = [r for r in box.sim.records() if r.id not in before]

    assert sorted(cert.names) == ["mail.other.test", "www.example.test"]
    assert [r.fqdn_ace for r in new] == ["_acme-challenge.mail.other.test"]
    assert all(r.deleted for r in new)  # the dns-01 record is removed again
    assert "_validation-persist.mail.other.test" not in persist_records(box, uri)


def test_a_wildcard_without_policy_is_reported_before_the_order(
    box: PersistSandbox, tmp_path: Path
) -> None:
    key = key_to_pem(generate_key())
    uri = account_of(box.ca, key)
    box.sim.add_record(
        "example.test", "_validation-persist.nowild", "TXT", f"{DEFAULT_ISSUER}; accounturi={uri}"
    )
    orders = box.ca.log_tail(100_000).count("neworders")

    with pytest.raises(ConfigurationError) as caught:
        issue(box, tmp_path, key, ["nowild.example.test", "*.nowild.example.test"])

    assert "*.nowild.example.test: it lacks policy=wildcard" in str(caught.value)
    assert "persist set -d nowild.example.test --policy wildcard --replace" in str(caught.value)
    assert box.ca.log_tail(100_000).count("neworders") == orders  # nothing was ordered


def test_a_refusal_without_a_reason_ends_the_order_at_once(
    box: PersistSandbox, tmp_path: Path
) -> None:
    # This CA refuses every wildcard by dns-persist-01 (its policy), and says no more than
    # "invalid": acme's own polling would wait for the whole acme_timeout.
    strict = Acme2Certifier(
        tmp_path / "strict", dns_servers=[box.sim.dns_servers[-1].address], persist_wildcard=False
    )
    with strict:
        key = key_to_pem(generate_key())
        uri = account_of(strict, key)
        box.sim.add_record(
            "example.test",
            "_validation-persist.strict",
            "TXT",
            f"{DEFAULT_ISSUER}; accounturi={uri}; policy=wildcard",
        )
        started = time.monotonic()
        with pytest.raises(CertificateError) as caught:
            issue(box, tmp_path, key, ["*.strict.example.test"], ca=strict)
        elapsed = time.monotonic() - started

    assert str(caught.value).startswith(
        "The CA refused the dns-persist-01 record of *.strict.example.test without giving a "
        "reason. Check what every name server shows: variomedia-dns persist check"
    )
    assert elapsed < 25  # not the 30 s acme_timeout (a busy machine takes seconds, not 30)
    assert "wildcard" in strict.log_tail(400)  # the reason is only in the CA's log
