"""The transport under the client, against the simulator over real HTTP: error mapping, retries,
Retry-After, and the URL and token rules."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from certbot_dns_variomedia.api.client import VariomediaClient
from certbot_dns_variomedia.api.transport import check_api_url
from certbot_dns_variomedia.errors import (
    AuthenticationError,
    ConfigurationError,
    NetworkError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from certbot_dns_variomedia.http_util import proxies_for
from certbot_dns_variomedia.pacing import RequestPacer
from certbot_dns_variomedia.testing.servers.service import free_port
from certbot_dns_variomedia.testing.variomedia.simulator import VariomediaSimulator

from .conftest import FAST, client_for

# -- errors ----------------------------------------------------------------------------------


def test_refused_token_says_where_to_fix_it(sim: VariomediaSimulator) -> None:
    client = VariomediaClient(
        "wrong-token-0000000", sim.url, token_source="dns_variomedia_token in /x.ini", retry=FAST
    )
    with pytest.raises(AuthenticationError) as e:
        client.list_domains()
    assert "check dns_variomedia_token in /x.ini" in str(e.value)
    assert "wrong-token" not in str(e.value)
    assert "wrong-token" not in repr(client)


def test_expired_token_mid_run(sim: VariomediaSimulator, client: VariomediaClient) -> None:
    client.list_domains()
    sim.faults.expire_token()
    with pytest.raises(AuthenticationError, match="401"):
        client.list_records()


def test_5xx_bursts_on_idempotent_requests_are_retried(
    sim: VariomediaSimulator, client: VariomediaClient
) -> None:
    sim.faults.server_errors(2, method="GET")
    assert client.list_domains()
    assert sim.counters.by_status.get(503) == 2


def test_persistent_5xx_gives_up_with_a_clear_error(
    sim: VariomediaSimulator, client: VariomediaClient
) -> None:
    sim.faults.server_errors(100)
    with pytest.raises(ServerError, match="Try again later"):
        client.list_domains()
    assert sim.counters.total == FAST.attempts


@pytest.mark.parametrize("fault", ["html_errors", "truncate_json"])
def test_answers_that_are_not_json_api(
    sim: VariomediaSimulator, client: VariomediaClient, fault: str
) -> None:
    getattr(sim.faults, fault)(100, method="GET")
    with pytest.raises(ServerError) as e:
        client.list_domains()
    assert "not JSON:API" in str(e.value) or "HTML page" in str(e.value)


def test_no_server_is_a_network_error() -> None:
    port = free_port()[0]
    client = VariomediaClient("a-token-123456789", f"http://127.0.0.1:{port}", retry=FAST)
    with pytest.raises(NetworkError, match="No answer from the Variomedia API"):
        client.list_domains()


def test_slow_answers_hit_the_read_timeout(sim: VariomediaSimulator) -> None:
    sim.faults.slow(2.0, count=100)
    client = client_for(sim, timeout=(1.0, 0.3), retry=replace(FAST, attempts=2))
    with pytest.raises(NetworkError, match="timed out"):
        client.list_domains()


def test_failures_in_a_row_stop_the_client(sim: VariomediaSimulator) -> None:
    sim.faults.server_errors(1000)
    client = client_for(sim, retry=replace(FAST, attempts=3, max_consecutive_failures=5))
    with pytest.raises(ServerError):
        client.list_domains()
    with pytest.raises(ServerError, match="Giving up after 5 failed requests in a row"):
        client.list_domains()
    assert sim.counters.total == 5


# -- Retry-After -----------------------------------------------------------------------------


def test_retry_after_is_honoured(sim: VariomediaSimulator, client: VariomediaClient) -> None:
    sim.faults.rate_limit_storm(1, retry_after=1)
    client.list_domains()
    refused, retried = sim.log[0], sim.log[1]
    assert refused.status == 429
    assert retried.status == 200
    assert retried.time - refused.time >= 1.0


def test_a_retry_after_beyond_the_bound_is_reported_not_waited(
    sim: VariomediaSimulator, client: VariomediaClient
) -> None:
    sim.faults.rate_limit_storm(1, retry_after=3600)
    started = time.monotonic()
    with pytest.raises(RateLimitError, match="asked to wait 3600 s"):
        client.list_domains()
    assert time.monotonic() - started < 5


# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.variomedia.de", True),
        ("https://api.variomedia.de/", True),
        ("http://127.0.0.1:8080", True),
        ("http://[::1]:8080", True),
        ("http://localhost", True),
        ("http://api.variomedia.de", False),
        ("http://10.0.0.1", False),
        ("ftp://api.variomedia.de", False),
        ("https://user:pw@api.variomedia.de", False),
    ],
)
def test_api_url_rules(url: str, ok: bool) -> None:
    if ok:
        assert check_api_url(url) == url.rstrip("/")
    else:
        with pytest.raises(ConfigurationError):
            check_api_url(url)


@pytest.mark.parametrize("token", ["", "has space", "line\nbreak"])
def test_malformed_tokens_are_refused_before_any_request(token: str) -> None:
    with pytest.raises(ConfigurationError, match="empty or malformed"):
        VariomediaClient(token, "https://api.variomedia.de")


# -- a hostile or broken server ---------------------------------------------------------------


def test_an_error_that_echoes_the_request_is_scrubbed(
    sim: VariomediaSimulator, client: VariomediaClient
) -> None:
    """A proxy or debugging server that echoes the request headers once put the token on
    stderr (and in every cron mail), with its line breaks and terminal escapes."""
    sim.faults.echo_headers(method="POST")
    with pytest.raises(ValidationError) as caught:
        client.create_record("example.test", "_acme-challenge", "TXT", "v")
    message = str(caught.value)
    assert message.startswith("The Variomedia API rejected POST /dns-records (400: You sent: ")
    assert "authorization: token ***" in message
    assert sim.token not in message
    assert not [c for c in message if not c.isprintable()]
    assert len(message) < 400


def test_a_redirect_is_an_error_that_names_where_it_points(
    sim: VariomediaSimulator, client: VariomediaClient
) -> None:
    """A redirect with an HTML body once ended in an uncaught MalformedDocument traceback."""
    sim.faults.redirect(status=302, location=f"https://login.example.test/?t={sim.token}")
    with pytest.raises(ServerError) as caught:
        client.list_domains()
    assert str(caught.value) == (
        "The Variomedia API answered GET /domains with a redirect (302) to "
        "https://login.example.test/?t=***; redirects are not followed (they would carry the "
        "token elsewhere). Set dns_variomedia_api_url to the address the API answers at."
    )
    assert client.requests_sent == 1


# -- the environment --------------------------------------------------------------------------


def test_a_proxy_from_the_environment_never_sees_a_loopback_request(
    sim: VariomediaSimulator,
    client: VariomediaClient,
    proxy: tuple[str, list[bytes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With HTTP_PROXY set, the token once went in clear to the proxy for http://127.0.0.1."""
    url, seen = proxy
    for variable in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(variable, url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with VariomediaClient(sim.token, sim.url, pacer=RequestPacer(limit=1000, window=1.0)) as c:
        assert "example.test" in [d.name for d in c.list_domains()]
    assert seen == []


def test_proxies_are_taken_from_the_environment_only_for_other_hosts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.test:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert proxies_for("https://api.variomedia.de")["https"] == "http://proxy.example.test:3128"
    assert proxies_for("https://127.0.0.1:8443") == {}
    assert proxies_for("http://[::1]:8080") == {}
    monkeypatch.setenv("NO_PROXY", "variomedia.de")
    assert "https" not in proxies_for("https://api.variomedia.de")


def test_a_netrc_default_entry_never_replaces_the_token(
    sim: VariomediaSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 'default' entry in root's ~/.netrc once replaced the token: the API got someone
    else's credentials (and refused the request)."""
    netrc = tmp_path / "netrc"
    netrc.write_text("default login somebody password unrelated-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    with VariomediaClient(sim.token, sim.url, pacer=RequestPacer(limit=1000, window=1.0)) as c:
        assert "example.test" in [d.name for d in c.list_domains()]
