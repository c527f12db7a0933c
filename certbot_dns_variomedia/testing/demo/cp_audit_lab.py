"""The servers of the cp-audit demo, per scenario: DNS (zones signed below ``test.``), STARTTLS
gateways, HTTPS hosts (whitelabel, MTA-STS policy) and the Control Panel simulator, on loopback.

``ok``, ``warning`` and ``critical`` are one well-kept gateway whose certificate is fine, expires
in 14 days, or expired 3 days ago. ``sender-view`` is a domain seen the way sending servers see
it, with a finding of every check that asks their question:

- ``mx1.example.test``: DANE-EE, DNSSEC-validated; still accepts TLS 1.0/1.1.
- ``mx2.example.test``: a private CA, vouched for by a validated DANE-TA record.
- ``mx3.plain.test``: a self-signed certificate with a matching TLSA record in an unsigned
  zone: DANE not effective, so the certificate counts as untrusted.
- ``mx4.example.test``: its TLSA record's signature is broken (bogus).
- MTA-STS in ``enforce`` mode, whose ``mx`` lines leave out ``mx3.plain.test``, with a
  ``max_age`` beyond a year, changed since an earlier report under the same ``id``, served by
  a host whose certificate expires in 10 days.

``mta-sts-broken`` has two MTA-STS records (the first without an id) and a policy host whose
certificate is for another name. ``no-such-domain`` audits a domain that does not exist.
Each gateway has its own loopback address (127.0.0.x) on one port, so each can have its own
TLS settings.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from ..acme.certs import CertificateAuthority, IssuedCert, self_signed, utcnow
from ..controlpanel.simulator import ControlPanelSimConfig, ControlPanelSimulator
from ..servers.dns import DNSServer
from ..servers.https import HTTPSServer
from ..servers.signed_zones import SignedZones
from ..servers.smtp import StartTLSServer, accepts_old_versions

DOMAIN = "example.test"
MX = "mx1.example.test"
WHITELABEL = "cp.brand.test"
MTA_STS = "mta-sts.example.test"
POLICY_PATH = "/.well-known/mta-sts.txt"
DAYS_LEFT = {"ok": 90.0, "warning": 14.0, "critical": -3.0}
SCENARIOS = (*DAYS_LEFT, "sender-view", "mta-sts-broken", "no-such-domain")

_POLICY = "version: STSv1\nmode: enforce\n{mx}max_age: {max_age}\n"
_OLD_TLS = (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_3)


def _policy(hosts: list[str], max_age: int = 604800) -> bytes:
    lines = "".join(f"mx: {h}\n" for h in hosts)
    return _POLICY.format(mx=lines, max_age=max_age).encode("ascii")


def _spki_sha256(cert: IssuedCert | CertificateAuthority) -> str:
    der = cert.certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


@dataclass
class Lab:
    """A scenario's servers, started into ``stack``; ``argv`` is what cp-audit needs."""

    scenario: str
    workdir: Path
    stack: contextlib.ExitStack
    ca: CertificateAuthority = field(init=False)
    zones: SignedZones = field(init=False)
    argv: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ca = CertificateAuthority.create(self.workdir, name="cp-audit demo CA")
        self.zones = SignedZones()
        for origin in ("test", DOMAIN, "brand.test", "plain.test"):
            self.zones.add_zone(origin)
        self.zones.sign("test")
        self.zones.sign(DOMAIN)

    def start(self) -> list[str]:
        """Start everything; the cp-audit arguments that reach it."""
        https_certs = {WHITELABEL: self.ca.issue([WHITELABEL])}
        pages: dict[str, tuple[int, str, bytes]] = {}
        if self.scenario == "sender-view":
            smtp_port = self._sender_view(https_certs, pages)
        elif self.scenario == "mta-sts-broken":
            smtp_port = self._gateways({MX: (self._cert(MX, 90), None)})
            self._mta_sts("v=STSv1;", "v=STSv1; id=demo2")
            https_certs[MTA_STS] = self.ca.issue(["www.example.test"], filename="wrong-name")
            pages[POLICY_PATH] = (200, "text/plain", _policy([MX]))
        else:  # ok, warning, critical; no-such-domain has the ok lab but asks for another name
            days = DAYS_LEFT.get(self.scenario, 90.0)
            smtp_port = self._gateways({MX: (self._cert(MX, days), None)})
            https_certs[MTA_STS] = self.ca.issue([MTA_STS])
            self._mta_sts("v=STSv1; id=demo")
            pages[POLICY_PATH] = (200, "text/plain", _policy([MX]))
        self.zones.add(WHITELABEL, "A", "127.0.0.1")
        return self._serve(smtp_port, https_certs, pages)

    # -- the pieces ----------------------------------------------------------------------

    def _cert(self, host: str, days: float) -> IssuedCert:
        return self.ca.issue([host], not_after=utcnow() + datetime.timedelta(days=days))

    def _mta_sts(self, *records: str) -> None:
        for record in records:
            self.zones.add(f"_mta-sts.{DOMAIN}", "TXT", f'"{record}"')
        self.zones.add(MTA_STS, "A", "127.0.0.1")

    def _gateways(
        self, gateways: dict[str, tuple[IssuedCert, tuple[ssl.TLSVersion, ssl.TLSVersion] | None]]
    ) -> int:
        """One STARTTLS server per MX host, each on its own 127.0.0.x, all on one port."""
        port = 0
        for index, (host, (cert, versions)) in enumerate(gateways.items(), start=1):
            address = f"127.0.0.{index}"
            preference = 10 * index
            self.zones.add(DOMAIN, "MX", f"{preference} {host}")
            self.zones.add(host, "A", address)
            server = StartTLSServer(
                certfile=str(cert.fullchain_path),
                keyfile=str(cert.key_path),
                host=address,
                port=port,
                hostname=host,
                versions=versions,
            )
            port = self.stack.enter_context(server).port
        return port

    def _sender_view(
        self,
        https_certs: dict[str, IssuedCert],
        pages: dict[str, tuple[int, str, bytes]],
    ) -> int:
        private = CertificateAuthority.create(self.workdir / "private", name="mail CA")
        issuing = private.intermediate("mail issuing CA", filename="issuing")
        own = self_signed(self.workdir, ["mx3.plain.test"], filename="own")
        mx1, mx2, mx4 = MX, "mx2.example.test", "mx4.example.test"
        old_tls = _OLD_TLS if accepts_old_versions() is None else None
        gateways = {
            mx1: (self._cert(mx1, 90), old_tls),
            mx2: (issuing.issue([mx2], directory=self.workdir), None),
            "mx3.plain.test": (own, None),
            mx4: (self._cert(mx4, 90), None),
        }
        port = self._gateways(gateways)
        self.zones.add(f"_25._tcp.{mx1}", "TLSA", f"3 1 1 {_spki_sha256(gateways[mx1][0])}")
        self.zones.add(f"_25._tcp.{mx2}", "TLSA", f"2 1 1 {_spki_sha256(issuing)}")
        self.zones.add("_25._tcp.mx3.plain.test", "TLSA", f"3 1 1 {_spki_sha256(own)}")
        self.zones.add(f"_25._tcp.{mx4}", "TLSA", f"3 1 1 {_spki_sha256(gateways[mx4][0])}")
        self.zones.break_signatures(f"_25._tcp.{mx4}", "TLSA")
        self._mta_sts("v=STSv1; id=demo")
        https_certs[MTA_STS] = self._cert(MTA_STS, 10)
        pages[POLICY_PATH] = (200, "text/plain", _policy([mx1, mx2, mx4], max_age=40_000_000))
        earlier = _policy([mx1, mx2], max_age=40_000_000)  # before mx4 was added
        report = {
            "schema": "cp-audit/1",
            "generated_at": "2026-01-05T08:00:00Z",
            "policies": {"mta_sts": {"id": "demo", "policy": {"sha256": _sha256(earlier)}}},
        }
        previous = self.workdir / "previous-report.json"
        previous.write_text(json.dumps(report), encoding="utf-8")
        self.argv += ["--previous-report", str(previous)]
        return port

    def _serve(
        self,
        smtp_port: int,
        https_certs: dict[str, IssuedCert],
        pages: dict[str, tuple[int, str, bytes]],
    ) -> list[str]:
        dns = self.stack.enter_context(DNSServer(self.zones))
        (_, first), *others = https_certs.items()
        https = self.stack.enter_context(
            HTTPSServer(
                certfile=str(first.fullchain_path),
                keyfile=str(first.key_path),
                sni={n: (str(c.fullchain_path), str(c.key_path)) for n, c in others},
                pages=pages,
            )
        )
        sim = self.stack.enter_context(
            ControlPanelSimulator(
                ControlPanelSimConfig(
                    domains=(DOMAIN,),
                    control_panel_host="127.0.0.1",
                    whitelabel_domain=WHITELABEL,
                )
            )
        )
        anchors = self.workdir / "dnssec-anchors.txt"
        anchors.write_text(self.zones.trust_anchor("test"), encoding="utf-8")
        domain = "nothere.test" if self.scenario == "no-such-domain" else DOMAIN
        return [
            "--domain",
            domain,
            "--credentials",
            str(sim.write_credentials(self.workdir / "cp.ini")),
            "--dns-server",
            f"127.0.0.1:{dns.port}",
            "--smtp-port",
            str(smtp_port),
            "--https-port",
            str(https.port),
            "--ca-bundle",
            str(self.ca.cert_path),
            "--dnssec-anchors",
            str(anchors),
            *self.argv,
        ]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
