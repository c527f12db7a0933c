"""cp-audit end to end: the real console script against the Control Panel simulator, a loopback
DNS server, STARTTLS and HTTPS servers with certificates made here, for each exit status."""

from __future__ import annotations

import json

import pytest

from certbot_dns_variomedia.controlpanel.cli import main
from certbot_dns_variomedia.testing.acme.certs import IssuedCert, self_signed

from .conftest import MX, WHITELABEL, World, reasons, run_main, run_script

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


# -- the console script, one run per exit status ---------------------------------------------


def test_script_all_fine_exits_0_with_the_documented_json(world: World) -> None:
    world.gateway(world.leaf([MX]))
    world.whitelabel(world.leaf([WHITELABEL]))
    world.mta_sts("version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 604800\n")
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
    assert doc["policies"]["mta_sts"]["id"] == "20240501"
    policy = doc["policies"]["mta_sts"]["policy"]
    assert (policy["mode"], policy["mx"], policy["max_age"]) == ("enforce", [MX], 604800)
    assert policy["error"] is None
    assert roles["mta_sts"]["probes"][0]["name_matches"] is True
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
    assert any(reason in r for r in reasons(json.loads(out))), out


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
    status, out, _ = run_main(world.argv("--json", "--cp-rate", "50"), capsys)  # many pages
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


def test_the_report_shows_the_cipher_and_the_old_versions(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.gateway(world.leaf([MX]))
    status, out, _ = run_main(world.argv("--json", control_panel=False), capsys)
    assert status == 0, out
    probe = json.loads(out)["gateways"][0]["probes"][0]
    assert probe["cipher"]
    _, out, _ = run_main(world.argv(control_panel=False), capsys)
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
    status, out, err = run_main(world.argv(domain="nothere.test", control_panel=False), capsys)
    assert (status, out, err) == (3, "", message), out
    status, out, err = run_main(world.argv(domain="nothere.test"), capsys)
    assert (status, out, err) == (3, "", message), out
    assert world.sim.counters["logins"] == 0  # decided before the Control Panel is asked


def test_unknown_domain_exits_3(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.zones.add_zone("other.test")
    status, out, err = run_main(world.argv(domain="other.test"), capsys)
    assert status == 3
    assert out == ""
    assert "no domain 'other.test'" in err


def test_without_control_panel(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.gateway(world.leaf([MX]))
    status, out, _ = run_main(world.argv("--json", control_panel=False), capsys)
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
        (
            ["--domain", "exa mple..test", "--no-control-panel"],
            "has an empty label (two dots in a row)",
        ),
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
