"""The bad-input table: what a user can get wrong, the exact message, and that nothing was written.

Inputs that are certbot options or files go through a real certbot process; the Control Panel
rows go through cp-audit or its client. Where certbot (or the CA) refuses an input before the
plugin runs, the row says so and records that message, not one the plugin never prints.
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography import x509

from certbot_dns_variomedia.controlpanel.cli import main as cp_audit
from certbot_dns_variomedia.controlpanel.client import ControlPanelClient
from certbot_dns_variomedia.controlpanel.transport import Transport
from certbot_dns_variomedia.testing.acme.certs import CertificateAuthority, write_pem_bundle
from certbot_dns_variomedia.testing.controlpanel.simulator import (
    ControlPanelSimConfig,
    ControlPanelSimulator,
)
from certbot_dns_variomedia.testing.servers.dns import DNSServer, StaticZones

from .harness import Stage, output
from .rows import BadInputRow, declare, measure
from .tls_relay import TLSRelay

pytestmark = pytest.mark.e2e

ISSUED = "Successfully received certificate"
NOTHING = "no API write; no record created"
OWN_ONLY = "its own challenge record, removed afterwards"


def certonly(
    stage: Stage,
    domains: list[str],
    *,
    extra: Sequence[str] = (),
    credentials: Path | None = None,
) -> tuple[int, str]:
    result = stage.certonly(domains, cert_name="row", extra=extra, credentials=credentials)
    return result.returncode, output(result)


def with_credentials(stage: Stage, name: str, text: str, mode: int = 0o600) -> Path:
    """A credentials file of the test's making (the simulator's URL unless `text` says)."""
    return stage.write_credentials(
        name, text.format(url=stage.sim.url, token=stage.sim.token), mode
    )


# -- the credentials file ----------------------------------------------------------------------


@declare(
    BadInputRow(
        given="Credentials file missing",
        door="certbot",
        result="refused by the plugin",
        says=(
            "The credentials file {file} does not exist. Create it with the keys "
            "dns_variomedia_token and protect it with: chmod 600 {file}",
        ),
        written=NOTHING,
        requests=(0, 0),
    )
)
def test_missing_credentials_file(stage: Stage, row: BadInputRow) -> None:
    missing = stage.root / "missing.ini"
    status, text = certonly(stage, ["example.test"], credentials=missing)
    stage.verify_bad_input(row, status, text, {"file": str(missing)})


@declare(
    BadInputRow(
        given="Credentials path is a directory",
        door="certbot",
        result="refused by the plugin",
        says=("The credentials file {file} is a directory; give the path of the INI file.",),
        written=NOTHING,
        requests=(0, 0),
    )
)
def test_credentials_path_is_a_directory(stage: Stage, row: BadInputRow) -> None:
    folder = stage.root / "folder.ini"
    folder.mkdir()
    status, text = certonly(stage, ["example.test"], credentials=folder)
    stage.verify_bad_input(row, status, text, {"file": str(folder)})


def _without_read_access() -> list[str]:
    """A prefix that runs certbot unable to read files it lacks permission for.

    As root, mode bits alone do not stop a read (CAP_DAC_OVERRIDE); the prefix drops that
    capability and its sibling from the bounding set, so the kernel checks the mode as for
    anyone else. As another user, nothing is needed.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a file unreadable")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


@declare(
    BadInputRow(
        given="Credentials file not readable by the user running certbot (mode 000)",
        door="certbot (as a user without read access)",
        result="refused by the plugin",
        says=(
            "The credentials file {file} cannot be read by this user (Permission denied); run "
            "as the user that owns it, or fix its owner.",
        ),
        written=NOTHING,
        requests=(0, 0),
    )
)
def test_unreadable_credentials_file(stage: Stage, row: BadInputRow) -> None:
    locked = with_credentials(stage, "locked.ini", "dns_variomedia_token = {token}\n", 0o000)
    result = stage.run(
        stage.command(["example.test"], cert_name="row", credentials=locked),
        prefix=_without_read_access(),
    )
    stage.verify_bad_input(row, result.returncode, output(result), {"file": str(locked)})


@declare(
    BadInputRow(
        given="Credentials file readable by others (mode 644)",
        door="certbot",
        result="works, with a warning",
        says=(
            "Unsafe permissions on credentials configuration file: {file} (readable by other "
            "users; run: chmod 600 {file})",
            ISSUED,
        ),
        written=OWN_ONLY,
        requests=(4, 4),
        promises=(5,),
    )
)
def test_world_readable_credentials_file(stage: Stage, row: BadInputRow) -> None:
    text = "dns_variomedia_token = {token}\ndns_variomedia_api_url = {url}\n"
    shared = with_credentials(stage, "shared.ini", text, 0o644)
    status, text = certonly(stage, ["example.test"], credentials=shared)
    stage.verify_bad_input(row, status, text, {"file": str(shared)})


@declare(
    BadInputRow(
        given="Credentials file that is not UTF-8 text",
        door="certbot",
        result="refused by the plugin",
        says=("The credentials file {file} is not UTF-8 text.",),
        written=NOTHING,
        requests=(0, 0),
    )
)
def test_credentials_file_not_utf8(stage: Stage, row: BadInputRow) -> None:
    latin1 = stage.root / "latin1.ini"
    latin1.write_bytes(b"dns_variomedia_token = caf\xe9-caf\xe9-caf\xe9\n")
    latin1.chmod(0o600)
    status, text = certonly(stage, ["example.test"], credentials=latin1)
    stage.verify_bad_input(row, status, text, {"file": str(latin1)})


@declare(
    BadInputRow(
        given="Empty token (dns_variomedia_token =)",
        door="certbot",
        result="refused by the plugin",
        says=(
            "In the credentials file {file}: dns_variomedia_token is empty (it should be the "
            "API token Variomedia issued for your account).",
        ),
        written=NOTHING,
        requests=(0, 0),
    )
)
def test_empty_token(stage: Stage, row: BadInputRow) -> None:
    path = with_credentials(
        stage, "empty.ini", "dns_variomedia_token =\ndns_variomedia_api_url = {url}\n"
    )
    status, text = certonly(stage, ["example.test"], credentials=path)
    stage.verify_bad_input(row, status, text, {"file": str(path)})


@declare(
    BadInputRow(
        given="Malformed token (two words pasted with a space)",
        door="certbot",
        result="refused by the plugin",
        says=(
            "The API token in dns_variomedia_token in {file} is malformed: it should be one "
            "word of printable characters without spaces or quotes, exactly as Variomedia "
            "issued it.",
        ),
        written=NOTHING,
        requests=(0, 0),
        promises=(4, 5),
    )
)
def test_malformed_token(stage: Stage, row: BadInputRow) -> None:
    path = with_credentials(
        stage,
        "malformed.ini",
        "dns_variomedia_token = tokenpart-one tokenpart-two\ndns_variomedia_api_url = {url}\n",
    )
    status, text = certonly(stage, ["example.test"], credentials=path)
    stage.verify_bad_input(row, status, text, {"file": str(path)})
    assert "tokenpart" not in text  # the message describes the token, never shows it
    assert "tokenpart" not in (stage.certbot_box.logs_dir / "letsencrypt.log").read_text()


@declare(
    BadInputRow(
        given="Unknown INI key: a typo (dns_variomedia_tokn)",
        door="certbot",
        result="refused by the plugin",
        says=(
            "Unknown key 'dns_variomedia_tokn' in the credentials file {file}: did you mean "
            "'dns_variomedia_token'?",
        ),
        written=NOTHING,
        requests=(0, 0),
    )
)
def test_unknown_key_typo(stage: Stage, row: BadInputRow) -> None:
    path = with_credentials(
        stage, "typo.ini", "dns_variomedia_tokn = {token}\ndns_variomedia_api_url = {url}\n"
    )
    status, text = certonly(stage, ["example.test"], credentials=path)
    stage.verify_bad_input(row, status, text, {"file": str(path)})


# -- the API URL -------------------------------------------------------------------------------


@declare(
    BadInputRow(
        given="API URL with http:// to a host that is not this machine",
        door="certbot",
        result="refused by the plugin",
        says=(
            "The API URL 'http://api.variomedia.de' uses plain http:// to a host that is not "
            "this machine; the token would travel unencrypted. Use https://",
        ),
        written=NOTHING,
        requests=(0, 0),
        promises=(4, 5),
    )
)
def test_plain_http_to_another_host(stage: Stage, row: BadInputRow) -> None:
    path = with_credentials(
        stage,
        "http.ini",
        "dns_variomedia_token = {token}\ndns_variomedia_api_url = http://api.variomedia.de\n",
    )
    status, text = certonly(stage, ["example.test"], credentials=path)
    stage.verify_bad_input(row, status, text)


@pytest.fixture
def relay_ca(tmp_path: Path) -> CertificateAuthority:
    """A CA the system does not trust (neither does certbot's environment, which trusts
    Pebble's CA only)."""
    return CertificateAuthority.create(tmp_path / "relay-ca", name="untrusted relay CA")


def _https_credentials(stage: Stage, relay: TLSRelay) -> Path:
    return with_credentials(
        stage,
        "https.ini",
        "dns_variomedia_token = {token}\n" + f"dns_variomedia_api_url = {relay.url}\n",
    )


def _relay(stage: Stage, ca: CertificateAuthority, names: list[str]) -> TLSRelay:
    leaf = ca.issue(names, directory=stage.root / "relay")
    target = urlsplit(stage.sim.url)
    assert target.hostname is not None
    assert target.port is not None
    return TLSRelay(
        (target.hostname, target.port),
        certfile=str(leaf.fullchain_path),
        keyfile=str(leaf.key_path),
    )


@declare(
    BadInputRow(
        given="https:// API URL whose certificate the system does not trust",
        door="certbot",
        result="refused by the plugin",
        says=(
            "The Variomedia API at {url} presented an HTTPS certificate that cannot be "
            "trusted (unable to get local issuer certificate); nothing was sent. Check "
            "dns_variomedia_api_url; if the API really uses a private CA, give its certificate "
            "in REQUESTS_CA_BUNDLE. Verification is never switched off.",
        ),
        written=NOTHING,
        requests=(0, 0),
        promises=(4, 5),
    )
)
def test_https_with_an_untrusted_certificate(
    stage: Stage, row: BadInputRow, relay_ca: CertificateAuthority
) -> None:
    with _relay(stage, relay_ca, ["127.0.0.1"]) as relay:
        status, text = certonly(
            stage, ["example.test"], credentials=_https_credentials(stage, relay)
        )
        attempts = relay.attempts
    stage.verify_bad_input(row, status, text, {"url": relay.url})
    assert attempts == 1  # refused at once: a certificate does not get better by retrying


@declare(
    BadInputRow(
        given="https:// API URL whose certificate is for another name",
        door="certbot",
        result="refused by the plugin",
        says=(
            "The Variomedia API at {url} presented an HTTPS certificate that cannot be "
            "trusted (IP address mismatch, certificate is not valid for '127.0.0.1'); "
            "nothing was sent. Check dns_variomedia_api_url; if the API really uses a private "
            "CA, give its certificate in REQUESTS_CA_BUNDLE. Verification is never switched off.",
        ),
        written=NOTHING,
        requests=(0, 0),
        promises=(4, 5),
    )
)
def test_https_with_a_certificate_for_another_name(
    stage: Stage, row: BadInputRow, relay_ca: CertificateAuthority
) -> None:
    with _relay(stage, relay_ca, ["api.variomedia.test"]) as relay:
        status, text = _trusting(stage, relay, relay_ca)
    stage.verify_bad_input(row, status, text, {"url": relay.url})


@declare(
    BadInputRow(
        given="https:// API URL whose certificate comes from a CA given in REQUESTS_CA_BUNDLE",
        door="certbot",
        result="works",
        says=(ISSUED,),
        written=OWN_ONLY,
        requests=(4, 4),
        promises=(5,),
    )
)
def test_https_with_a_trusted_private_ca(
    stage: Stage, row: BadInputRow, relay_ca: CertificateAuthority
) -> None:
    """The control of the two rows above: the relay works, so their refusal is about trust."""
    with _relay(stage, relay_ca, ["127.0.0.1"]) as relay:
        status, text = _trusting(stage, relay, relay_ca)
        handshakes = relay.handshakes
    stage.verify_bad_input(row, status, text)
    assert handshakes >= 1


def _trusting(stage: Stage, relay: TLSRelay, ca: CertificateAuthority) -> tuple[int, str]:
    """certbot with the relay's CA added to the CAs it trusts (Pebble's, for the ACME side)."""
    env = stage.box.env()
    pebble = x509.load_pem_x509_certificates(Path(env["REQUESTS_CA_BUNDLE"]).read_bytes())
    bundle = write_pem_bundle(stage.root / "trusted.pem", [*pebble, ca.certificate])
    result = subprocess.run(
        stage.command(
            ["example.test"], cert_name="row", credentials=_https_credentials(stage, relay)
        ),
        env={**env, "REQUESTS_CA_BUNDLE": str(bundle)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.returncode, output(result)


# -- certbot options ---------------------------------------------------------------------------


@declare(
    BadInputRow(
        given="--dns-variomedia-credentials not given (non-interactive run)",
        door="certbot",
        result="refused by certbot",
        says=("Missing command line flag or config entry for this setting:",),
        written=NOTHING,
        requests=(0, 0),
    )
)
def test_credentials_option_missing(stage: Stage, row: BadInputRow) -> None:
    command = stage.command(["example.test"], cert_name="row")
    at = command.index("--dns-variomedia-credentials")
    del command[at : at + 2]
    result = stage.run(command)
    stage.verify_bad_input(row, result.returncode, output(result))


@declare(
    BadInputRow(
        given="TTL out of range (--dns-variomedia-ttl 60)",
        door="certbot",
        result="refused by the plugin",
        says=(
            "--dns-variomedia-ttl must be between 300 and 86400 seconds (Variomedia's "
            "limits); it is 60.",
        ),
        written=NOTHING,
        requests=(0, 0),
    )
)
def test_ttl_out_of_range(stage: Stage, row: BadInputRow) -> None:
    status, text = certonly(stage, ["example.test"], extra=["--dns-variomedia-ttl", "60"])
    stage.verify_bad_input(row, status, text)


@declare(
    BadInputRow(
        given="Negative propagation time (--dns-variomedia-propagation-seconds -5)",
        door="certbot",
        result="refused by the plugin",
        says=(
            "--dns-variomedia-propagation-seconds must be a number of seconds (0 or more); "
            "it is -5.",
        ),
        written=NOTHING,
        requests=(0, 0),
    )
)
def test_negative_propagation_seconds(stage: Stage, row: BadInputRow) -> None:
    # Written with "=": certbot's own parser takes a separate "-5" for an option and crashes.
    extra = ["--dns-variomedia-propagation-seconds=-5"]
    status, text = certonly(stage, ["example.test"], extra=extra)
    stage.verify_bad_input(row, status, text)


@declare(
    BadInputRow(
        given="--dns-variomedia-nameservers malformed (127.0.0.1:notaport)",
        door="certbot",
        result="refused by the plugin",
        says=("'127.0.0.1:notaport' in --dns-variomedia-nameservers is not host[:port]",),
        written=NOTHING,
        requests=(0, 0),
    )
)
def test_nameservers_malformed(stage: Stage, row: BadInputRow) -> None:
    command = stage.command(["example.test"], cert_name="row")
    command[command.index("--dns-variomedia-nameservers") + 1] = "127.0.0.1:notaport"
    result = stage.run(command)
    stage.verify_bad_input(row, result.returncode, output(result))


@declare(
    BadInputRow(
        given="--dns-variomedia-nameservers unreachable (nothing answers at 127.0.0.1:9)",
        door="certbot",
        result="refused by the plugin",
        says=(
            "CNAME lookup for _acme-challenge.example.test failed: no answer within 6 s from "
            "127.0.0.1:9. Check that the servers given with --dns-variomedia-nameservers "
            "answer DNS queries from this machine.",
        ),
        written=NOTHING,
        requests=(1, 1),
    )
)
def test_nameservers_unreachable(stage: Stage, row: BadInputRow) -> None:
    command = stage.command(["example.test"], cert_name="row")
    command[command.index("--dns-variomedia-nameservers") + 1] = "127.0.0.1:9"
    result = stage.run(command)
    stage.verify_bad_input(row, result.returncode, output(result))


# -- names -------------------------------------------------------------------------------------


@declare(
    BadInputRow(
        given="A name outside the account (www.example.org)",
        door="certbot",
        result="refused by the plugin",
        says=(
            "www.example.org is not in a domain of this Variomedia account; the account's "
            "domains with DNS at Variomedia: bücher.test, example.test, other.test; registered "
            "without DNS here: nodns.test. Check the name, or the token in the credentials file.",
        ),
        written=NOTHING,
        requests=(1, 1),
    )
)
def test_name_outside_the_account(stage: Stage, row: BadInputRow) -> None:
    status, text = certonly(stage, ["example.test", "www.example.org"])
    stage.verify_bad_input(row, status, text)


@declare(
    BadInputRow(
        given="A name in a domain of the account whose DNS is not at Variomedia",
        door="certbot",
        result="refused by the plugin",
        says=(
            "_acme-challenge.www.nodns.test is in nodns.test, which this account has but "
            "whose DNS is not hosted at Variomedia (the domain has no 'presence')",
        ),
        written=NOTHING,
        requests=(1, 1),
    )
)
def test_name_in_a_domain_without_dns_here(stage: Stage, row: BadInputRow) -> None:
    status, text = certonly(stage, ["www.nodns.test"])
    stage.verify_bad_input(row, status, text)


@declare(
    BadInputRow(
        given="An internationalised name in Unicode (bücher.test)",
        door="certbot",
        result="refused by certbot",
        says=(
            "Non-ASCII domain names not supported. To issue for an Internationalized Domain "
            "Name, use Punycode.",
        ),
        written=NOTHING,
        requests=(0, 0),
    )
)
def test_idn_in_unicode(stage: Stage, row: BadInputRow) -> None:
    status, text = certonly(stage, ["bücher.test"])
    stage.verify_bad_input(row, status, text)


@declare(
    BadInputRow(
        given="An internationalised name in Punycode (xn--bcher-kva.test, apex and wildcard)",
        door="certbot",
        result="works",
        says=(ISSUED,),
        written=OWN_ONLY,
        requests=(6, 6),
        promises=(2,),
    )
)
def test_idn_in_punycode(stage: Stage, row: BadInputRow) -> None:
    status, text = certonly(stage, ["xn--bcher-kva.test", "*.xn--bcher-kva.test"])
    stage.verify_bad_input(row, status, text)
    assert {r.domain_ace for r in stage.created()} == {"xn--bcher-kva.test"}
    assert {r.name_ace for r in stage.created()} == {"_acme-challenge"}


@declare(
    BadInputRow(
        given="A name in capitals (WWW.Example.TEST)",
        door="certbot",
        result="works",
        says=(ISSUED,),
        written=OWN_ONLY,
        requests=(4, 4),
        promises=(2,),
    )
)
def test_name_in_capitals(stage: Stage, row: BadInputRow) -> None:
    status, text = certonly(stage, ["WWW.Example.TEST"])
    stage.verify_bad_input(row, status, text)
    assert {r.fqdn_ace for r in stage.created()} == {"_acme-challenge.www.example.test"}


@declare(
    BadInputRow(
        given="A name with a trailing dot (example.test.)",
        door="certbot",
        result="works",
        says=(ISSUED,),
        written=OWN_ONLY,
        requests=(4, 4),
        promises=(2,),
    )
)
def test_name_with_a_trailing_dot(stage: Stage, row: BadInputRow) -> None:
    status, text = certonly(stage, ["example.test."])
    stage.verify_bad_input(row, status, text)
    assert {r.fqdn_ace for r in stage.created()} == {"_acme-challenge.example.test"}


@declare(
    BadInputRow(
        given="A wildcard of a wildcard (*.*.example.test)",
        door="certbot",
        result="refused by the CA",
        says=(
            "Order included DNS type identifier with illegal wildcard value: too many "
            'wildcards "*.*.example.test"',
        ),
        written=NOTHING,
        requests=(0, 0),
    )
)
def test_wildcard_of_a_wildcard(stage: Stage, row: BadInputRow) -> None:
    """certbot passes the name on; the CA (Pebble here) refuses the order before any
    challenge exists. The plugin's own check (`names.identifier_name`) is a property test."""
    status, text = certonly(stage, ["*.*.example.test"])
    stage.verify_bad_input(row, status, text)


@declare(
    BadInputRow(
        given="An _acme-challenge CNAME loop",
        door="certbot",
        result="refused by the plugin",
        says=(
            "The CNAME chain at _acme-challenge.loop.example.test loops "
            "(_acme-challenge.loop.example.test → hop.example.test → "
            "_acme-challenge.loop.example.test); fix the CNAME records.",
        ),
        written=NOTHING,
        requests=(1, 1),
    )
)
def test_acme_challenge_cname_loop(stage: Stage, row: BadInputRow) -> None:
    stage.sim.add_record("example.test", "_acme-challenge.loop", "CNAME", "hop.example.test")
    stage.sim.add_record("example.test", "hop", "CNAME", "_acme-challenge.loop.example.test")
    stage.untouched = stage.snapshot_others()
    status, text = certonly(stage, ["loop.example.test"])
    stage.verify_bad_input(row, status, text)


# -- the Control Panel -------------------------------------------------------------------------


@pytest.fixture
def panel() -> Iterator[ControlPanelSimulator]:
    simulator = ControlPanelSimulator(ControlPanelSimConfig(emails_per_domain=120, seed=11))
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


@declare(
    BadInputRow(
        given="A Control Panel search window too large for the API (error 3089)",
        door="client",
        result="split and complete",
        says=(),
        written="read only; every e-mail once, none lost",
        requests=(12, 12),
        promises=(),
    )
)
def test_control_panel_window_too_large(panel: ControlPanelSimulator, row: BadInputRow) -> None:
    panel.window_limit = 40  # 120 e-mails in the week: refused until split into parts
    cp = ControlPanelClient(
        Transport(
            panel.url,
            app_id=panel.config.app_id,
            app_version=panel.config.app_version,
            cp_token=panel.config.cp_token,
            timeout=(2.0, 5.0),
        )
    )
    with cp:
        cp.login(panel.config.username, panel.config.password)
        start = panel.now - datetime.timedelta(days=8)
        mails = list(
            cp.search_emails(panel.object_id("example.test"), start, panel.now, page_size=25)
        )
    keys = [m.key for m in mails]
    assert len(keys) == len(set(keys)) == 120
    assert sorted(m.subject for m in mails) == sorted(
        str(m["subject"]) for m in panel.emails("example.test")
    )
    assert panel.counters["status 400"] >= 1  # the refusals that were split
    figures = measure(row.test)
    figures.requests = sum(n for key, n in panel.counters.items() if key.startswith("status "))
    low, high = row.requests
    assert low <= figures.requests <= high, panel.counters
    writes = [
        key
        for key in panel.counters
        if key.startswith(("POST", "PUT", "PATCH", "DELETE"))
        and not key.endswith(("auth/login/", "auth/logout/", "emails/_search/"))
    ]
    assert writes == []
    figures.done = True


@declare(
    BadInputRow(
        given="Control Panel credentials that are refused (wrong password)",
        door="cp-audit",
        result="refused by the Control Panel",
        says=(
            "cp-audit: The Control Panel refused POST auth/login/",
            "check cp_username and cp_password (and cp_token, cp_app_id) in {file}",
        ),
        written="nothing: no search after the refused login",
        requests=(1, 1),
        promises=(4, 5),
    )
)
def test_control_panel_credentials_refused(
    panel: ControlPanelSimulator, row: BadInputRow, tmp_path: Path
) -> None:
    path = panel.write_credentials(tmp_path / "cp.ini")
    path.write_text(path.read_text().replace("sim-password", "wrong-password-4711"))
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("cp-audit")),
            "--domain",
            "example.test",
            "--credentials",
            str(path),
            "--dns-server",
            "127.0.0.1:9",
            "--timeout",
            "2",
            "-vv",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    text = done.stdout + done.stderr
    assert done.returncode == 3, text
    for fragment in row.says:
        assert fragment.format(file=path) in text
    for secret in ("wrong-password-4711", panel.config.cp_token):
        assert secret not in text  # promise 5, with debug logging on
    figures = measure(row.test)
    figures.requests = sum(n for key, n in panel.counters.items() if key.startswith("status "))
    assert panel.counters["POST /api/v0/emails/_search/"] == 0
    low, high = row.requests
    assert low <= figures.requests <= high, panel.counters
    figures.done = True


@declare(
    BadInputRow(
        given="A Control Panel that answers 429 to a sixth request within one second",
        door="cp-audit",
        result="works",
        says=(),
        written="read only; the audit's own requests draw no 429",
        requests=(7, 7),
        promises=(3,),
    )
)
def test_control_panel_allowing_5_requests_per_second(
    panel: ControlPanelSimulator,
    row: BadInputRow,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    panel.config.rate_limit = 5
    panel.config.control_panel_host = "127.0.0.1"  # no whitelabel host to look up
    zones = StaticZones()
    zones.add_zone("example.test")
    zones.add("example.test", "MX", "0 .")  # null MX: no gateway to probe, only the panel
    with DNSServer(zones) as dns:
        status = cp_audit(
            [
                "--domain",
                "example.test",
                "--credentials",
                str(panel.write_credentials(tmp_path / "cp.ini")),
                "--dns-server",
                f"127.0.0.1:{dns.port}",
            ]
        )
    report = capsys.readouterr().out
    assert status == 0, report
    figures = measure(row.test)
    figures.requests = sum(n for key, n in panel.counters.items() if key.startswith("status "))
    figures.rate_limited = panel.counters["status 429"]
    assert figures.rate_limited == 0, panel.counters
    low, high = row.requests
    assert low <= figures.requests <= high, panel.counters
    figures.done = True
