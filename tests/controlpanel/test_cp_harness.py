"""The shipped harness from the command line: the simulator's ``python -m`` and the demo, and
the simulator serving HTTPS so the Control Panel host's certificate is audited too."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certbot_dns_variomedia.controlpanel.cli import main
from certbot_dns_variomedia.controlpanel.client import ControlPanelClient
from certbot_dns_variomedia.controlpanel.credentials import load_controlpanel_credentials
from certbot_dns_variomedia.testing.acme.certs import CertificateAuthority
from certbot_dns_variomedia.testing.controlpanel.simulator import (
    ControlPanelSimConfig,
    ControlPanelSimulator,
)
from certbot_dns_variomedia.testing.demo.cp_audit_demo import main as cp_audit_demo
from certbot_dns_variomedia.testing.servers.dns import DNSServer
from certbot_dns_variomedia.testing.servers.smtp import accepts_old_versions

from .conftest import leaf


@pytest.fixture
def sim_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    credentials = tmp_path / "sim.ini"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "certbot_dns_variomedia.testing.controlpanel",
            "--write-credentials",
            str(credentials),
            "--emails",
            "10",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process, credentials
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def test_simulator_from_the_command_line(
    sim_process: tuple[subprocess.Popen[str], Path],
) -> None:
    process, credentials = sim_process
    assert process.stdout is not None
    first = process.stdout.readline()  # blocks until the simulator is listening
    assert first.startswith("Control Panel simulator: http://127.0.0.1:")
    url = first.split(": ", 1)[1].strip()
    process.stdout.readline()  # domains
    assert process.stdout.readline().strip() == f"credentials: {credentials}"
    assert os.stat(credentials).st_mode & 0o077 == 0
    creds = load_controlpanel_credentials(credentials)
    assert creds.base_url == url
    with ControlPanelClient.from_credentials(creds, timeout=(2.0, 5.0)) as cp:
        cp.login(creds.username, creds.password)
        assert cp.version() == "6.17.0.0"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0


def test_demo_scenarios() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "certbot_dns_variomedia.testing.demo.cp_audit_demo",
            "--scenario",
            "critical",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    doc = json.loads(done.stdout)
    assert doc["verdict"]["label"] == "critical"
    assert any("expired" in r["message"] for r in doc["verdict"]["reasons"])


def test_the_sender_view_demo_shows_every_check_senders_make(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 15's closing note: one audit of the demo lab with a finding of every new check."""
    status = cp_audit_demo(["--scenario", "sender-view", "--json"])
    doc = json.loads(capsys.readouterr().out)
    said = [f"{f['severity']}: {f['subject']}: {f['message']}" for f in _findings(doc)]
    expected = [
        "critical: mx4.example.test: DNSSEC validation fails (bogus)",
        "critical: mx3.plain.test: no mx pattern of the MTA-STS policy covers it",
        "warning: _25._tcp.mx3.plain.test: DANE not effective",
        "critical: mx3.plain.test 127.0.0.3:",  # untrusted: the unsigned TLSA does not help
        "info: mx2.example.test 127.0.0.2:",  # DANE-TA
        "max_age 40000000 is beyond RFC 8461's limit",
        "the policy changed since the report of 2026-01-05T08:00:00Z, but the id is still",
        "warning: mta-sts.example.test 127.0.0.1:",  # its certificate expires in 10 days
        "TLSv1" if accepts_old_versions() is None else "TLSv1 not tested",
    ]
    for fragment in expected:
        assert any(fragment in line for line in said), (fragment, said)
    assert any("DANE-TA, DNSSEC-validated" in line for line in said)
    assert status == 2
    probe = doc["gateways"][0]["probes"][0]
    assert probe["cipher"]
    assert [o["version"] for o in probe["old_versions"]] == ["TLSv1", "TLSv1.1"]
    assert {g["dnssec"]["zone"]["state"] for g in doc["gateways"]} == {"secure", "insecure"}


def test_the_broken_mta_sts_and_missing_domain_demos(capsys: pytest.CaptureFixture[str]) -> None:
    assert cp_audit_demo(["--scenario", "mta-sts-broken"]) == 1
    out = capsys.readouterr().out
    assert "2 v=STSv1 records" in out
    assert "'v=STSv1;' has no valid id" in out
    assert "the certificate of mta-sts.example.test is not accepted (Hostname mismatch" in out
    assert cp_audit_demo(["--scenario", "no-such-domain"]) == 3
    assert "does not exist in DNS" in capsys.readouterr().err


def _findings(doc: dict[str, Any]) -> list[dict[str, str]]:
    return [*doc["verdict"]["reasons"], *doc["verdict"]["notes"]]


def test_control_panel_over_https_is_audited(
    ca: CertificateAuthority,
    dns_server: DNSServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cert = leaf(ca, tmp_path, ["localhost", "127.0.0.1"], days=10)
    config = ControlPanelSimConfig(
        certfile=str(cert.fullchain_path),
        keyfile=str(cert.key_path),
        control_panel_host="127.0.0.1",
    )
    with ControlPanelSimulator(config) as sim:
        assert sim.url.startswith("https://127.0.0.1:")
        credentials = sim.write_credentials(tmp_path / "cp.ini")
        status = main(
            [
                "--domain",
                "example.test",
                "--credentials",
                str(credentials),
                "--dns-server",
                f"127.0.0.1:{dns_server.port}",  # empty zones: no gateway to probe here
                "--timeout",
                "5",
                "--ca-bundle",
                str(ca.cert_path),
                "--json",
            ]
        )
    doc = json.loads(capsys.readouterr().out)
    (site,) = doc["https"]
    assert site["role"] == "control_panel"
    (probe,) = site["probes"]
    assert probe["trusted"] is True
    assert probe["name_matches"] is True
    assert 9 < probe["certificate"]["days_left"] <= 10
    assert doc["mail_flow"]["total"] == 120
    assert status == 1  # expiring within --warn-days; the gateway has no address
    assert any("within --warn-days" in r["message"] for r in doc["verdict"]["reasons"])
