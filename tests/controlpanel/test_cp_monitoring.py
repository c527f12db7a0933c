"""cp-audit in monitoring: Nagios performance data read back as a monitoring system reads it,
and the Prometheus textfile read by prometheus_client's own parser (issue 13, section 5)."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from certbot_dns_variomedia.testing.acme.certs import utcnow

from .conftest import MX, World, run_main
from .perfdata import split_status_line


def _samples(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the file, by metric name and labels, as Prometheus parses it."""
    found = {}
    for family in text_string_to_metric_families(path.read_text()):
        assert family.type == "gauge"
        assert family.documentation
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_nagios_status_line_carries_performance_data(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    soon = utcnow() + datetime.timedelta(days=14)
    world.gateway(world.ca.issue([MX], common_name="pipe|name", not_after=soon))
    status, out, _ = run_main(world.argv("--nagios", control_panel=False), capsys)
    assert status == 1, out
    first, *rest = out.splitlines()
    assert out.count("|") == 1  # the subject's "|" became "/" in the report
    assert any("pipe/name" in line for line in rest)
    text, perf = split_status_line(first)
    assert text.startswith(f"CP-AUDIT WARNING - {MX} 127.0.0.1:{world.smtp_port}: certificate ")
    assert set(perf) == {f"days_mx_{MX}"}  # no mail figures without the Control Panel
    assert perf[f"days_mx_{MX}"].value == pytest.approx(14, abs=0.1)


def test_prometheus_textfile_has_the_same_figures_as_the_report(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    world.gateway(world.leaf([MX], days=30))
    target = tmp_path / "textfile" / "cp_audit.prom"
    target.parent.mkdir()
    status, out, _ = run_main(world.argv("--json", "--prometheus", str(target)), capsys)
    doc = json.loads(out)
    samples = _samples(target)
    domain = (("domain", "example.test"),)
    assert samples["cp_audit_status", domain] == status == 0
    generated = datetime.datetime.fromisoformat(doc["generated_at"].replace("Z", "+00:00"))
    assert samples["cp_audit_last_run_timestamp_seconds", domain] == generated.timestamp()
    days = samples[
        "cp_audit_certificate_days_left",
        (("domain", "example.test"), ("host", MX), ("kind", "mx"), ("role", "gateway")),
    ]
    assert days == doc["gateways"][0]["probes"][0]["certificate"]["days_left"]
    assert samples["cp_audit_certificate_warn_days", domain] == 21
    flow = doc["mail_flow"]
    for direction in ("all", "inbound", "outbound"):
        key = (("direction", direction), *domain)
        assert samples["cp_audit_emails", key] == flow["total" if direction == "all" else direction]
    assert samples["cp_audit_emails_unencrypted", domain] == flow["unencrypted"]
    ratio = samples["cp_audit_unencrypted_ratio", domain]
    assert ratio == pytest.approx(flow["unencrypted_share"], abs=1e-4)
    assert oct(target.stat().st_mode & 0o777) == "0o644"  # node_exporter reads it


def test_prometheus_textfile_is_replaced_never_rewritten(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A reader holding the old file keeps it whole: the new text arrives by rename."""
    world.gateway(world.leaf([MX]))
    textfiles = tmp_path / "textfiles"
    textfiles.mkdir()
    target = textfiles / "cp_audit.prom"
    target.write_text("cp_audit_status 0\n")
    held = textfiles / "held-by-a-reader"
    os.link(target, held)
    status, _, _ = run_main(world.argv("--prometheus", str(target), control_panel=False), capsys)
    assert status == 0
    assert held.read_text() == "cp_audit_status 0\n"  # the old inode was not touched
    assert "cp_audit_certificate_days_left" in target.read_text()
    assert sorted(p.name for p in textfiles.iterdir()) == ["cp_audit.prom", "held-by-a-reader"]


def test_an_audit_that_cannot_run_says_so_to_prometheus(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "cp_audit.prom"
    status, _, err = run_main(
        world.argv("--prometheus", str(target), domain="nothere.test", control_panel=False),
        capsys,
    )
    assert status == 3
    assert "does not exist in DNS" in err
    assert _samples(target)["cp_audit_status", (("domain", "nothere.test"),)] == 3


def test_an_unwritable_textfile_directory_stops_before_the_audit(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "missing" / "cp_audit.prom"
    status, out, err = run_main(world.argv("--prometheus", str(target)), capsys)
    assert (status, out) == (3, "")
    assert f"Cannot write --prometheus {target}: {target.parent} is not a directory" in err
    assert world.sim.counters["logins"] == 0
    assert world.dns.queries == 0
