"""The project's two halves meet: a gateway certificate issued by Pebble through the certbot
plugin (DNS-01 on the Variomedia simulator) is served over STARTTLS and passes cp-audit."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from certbot_dns_variomedia.controlpanel.cli import main
from certbot_dns_variomedia.testing.acme import pebble as pebble_module
from certbot_dns_variomedia.testing.controlpanel.simulator import (
    ControlPanelSimConfig,
    ControlPanelSimulator,
)
from certbot_dns_variomedia.testing.demo.sandbox import Sandbox
from certbot_dns_variomedia.testing.servers.dns import DNSServer, StaticZones
from certbot_dns_variomedia.testing.servers.smtp import StartTLSServer

MX = "mx1.example.test"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.access(pebble_module.DEFAULT_BINARY, os.X_OK),
        reason="Debian's pebble is not installed",
    ),
]


def test_certificate_from_pebble_through_the_plugin_passes_the_audit(
    tmp_path: Path,
    zones: StaticZones,
    dns_server: DNSServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Sandbox(tmp_path / "sandbox") as box:
        issued = box.certonly([MX], cert_name="gateway")
        assert issued.returncode == 0, issued.stdout + issued.stderr
        assert box.pebble is not None
        roots = tmp_path / "pebble-root.pem"
        roots.write_text(box.pebble.root_pem(), encoding="ascii")
    live = box.live("gateway")

    zones.add("example.test", "MX", f"10 {MX}")
    zones.add(MX, "A", "127.0.0.1")
    config = ControlPanelSimConfig(control_panel_host="127.0.0.1", emails_per_domain=20)
    with (
        StartTLSServer(
            certfile=str(live / "fullchain.pem"), keyfile=str(live / "privkey.pem"), hostname=MX
        ) as smtp,
        ControlPanelSimulator(config) as sim,
    ):
        credentials = sim.write_credentials(tmp_path / "cp.ini")
        status = main(
            [
                "--domain",
                "example.test",
                "--credentials",
                str(credentials),
                "--dns-server",
                f"127.0.0.1:{dns_server.port}",
                "--smtp-port",
                str(smtp.port),
                "--ca-bundle",
                str(roots),
                "--timeout",
                "5",
                "--json",
            ]
        )
    doc = json.loads(capsys.readouterr().out)
    (probe,) = doc["gateways"][0]["probes"]
    assert probe["certificate"]["names"] == [MX]
    assert "Pebble" in probe["certificate"]["issuer"]
    assert probe["trusted"] is True, probe["trust_error"]
    assert probe["name_matches"] is True
    assert status == 0, doc["verdict"]["reasons"]
    assert doc["mail_flow"]["total"] == 20
