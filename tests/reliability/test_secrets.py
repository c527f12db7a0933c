"""Promise 5: the token and the Control Panel's secrets stay secret, and TLS stays on.

Every fault-matrix and bad-input row already scans the files and output of its runs for the
token. Here: the most talkative run there is (certbot -vvv), the arguments and environment
of every process while it runs, the reprs and errors of the objects that hold secrets, the
Control Panel client with debug logging, and TLS: no code path switches verification off,
and an untrusted Control Panel certificate stops the login before the password is sent.
"""

from __future__ import annotations

import datetime
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

import certbot_dns_variomedia
from certbot_dns_variomedia.api.client import VariomediaClient
from certbot_dns_variomedia.api.transport import RetryPolicy
from certbot_dns_variomedia.controlpanel.client import ControlPanelClient
from certbot_dns_variomedia.controlpanel.errors import ControlPanelError
from certbot_dns_variomedia.controlpanel.transport import Transport
from certbot_dns_variomedia.credentials import load_variomedia_credentials
from certbot_dns_variomedia.errors import VariomediaError
from certbot_dns_variomedia.testing.acme.certs import CertificateAuthority
from certbot_dns_variomedia.testing.controlpanel.simulator import (
    ControlPanelSimConfig,
    ControlPanelSimulator,
)
from certbot_dns_variomedia.testing.variomedia.simulator import SimNameServer, VariomediaSimulator

from .conftest import MakeStage
from .harness import CONFIG
from .rows import Claim, declare

# ns2 publishes 2 s late: certbot is alive long enough to be looked at while it waits.
SLOW_DNS = replace(
    CONFIG,
    nameservers=(CONFIG.nameservers[0], SimNameServer("ns2.variomedia.test", delay=2.0)),
)


def _process_tree(root: int) -> list[int]:
    """`root` and every process below it, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # gone meanwhile
        fields = text[text.rfind(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""  # the process ended between listing and reading


@declare(
    Claim(
        "secrets",
        "certbot -vvv (maximal logging) issues a certificate and the token is in none of its "
        "output, letsencrypt.log, renewal configuration, state file, pacing ledger or any "
        "other file it wrote, nor in the arguments or environment of certbot or any of its "
        "child processes while it runs",
        promises=(5,),
    )
)
@pytest.mark.e2e
def test_token_absent_with_maximal_logging(make_stage: MakeStage) -> None:
    stage = make_stage(SLOW_DNS)
    token = stage.sim.token.encode()
    job = stage.start(stage.command(["example.test"], cert_name="loud", extra=["-vvv"]), "loud")
    looked = 0
    try:
        while job.proc.poll() is None:
            for pid in _process_tree(job.proc.pid):
                proc = Path(f"/proc/{pid}")
                cmdline, environ = _read(proc / "cmdline"), _read(proc / "environ")
                assert token not in cmdline, f"the token is in the arguments of {pid}"
                assert token not in environ, f"the token is in the environment of {pid}"
                looked += bool(cmdline)
            time.sleep(0.05)
        status = job.wait(timeout=5)
        text = job.text()
    finally:
        job.close()
    assert status == 0, text
    assert looked >= 10  # certbot was watched through its run, not only at its end
    log = (stage.certbot_box.logs_dir / "letsencrypt.log").read_text()
    assert re.search(r"DEBUG:certbot_dns_variomedia\.api\.transport:POST /dns-records -> 202", log)
    assert "DEBUG:urllib3.connectionpool" in log  # the HTTP library logged too
    stage.check_nothing_left()
    stage.check_no_secret([text])


@declare(
    Claim(
        "secrets",
        "With -vvv, a run whose token is refused (after an HTML error page from the API) "
        "leaves neither the refused nor the real token in any file or output",
        promises=(5,),
    )
)
@pytest.mark.e2e
def test_token_absent_from_failures_with_maximal_logging(make_stage: MakeStage) -> None:
    stage = make_stage()
    stage.sim.faults.html_errors(1)
    wrong = "refused-token-0f3e2d1c"
    credentials = stage.write_credentials(
        "wrong.ini",
        f"dns_variomedia_token = {wrong}\ndns_variomedia_api_url = {stage.sim.url}\n",
    )
    result = stage.run(
        stage.command(["example.test"], cert_name="x", credentials=credentials, extra=["-vvv"])
    )
    text = result.stdout + result.stderr
    assert result.returncode != 0
    assert "The API token was refused (401 on GET /domains)" in text
    stage.check_no_secret([text])
    for path in stage.root.rglob("*"):
        if path.is_file() and path not in stage.secrets_files:
            assert wrong.encode() not in path.read_bytes(), f"the refused token is in {path}"


@declare(
    Claim(
        "secrets",
        "The token is in no repr, error message, exception attribute or log record (DEBUG, "
        "urllib3 included) of the client, its credentials, its pacer, through success, 5xx, "
        "HTML, truncated JSON, 429 and 401",
        promises=(5,),
    )
)
def test_token_absent_from_reprs_errors_and_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VARIOMEDIA_DNS_CACHE_DIR", str(tmp_path / "cache"))
    caplog.set_level(logging.DEBUG)
    with VariomediaSimulator(CONFIG) as sim:
        path = tmp_path / "creds.ini"
        path.write_text(f"dns_variomedia_token = {sim.token}\ndns_variomedia_api_url = {sim.url}\n")
        path.chmod(0o600)
        credentials = load_variomedia_credentials(path)
        client = VariomediaClient.from_credentials(credentials)
        seen: list[object] = [credentials, client, client.pacer]
        sim.faults.server_errors(1, path="/domains")
        sim.faults.html_errors(1, path="/domains")
        sim.faults.rate_limit_storm(1, retry_after=0)
        assert client.list_domains()
        sim.faults.truncate_json(1, method="POST")
        write = client.create_record("example.test", "_acme-challenge", "TXT", "v" * 43)
        seen.append(write)
        sim.faults.expire_token()
        with pytest.raises(VariomediaError) as refused:
            client.delete_record(write.record_id)
        seen.append(refused.value)
        client.close()
        sim.faults.clear()
        sim.faults.html_errors(1000)
        fresh = VariomediaClient(sim.token, sim.url, retry=RetryPolicy(attempts=2, backoff=0.1))
        with pytest.raises(VariomediaError) as broken:
            fresh.get_record(write.record_id)
        seen.append(broken.value)
        fresh.close()
    for thing in seen:
        for text in (repr(thing), str(thing), repr(getattr(thing, "args", ""))):
            assert sim.token not in text, text
        if isinstance(thing, BaseException):
            assert sim.token not in repr(vars(thing))
    assert "401" in str(refused.value)
    assert caplog.records, "nothing was logged: the check would prove nothing"
    for record in caplog.records:
        assert sim.token not in record.getMessage()


@pytest.fixture
def panel() -> Iterator[ControlPanelSimulator]:
    simulator = ControlPanelSimulator(ControlPanelSimConfig(emails_per_domain=30, seed=3))
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


def _cp_client(panel: ControlPanelSimulator, verify: bool | str = True) -> ControlPanelClient:
    c = panel.config
    return ControlPanelClient(
        Transport(
            panel.url,
            app_id=c.app_id,
            app_version=c.app_version,
            cp_token=c.cp_token,
            verify=verify,
            timeout=(2.0, 5.0),
        )
    )


@declare(
    Claim(
        "secrets",
        "The Control Panel's password, cp_token and session token are in no log record "
        "(DEBUG), repr or error of a session that logs in, searches, fails and logs out",
        promises=(5,),
    )
)
def test_control_panel_secrets_absent_from_logs_and_errors(
    panel: ControlPanelSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = [panel.config.password, panel.config.cp_token]
    client = _cp_client(panel)
    with client:
        login = client.login(panel.config.username, panel.config.password)
        secrets.append(client.transport.session_token or "")  # the session token the server issued
        start = panel.now - datetime.timedelta(days=1)
        assert list(client.search_emails(panel.object_id("example.test"), start, panel.now))
        with pytest.raises(ControlPanelError) as failed:
            client.object_id_for_domain("not-managed.test")
        texts = [repr(client), repr(login), str(failed.value), repr(failed.value.args)]
    with pytest.raises(ControlPanelError) as refused, _cp_client(panel) as other:
        other.login(panel.config.username, "a-wrong-password-77")
    secrets.append("a-wrong-password-77")
    texts += [str(refused.value), repr(refused.value.error_data)]
    texts += [record.getMessage() for record in caplog.records]
    assert all(secrets)
    for secret in secrets:
        for text in texts:
            assert secret not in text, text


@declare(
    Claim(
        "secrets",
        "No code outside the audit's certificate probes (which send nothing) switches TLS "
        "verification off: no verify=False, CERT_NONE, check_hostname=False or unverified "
        "context anywhere else in the package",
        promises=(5,),
    )
)
def test_no_code_switches_tls_verification_off() -> None:
    package = Path(certbot_dns_variomedia.__file__).parent
    pattern = re.compile(
        r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False|_create_unverified_context"
        r"|PYTHONHTTPSVERIFY|urllib3\.disable_warnings"
    )
    allowed = {Path("controlpanel/tls.py")}  # probes that read a certificate to report on it
    offenders = [
        f"{path.relative_to(package)}:{n}: {line.strip()}"
        for path in sorted(package.rglob("*.py"))
        if "testing" not in path.relative_to(package).parts
        and path.relative_to(package) not in allowed
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []
    probes = (package / "controlpanel/tls.py").read_text()
    assert "def probing_context" in probes  # the allowance still names what it allows


@declare(
    Claim(
        "secrets",
        "A Control Panel over https:// with a certificate the system does not trust is "
        "refused with a message naming --ca-bundle, before the login: the password never "
        "leaves the machine",
        promises=(4, 5),
    )
)
def test_untrusted_control_panel_certificate_stops_the_login(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path, name="untrusted cp CA")
    leaf = ca.issue(["127.0.0.1"], directory=tmp_path)
    config = ControlPanelSimConfig(
        certfile=str(leaf.fullchain_path), keyfile=str(leaf.key_path), seed=4
    )
    with ControlPanelSimulator(config) as panel:
        assert panel.url.startswith("https://")
        with pytest.raises(ControlPanelError) as refused, _cp_client(panel) as client:
            client.login(panel.config.username, panel.config.password)
        logins = panel.counters["logins"]
        # The control: trusting the CA (cp-audit's --ca-bundle), the same login works.
        with _cp_client(panel, verify=str(ca.cert_path)) as trusting:
            trusting.login(panel.config.username, panel.config.password)
            assert trusting.logged_in
    assert "HTTPS certificate" in str(refused.value)
    assert "--ca-bundle" in str(refused.value)
    assert logins == 0
    assert panel.config.password not in str(refused.value)
