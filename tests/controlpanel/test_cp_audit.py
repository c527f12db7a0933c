"""cp-audit end to end: the real console script against the Control Panel simulator, a loopback
DNS server, STARTTLS and HTTPS servers with certificates made here, for each exit status."""

from __future__ import annotations

import hashlib
import json
import ssl
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from certbot_dns_variomedia.controlpanel.cli import main
from certbot_dns_variomedia.testing.acme.certs import CertificateAuthority, IssuedCert, self_signed
from certbot_dns_variomedia.testing.controlpanel.simulator import (
    ControlPanelSimConfig,
    ControlPanelSimulator,
)
from certbot_dns_variomedia.testing.servers.dns import DNSServer
from certbot_dns_variomedia.testing.servers.signed_zones import SignedZones

from .conftest import Servers, leaf
from .test_cp_old_versions import OLD_VERSIONS_HERE

CP_AUDIT = Path(sys.executable).with_name("cp-audit")
MX = "mx1.example.test"
WHITELABEL = "cp.brand.test"

TOP_LEVEL_KEYS = {
    "schema",
    "domain",
    "generated_at",
    "days",
    "thresholds",
    "verdict",
    "mx",
    "gateways",
    "policies",
    "https",
    "control_panel",
    "mail_flow",
    "dnssec",
}


@dataclass
class World:
    """Everything one audit talks to, all on loopback."""

    ca: CertificateAuthority
    zones: SignedZones
    dns: DNSServer
    sim: ControlPanelSimulator
    servers: Servers
    tmp_path: Path
    credentials: Path
    trust_anchor: Path
    smtp_port: int = 0
    https_port: int = 0

    def gateway(self, cert: IssuedCert | None) -> None:
        """Serve ``MX`` (the domain's only MX) with this certificate (None: no STARTTLS)."""
        self.smtp_port = self.servers.smtp(cert).port

    def whitelabel(self, cert: IssuedCert) -> None:
        """Give the domain a whitelabel host on loopback with this certificate."""
        self.https_port = self.servers.https(cert).port
        self.sim.whitelabel[self.sim.object_id("example.test")] = WHITELABEL

    def argv(self, *extra: str, domain: str = "example.test") -> list[str]:
        args = [
            "--domain",
            domain,
            "--credentials",
            str(self.credentials),
            "--dns-server",
            f"127.0.0.1:{self.dns.port}",
            "--ca-bundle",
            str(self.ca.cert_path),
            "--dnssec-anchors",
            str(self.trust_anchor),
            "--timeout",
            "5",
        ]
        if self.smtp_port:
            args += ["--smtp-port", str(self.smtp_port)]
        if self.https_port:
            args += ["--https-port", str(self.https_port)]
        return [*args, *extra]

    def leaf(
        self, names: Sequence[str], days: float = 90, filename: str | None = None
    ) -> IssuedCert:
        return leaf(self.ca, self.tmp_path, list(names), days=days, filename=filename)


@pytest.fixture
def world(
    ca: CertificateAuthority,
    zones: SignedZones,
    dns_server: DNSServer,
    servers: Servers,
    tmp_path: Path,
) -> Iterator[World]:
    zones.add("example.test", "MX", f"10 {MX}")
    zones.add(MX, "A", "127.0.0.1")
    zones.add(WHITELABEL, "A", "127.0.0.1")
    zones.add("_mta-sts.example.test", "TXT", '"v=STSv1; id=1"')
    zones.add("_smtp._tls.example.test", "TXT", '"v=TLSRPTv1; rua=mailto:tls@example.test"')
    sim = ControlPanelSimulator(ControlPanelSimConfig(control_panel_host="127.0.0.1", seed=5))
    sim.start()
    try:
        credentials = sim.write_credentials(tmp_path / "cp.ini")
        anchor = tmp_path / "anchors.txt"  # --dnssec-anchors: the DS of the signed zone test.
        anchor.write_text(zones.trust_anchor("test"))
        yield World(ca, zones, dns_server, sim, servers, tmp_path, credentials, anchor)
    finally:
        sim.stop()


def run_script(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it."""
    assert CP_AUDIT.exists(), f"{CP_AUDIT} missing: is the package installed (pip install -e .)?"
    return subprocess.run(
        [str(CP_AUDIT), *argv], capture_output=True, text=True, timeout=60, check=False
    )


def run_main(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``cp-audit`` in this process (faster, for the many finer cases)."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def _reasons(document: dict[str, Any]) -> list[str]:
    return [
        f"{r['severity']}: {r['subject']}: {r['message']}" for r in document["verdict"]["reasons"]
    ]


# -- the console script, one run per exit status ---------------------------------------------


def test_script_all_fine_exits_0_with_the_documented_json(world: World) -> None:
    world.gateway(world.leaf([MX]))
    world.whitelabel(world.leaf([WHITELABEL]))
    done = run_script(world.argv("--json"))
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    assert set(doc) == TOP_LEVEL_KEYS
    assert doc["schema"] == "cp-audit/1"
    assert doc["verdict"] == {
        "status": 0,
        "label": "ok",
        "reasons": [],
        "notes": doc["verdict"]["notes"],
    }
    (gateway,) = doc["gateways"]
    assert gateway["host"] == MX
    (probe,) = gateway["probes"]
    assert probe["starttls"] is True
    assert probe["name_matches"] is True
    assert probe["trusted"] is True
    assert probe["certificate"]["names"] == [MX]
    assert 89 < probe["certificate"]["days_left"] <= 90
    assert len(probe["certificate"]["sha256"]) == 64
    assert probe["dane"] == {"status": "none", "matched": None}
    roles = {site["role"]: site for site in doc["https"]}
    assert roles["whitelabel"]["host"] == WHITELABEL
    assert roles["whitelabel"]["probes"][0]["trusted"] is True
    assert roles["control_panel"]["skipped"]  # the simulator speaks plain http
    assert doc["policies"]["mta_sts"]["present"] is True
    assert doc["policies"]["tls_rpt"]["present"] is True
    flow = doc["mail_flow"]
    assert flow["total"] == 120
    assert flow["inbound"] + flow["outbound"] == 120
    assert sum(flow["by_encryption"].values()) == 120
    assert flow["partners_without_tls"][0]["domain"] in ("partner-g.test", "partner-h.test")
    assert sum(c["value"] for c in flow["classification"]) == 120
    assert doc["control_panel"]["whitelabel_domain"] == WHITELABEL
    assert world.sim.active_sessions == 0  # logged out


def test_script_expiring_certificate_exits_1(world: World) -> None:
    world.gateway(world.leaf([MX], days=14))
    done = run_script(world.argv())
    assert done.returncode == 1, done.stdout + done.stderr
    assert "WARNING (exit 1)" in done.stdout
    assert "within --warn-days 21" in done.stdout


def test_script_expired_certificate_exits_2(world: World) -> None:
    world.gateway(world.leaf([MX], days=-3))
    done = run_script(world.argv())
    assert done.returncode == 2, done.stdout + done.stderr
    assert "CRITICAL (exit 2)" in done.stdout
    assert f"CRITICAL  {MX} 127.0.0.1:{world.smtp_port}: certificate expired 3 days ago" in (
        done.stdout
    )


def test_script_refused_credentials_exit_3_with_a_clear_message(world: World) -> None:
    world.gateway(world.leaf([MX]))
    text = world.credentials.read_text().replace("sim-password", "wrong-password")
    world.credentials.write_text(text)
    done = run_script(world.argv())
    assert done.returncode == 3
    assert done.stdout == ""
    assert "refused POST auth/login/" in done.stderr
    assert (
        f"check cp_username and cp_password (and cp_token, cp_app_id) in {world.credentials}"
        in (done.stderr)
    )
    assert "wrong-password" not in done.stderr
    assert world.sim.counters["POST /api/v0/emails/_search/"] == 0


def test_script_warns_about_unsafe_credentials_permissions(world: World) -> None:
    world.gateway(world.leaf([MX]))
    world.credentials.chmod(0o644)
    done = run_script(world.argv())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Unsafe permissions on credentials configuration file" in done.stderr
    assert f"chmod 600 {world.credentials}" in done.stderr


# -- finer cases in-process ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong name", "certificate is not valid for mx1.example.test (it is for: other.test)"),
        ("self-signed", "certificate chain is not trusted: self-signed certificate"),
        ("no starttls", "does not offer STARTTLS"),
        ("expires within crit-days", "within --crit-days 7"),
    ],
)
def test_critical_gateways(
    world: World, capsys: pytest.CaptureFixture[str], case: str, reason: str
) -> None:
    cert: IssuedCert | None = None
    if case == "wrong name":
        cert = world.leaf(["other.test"])
    elif case == "self-signed":
        cert = self_signed(world.tmp_path, [MX], filename="own")
    elif case == "expires within crit-days":
        cert = world.leaf([MX], days=2)
    world.gateway(cert)
    status, out, _ = run_main(world.argv("--json"), capsys)
    assert status == 2
    assert any(reason in r for r in _reasons(json.loads(out))), out


def _spki(cert: IssuedCert) -> str:
    return hashlib.sha256(
        cert.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).hexdigest()


def test_validated_dane_ee_match_makes_expiry_and_chain_moot(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = self_signed(world.tmp_path, [MX], filename="dane")
    world.gateway(cert)
    world.zones.sign("example.test")
    status, out, _ = run_main(world.argv("--json"), capsys)
    assert status == 2  # self-signed and no TLSA: untrusted
    world.zones.add(f"_25._tcp.{MX}", "TLSA", f"3 1 1 {_spki(cert)}")
    status, out, _ = run_main(world.argv("--json"), capsys)
    doc = json.loads(out)
    assert status == 0, (_reasons(doc), json.dumps(doc["gateways"]))
    gateway = doc["gateways"][0]
    assert gateway["probes"][0]["dane"]["status"] == "match"
    assert gateway["dnssec"]["dane_effective"] is True
    assert gateway["dnssec"]["tlsa"]["state"] == "secure"
    assert doc["dnssec"]["state"] == "secure"
    notes = [n["message"] for n in doc["verdict"]["notes"]]
    assert any("(DANE-EE, DNSSEC-validated)" in n for n in notes)
    assert any("not trusted" in n for n in notes)


def test_unsigned_dane_ee_match_is_not_effective(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 15: senders ignore TLSA records that are not DNSSEC-signed (RFC 7672), so the
    certificate problems keep their full severity and the TLSA records earn a warning."""
    cert = self_signed(world.tmp_path, [MX], filename="unsigned")
    world.gateway(cert)
    world.zones.add(f"_25._tcp.{MX}", "TLSA", f"3 1 1 {_spki(cert)}")
    status, out, _ = run_main(world.argv("--json"), capsys)
    doc = json.loads(out)
    reasons = _reasons(doc)
    assert status == 2, reasons
    assert any("certificate chain is not trusted: self-signed" in r for r in reasons), reasons
    assert (
        f"warning: _25._tcp.{MX}: DANE not effective: the TLSA records are not DNSSEC-validated "
        "(insecure: example.test is not signed: test proves it has no DS record)"
    ) in " ".join(reasons)
    gateway = doc["gateways"][0]
    assert gateway["probes"][0]["dane"]["status"] == "match"
    assert gateway["dnssec"]["dane_effective"] is False
    assert gateway["dnssec"]["zone"] == {
        "state": "insecure",
        "zone": "example.test",
        "reason": "example.test is not signed: test proves it has no DS record",
    }


def test_bogus_tlsa_signature_is_critical(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    cert = world.leaf([MX])
    world.gateway(cert)
    world.zones.sign("example.test")
    world.zones.add(f"_25._tcp.{MX}", "TLSA", f"3 1 1 {_spki(cert)}")
    world.zones.break_signatures(f"_25._tcp.{MX}", "TLSA")
    status, out, _ = run_main(world.argv(), capsys)
    assert status == 2, out
    assert (
        f"CRITICAL  {MX}: DNSSEC validation fails (bogus): the signature of TLSA _25._tcp.{MX} "
        "does not validate"
    ) in out
    assert "DANE not effective:" not in out  # bogus says more than "not effective"


def test_validated_tlsa_mismatch_is_critical(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.gateway(world.leaf([MX]))
    world.zones.sign("example.test")
    world.zones.add(f"_25._tcp.{MX}", "TLSA", "3 1 1 " + "00" * 32)
    status, out, _ = run_main(world.argv(), capsys)
    assert status == 2
    assert "matches none of the DANE TLSA records: DANE senders will not deliver" in out


def test_dane_ta_matches_the_issuer_the_gateway_sends(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """A private CA anchored by DANE-TA: the chain need not reach a public root."""
    private = CertificateAuthority.create(world.tmp_path / "private", name="mail CA")
    issuer = private.intermediate("mail issuing CA", filename="issuing")
    world.gateway(issuer.issue([MX], directory=world.tmp_path))
    world.zones.sign("example.test")
    issuer_spki = hashlib.sha256(
        issuer.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).hexdigest()
    world.zones.add(f"_25._tcp.{MX}", "TLSA", f"2 1 1 {issuer_spki}")
    status, out, _ = run_main(world.argv("--json"), capsys)
    doc = json.loads(out)
    assert status == 0, _reasons(doc)
    probe = doc["gateways"][0]["probes"][0]
    assert probe["dane"] == {"status": "ta_match", "matched": f"2 1 1 {issuer_spki}"}
    assert probe["trusted"] is False  # not by --ca-bundle: DANE-TA is what vouches for it
    assert [c["subject"] for c in probe["chain"]] == ["CN=mail issuing CA"]


def test_whitelabel_certificate_is_checked(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.gateway(world.leaf([MX]))
    world.whitelabel(world.leaf(["cp.wrong.test"]))
    status, out, _ = run_main(world.argv(), capsys)
    assert status == 2
    assert f"certificate is not valid for {WHITELABEL}" in out


def test_large_window_is_split_and_nothing_lost(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.gateway(world.leaf([MX]))
    world.sim.window_limit = 25
    status, out, _ = run_main(world.argv("--json"), capsys)
    assert status == 0
    assert json.loads(out)["mail_flow"]["total"] == 120
    assert world.sim.counters["status 400"] >= 1  # the 3089 refusals that were split


def test_unencrypted_share_threshold(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.gateway(world.leaf([MX]))
    status, out, _ = run_main(world.argv("--warn-unencrypted", "10"), capsys)
    assert status == 1
    assert "travelled without encryption (more than --warn-unencrypted 10%)" in out


def test_passing_control_panel_trouble_is_a_warning(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.gateway(world.leaf([MX]))
    world.sim.faults.rate_limit(1, retry_after="3600")
    status, out, _ = run_main(world.argv(), capsys)
    assert status == 1
    assert "WARNING   Control Panel: The Control Panel refused POST auth/login/ (HTTP 429" in out
    assert "Gateway certificates" in out


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
    status, out, _ = run_main(world.argv("--json"), capsys)
    doc = json.loads(out)
    assert status == 1, _reasons(doc)
    assert f"warning: {MX} 127.0.0.1:{world.smtp_port}: still accepts TLSv1 (cipher " in (
        " ".join(_reasons(doc))
    )
    probe = doc["gateways"][0]["probes"][0]
    assert [(o["version"], o["outcome"]) for o in probe["old_versions"]] == [
        ("TLSv1", "accepted"),
        ("TLSv1.1", "accepted"),
    ]
    assert probe["tls_version"] == "TLSv1.3"  # the best is still what a modern sender gets


def test_the_report_shows_the_cipher_and_the_old_versions(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.gateway(world.leaf([MX]))
    status, out, _ = run_main(world.argv("--json"), capsys)
    assert status == 0, out
    probe = json.loads(out)["gateways"][0]["probes"][0]
    assert probe["cipher"]
    _, out, _ = run_main(world.argv(), capsys)
    old = ", ".join(f"{o['version']} {o['outcome']}" for o in probe["old_versions"])
    assert f"  {MX} 127.0.0.1:{world.smtp_port}: TLSv1.3 {probe['cipher']}; {old}\n" in out


def test_a_domain_that_does_not_exist_exits_3(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 15: NXDOMAIN is a finding about the input, like a domain the panel does not know."""
    message = (
        "cp-audit: error: The domain nothere.test does not exist in DNS (its MX lookup "
        "answered NXDOMAIN); check --domain.\n"
    )
    status, out, err = run_main([*_without_credentials(world), "--no-control-panel"], capsys)
    assert (status, out, err) == (3, "", message), out
    status, out, err = run_main(world.argv(domain="nothere.test"), capsys)
    assert (status, out, err) == (3, "", message), out
    assert world.sim.counters["logins"] == 0  # decided before the Control Panel is asked


def _without_credentials(world: World, domain: str = "nothere.test") -> list[str]:
    return [
        a for a in world.argv(domain=domain) if a not in (str(world.credentials), "--credentials")
    ]


def test_unknown_domain_exits_3(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.zones.add_zone("other.test")
    status, out, err = run_main(world.argv(domain="other.test"), capsys)
    assert status == 3
    assert out == ""
    assert "no domain 'other.test'" in err


def test_without_control_panel(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.gateway(world.leaf([MX]))
    argv = [a for a in world.argv() if a != str(world.credentials) and a != "--credentials"]
    status, out, _ = run_main([*argv, "--no-control-panel", "--json"], capsys)
    doc = json.loads(out)
    assert status == 0
    assert doc["mail_flow"] is None
    assert doc["control_panel"] is None
    assert world.sim.counters["logins"] == 0


def test_missing_credentials_say_how_to_give_them(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CP_APP_ID", "CP_APP_VERSION", "CP_TOKEN", "CP_USERNAME", "CP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    argv = [a for a in world.argv() if a != str(world.credentials) and a != "--credentials"]
    status, _, err = run_main(argv, capsys)
    assert status == 3
    assert "--credentials FILE" in err
    assert "--no-control-panel" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--domain", "example.test", "--warn-days", "3", "--crit-days", "5"], "--crit-days 5"),
        (["--domain", "exa mple..test", "--no-control-panel"], "not a valid domain name"),
        (["--domain", "example.test", "--smtp-port", "70000"], "port number"),
        (["--domain", "example.test", "--cp-rate", "0"], "--cp-rate: must be more than 0"),
        (["--days", "7"], "--domain"),
    ],
)
def test_bad_options_exit_3(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        status = main(argv)
    except SystemExit as stop:  # argparse's own errors
        status = int(stop.code or 0)
    assert status == 3
    assert message in capsys.readouterr().err
