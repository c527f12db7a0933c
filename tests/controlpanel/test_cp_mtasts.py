"""MTA-STS as senders enforce it (RFC 8461): the policy fetched over verified HTTPS from the
loopback policy host, parsed, held against the MX hosts, its id against an earlier report."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certbot_dns_variomedia.controlpanel.mtasts import (
    covered_by,
    fetch_policy,
    parse_policy,
    policy_seen,
    sts_id,
)
from certbot_dns_variomedia.testing.acme.certs import CertificateAuthority

from .conftest import MTA_STS, MX, World, leaf, reasons, run_main

ENFORCE = "version: STSv1\r\nmode: enforce\r\nmx: {mx}\r\nmax_age: 604800\r\n"


def _audit(
    world: World, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, Any]]:
    world.gateway(world.leaf([MX]))
    status, out, _ = run_main(world.argv("--json", *extra, control_panel=False), capsys)
    return status, json.loads(out)


# -- the pieces ---------------------------------------------------------------------------------


def test_a_policy_is_read_as_rfc_8461_writes_it() -> None:
    policy = parse_policy(
        b"version: STSv1\nmode: testing\nmx: MX1.example.test.\nmx: *.b.test\n"
        b"max_age: 86400\nfuture_key: kept quiet\n"
    )
    assert (policy.version, policy.mode, policy.max_age) == ("STSv1", "testing", 86400)
    assert policy.mx == ("mx1.example.test", "*.b.test")
    assert policy.valid
    assert covered_by(policy, "mx1.example.test")
    assert covered_by(policy, "mail.b.test")
    assert not covered_by(policy, "b.test")  # a wildcard stands for exactly one label
    assert not covered_by(policy, "a.mail.b.test")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"mode: enforce\nmx: a.test\nmax_age: 1\n", "no version"),
        (b"version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n", "version is 'STSv2'"),
        (b"version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n", "mode is 'strict'"),
        (b"version: STSv1\nmode: enforce\nmax_age: 1\n", "no mx line"),
        (b"version: STSv1\nmode: enforce\nmx: a.test\nmax_age: soon\n", "max_age 'soon' is not"),
        (b"version: STSv1\nmode: none\nmax_age: 1\nmode: enforce\n", "mode is given twice"),
        (b"<html>not a policy</html>\n", "line 1 is not 'key: value'"),
    ],
)
def test_what_senders_reject_is_listed(body: bytes, problem: str) -> None:
    policy = parse_policy(body)
    assert not policy.valid
    assert any(problem in p for p in policy.problems), policy.problems


def test_the_id_of_the_txt_record() -> None:
    assert sts_id("v=STSv1; id=2024-05-01") is None  # letters and digits only
    assert sts_id("v=STSv1; id=20240501") == "20240501"
    assert sts_id("v=STSv1;id=abc;") == "abc"
    assert sts_id("v=STSv1;") is None
    assert sts_id("v=STSv1; id=" + "a" * 33) is None


def test_an_earlier_report_must_be_one() -> None:
    with pytest.raises(ValueError, match=r"old\.json is not a cp-audit --json document"):
        policy_seen({"schema": "other"}, "old.json")
    seen = policy_seen({"schema": "cp-audit/1", "policies": []}, "old.json")
    assert (seen.id, seen.sha256) == (None, None)


@pytest.fixture
def dripping(ca: CertificateAuthority, tmp_path: Path) -> Iterator[int]:
    """An HTTPS policy host that sends its answer one byte every 0.3 s; its port."""
    cert = leaf(ca, tmp_path, [MTA_STS])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert.fullchain_path), str(cert.key_path))
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)

    def drip() -> None:
        with (
            contextlib.suppress(OSError),
            context.wrap_socket(listener.accept()[0], server_side=True) as tls,
        ):
            tls.recv(4096)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n")
            tls.sendall(b"Content-Length: 1000\r\n\r\n")
            while not stop.wait(0.3):
                tls.sendall(b"v")

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


def test_a_policy_host_that_drips_is_cut_off(ca: CertificateAuthority, dripping: int) -> None:
    started = time.monotonic()
    fetched = fetch_policy(
        "example.test", ["127.0.0.1"], port=dripping, ca_bundle=str(ca.cert_path), timeout=1.0
    )
    assert time.monotonic() - started < 4.5  # three times the timeout, and no more
    assert fetched.policy is None
    assert (
        fetched.error
        == f"{MTA_STS} (127.0.0.1) answered no policy: it took more than 3 s to answer"
    )


# -- through the audit --------------------------------------------------------------------------


def test_a_policy_that_covers_every_mx_is_fine(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.mta_sts(ENFORCE.format(mx="*.example.test"))
    status, doc = _audit(world, capsys)
    assert status == 0, reasons(doc)
    policy = doc["policies"]["mta_sts"]["policy"]
    assert policy["url"] == f"https://{MTA_STS}:{world.https_port}/.well-known/mta-sts.txt"
    assert (policy["mode"], policy["mx"], policy["problems"]) == ("enforce", ["*.example.test"], [])


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("enforce", (2, "critical", "senders that enforce the policy will not deliver")),
        ("testing", (1, "warning", "in testing mode senders only report it")),
    ],
)
def test_an_mx_no_pattern_covers(
    world: World, capsys: pytest.CaptureFixture[str], mode: str, expected: tuple[int, str, str]
) -> None:
    status, severity, consequence = expected
    world.mta_sts(ENFORCE.format(mx="*.other.test").replace("enforce", mode))
    found, doc = _audit(world, capsys)
    assert found == status, reasons(doc)
    assert (
        f"{severity}: {MX}: no mx pattern of the MTA-STS policy covers it (*.other.test): "
        f"{consequence}"
    ) in " ".join(reasons(doc))


@pytest.mark.parametrize(
    ("served", "reason"),
    [
        ({"policy": None}, "answered no policy: HTTP 404"),
        ({"policy": "x", "status": 302}, "answered no policy: HTTP 302"),
        ({"policy": ENFORCE.format(mx=MX), "kind": "text/html"}, "served as text/html, not text"),
        ({"policy": "mode: enforce\n"}, "is not a valid policy (no version; no mx line; no max"),
        (
            {"policy": ENFORCE.format(mx=MX).replace("604800", "40000000")},
            "max_age 40000000 is beyond RFC 8461's limit of 31557600 s",
        ),
        (
            {"policy": ENFORCE.format(mx=MX), "record": "v=STSv1"},
            "'v=STSv1' has no valid id (1 to 32 letters",
        ),
    ],
)
def test_what_makes_senders_ignore_the_policy(
    world: World,
    capsys: pytest.CaptureFixture[str],
    served: dict[str, Any],
    reason: str,
) -> None:
    world.mta_sts(**served)
    status, doc = _audit(world, capsys)
    assert status == 1, reasons(doc)
    assert any(reason in r for r in reasons(doc)), reasons(doc)


def test_two_txt_records_are_no_policy(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.mta_sts(ENFORCE.format(mx=MX))
    world.zones.add("_mta-sts.example.test", "TXT", '"v=STSv1; id=2"')
    status, doc = _audit(world, capsys)
    assert status == 1
    assert any(
        "2 v=STSv1 records: senders treat the domain as having no" in r for r in reasons(doc)
    )


def test_a_broken_certificate_on_the_policy_host(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Senders cannot fetch the policy and deliver without it: warnings, not criticals."""
    world.mta_sts(ENFORCE.format(mx=MX), cert=world.leaf(["www.example.test"]))
    status, doc = _audit(world, capsys)
    said = " ".join(reasons(doc))
    assert status == 1, said
    assert f"warning: {MTA_STS} 127.0.0.1:{world.https_port}: certificate is not valid" in said
    assert f"the certificate of {MTA_STS} is not accepted (Hostname mismatch" in said


def test_a_changed_policy_under_the_same_id(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    world.mta_sts(ENFORCE.format(mx=MX))
    status, doc = _audit(world, capsys)
    assert status == 0, reasons(doc)
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps(doc))
    status, doc = _audit(world, capsys, "--previous-report", str(earlier))
    assert status == 0, reasons(doc)  # the same policy: nothing to say
    assert world.https is not None
    world.https.pages["/.well-known/mta-sts.txt"] = (
        200,
        "text/plain",
        ENFORCE.format(mx="*.example.test").encode(),
    )
    status, doc = _audit(world, capsys, "--previous-report", str(earlier))
    assert status == 1
    assert (
        f"warning: _mta-sts.example.test: the policy changed since the report of "
        f"{json.loads(earlier.read_text())['generated_at']}, but the id is still '20240501'"
    ) in " ".join(reasons(doc))


def test_a_previous_report_that_is_not_one_exits_3(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    status, out, err = run_main(
        world.argv("--previous-report", str(bad), control_panel=False), capsys
    )
    assert (status, out) == (3, "")
    assert f"Cannot use {bad} as --previous-report" in err
