"""Each error the Control Panel answers becomes one exception with all four fields and advice."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from certbot_dns_variomedia.clock import SYSTEM_CLOCK
from certbot_dns_variomedia.controlpanel.client import ControlPanelClient
from certbot_dns_variomedia.controlpanel.errors import ControlPanelError
from certbot_dns_variomedia.controlpanel.transport import Transport
from certbot_dns_variomedia.testing.controlpanel.simulator import ControlPanelSimulator

from .conftest import RecordingClock, make_client


def test_missing_object_id_says_to_give_a_domain(client: ControlPanelClient) -> None:
    with pytest.raises(ControlPanelError) as caught:
        client.transport.call("GET", "whitelabeling/")
    error = caught.value
    assert error.status_code == 400
    assert error.error_id == 2009
    assert error.error_message == "Validationerror"
    assert error.error_data == {"object_id": ["This field is required."]}
    assert "object_id is required: this request needs a domain scope; run with --domain" in str(
        error
    )


def test_object_outside_the_scope(client: ControlPanelClient) -> None:
    with pytest.raises(ControlPanelError, match="scope includes the domain") as caught:
        client.whitelabeling(424242)
    assert caught.value.status_code == 403
    assert caught.value.error_id == 1003


def test_malformed_body_field(client: ControlPanelClient, sim: ControlPanelSimulator) -> None:
    with pytest.raises(ControlPanelError, match="date_from must be a time") as caught:
        client.transport.call(
            "POST",
            "emails/_search/",
            params={"object_id": sim.object_id("example.test")},
            json_body={"date_from": "yesterday", "date_to": "2024-01-01T00:00:00Z"},
        )
    assert caught.value.error_data == {
        "date_from": ["Datetime has wrong format. Use YYYY-MM-DDThh:mm:ssZ."]
    }


def test_refused_login_names_the_keys_to_check(sim: ControlPanelSimulator) -> None:
    with make_client(sim) as cp, pytest.raises(ControlPanelError) as caught:
        cp.login(sim.config.username, "not-the-password")
    error = caught.value
    assert error.status_code == 401
    assert error.error_id == 1005
    assert "check cp_username and cp_password" in str(error)
    assert "not-the-password" not in str(error)
    assert not cp.logged_in


@pytest.mark.parametrize(
    ("option", "advice"),
    [("app_id", "check cp_app_id"), ("cp_token", "check cp_token")],
)
def test_wrong_app_headers_name_the_key_to_fix(
    sim: ControlPanelSimulator, option: str, advice: str
) -> None:
    cp = (
        make_client(sim, app_id="wrong-value")
        if option == "app_id"
        else make_client(sim, cp_token="wrong-value")
    )
    with cp, pytest.raises(ControlPanelError, match=advice) as caught:
        cp.login(sim.config.username, sim.config.password)
    assert caught.value.status_code == 403
    assert caught.value.error_id == 1001
    assert "wrong-value" not in str(caught.value)


def test_expired_session_token(client: ControlPanelClient, sim: ControlPanelSimulator) -> None:
    sim._sessions.clear()  # the server forgets the session (e.g. it expired)
    with pytest.raises(ControlPanelError, match="session token was refused") as caught:
        client.version()
    assert caught.value.status_code == 401
    assert caught.value.error_data == {"authorization": ["Invalid or expired token."]}


def test_server_error_without_the_documented_shape(
    client: ControlPanelClient, sim: ControlPanelSimulator
) -> None:
    sim.faults.fail(1)
    with pytest.raises(ControlPanelError, match="try again later") as caught:
        client.version()
    assert caught.value.status_code == 500
    assert client.version() == sim.config.version  # one failure, then fine


def test_unknown_path(client: ControlPanelClient) -> None:
    with pytest.raises(ControlPanelError, match="check the Control Panel URL") as caught:
        client.transport.call("GET", "no-such-thing/")
    assert caught.value.status_code == 404


def test_nobody_listening() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cp = ControlPanelClient(
        Transport(
            f"http://127.0.0.1:{port}/api/v0/",
            app_id="a",
            app_version="1.0.0.0",
            cp_token="t" * 20,
            timeout=(1.0, 1.0),
        )
    )
    with cp, pytest.raises(ControlPanelError, match="Cannot reach the Control Panel") as caught:
        cp.login("user", "pass")
    assert caught.value.status_code is None


# -- 429 -------------------------------------------------------------------------------------


def test_429_waits_as_retry_after_says(
    client: ControlPanelClient, sim: ControlPanelSimulator, clock: RecordingClock
) -> None:
    sim.faults.rate_limit(2, retry_after="3")
    assert client.version() == sim.config.version
    assert clock.sleeps == [3.0, 3.0]
    assert sim.counters["status 429"] == 2


def test_429_without_retry_after_backs_off(
    client: ControlPanelClient, sim: ControlPanelSimulator, clock: RecordingClock
) -> None:
    sim.faults.rate_limit(2, retry_after=None)
    assert client.version() == sim.config.version
    assert clock.sleeps == [1.0, 2.0]


def test_429_beyond_the_bound_is_an_error_at_once(
    client: ControlPanelClient, sim: ControlPanelSimulator, clock: RecordingClock
) -> None:
    sim.faults.rate_limit(1, retry_after="3600")
    with pytest.raises(ControlPanelError, match="rate limiting") as caught:
        client.version()
    assert caught.value.status_code == 429
    assert clock.sleeps == []


def test_429_retries_are_bounded(sim: ControlPanelSimulator, clock: RecordingClock) -> None:
    with make_client(sim, clock, max_retries=2) as cp:
        sim.faults.rate_limit(10, retry_after="1")
        with pytest.raises(ControlPanelError) as caught:
            cp.login(sim.config.username, sim.config.password)
    assert caught.value.status_code == 429
    assert clock.sleeps == [1.0, 1.0]
    assert sim.counters["status 429"] == 3


def test_paced_below_a_panel_that_allows_5_requests_per_second(
    sim: ControlPanelSimulator,
) -> None:
    """Issue 12 section 9: the client's own traffic never draws a 429 (real clock, real HTTP)."""
    sim.config.rate_limit = 5
    with make_client(sim, SYSTEM_CLOCK) as cp:
        cp.login(sim.config.username, sim.config.password)
        for _ in range(6):
            cp.version()
    assert sim.counters["status 429"] == 0
    assert sim.counters["GET /api/v0/version/"] == 6


def test_the_rate_is_configurable(sim: ControlPanelSimulator, clock: RecordingClock) -> None:
    with make_client(sim, clock, rate=2.0) as cp:
        cp.login(sim.config.username, sim.config.password)
        cp.version()
        assert clock.sleeps == []  # two requests fit the first second
        cp.version()
    (wait,) = clock.sleeps  # the third waits for it to pass; the logout fits the next
    assert 1.0 <= wait < 1.2


# -- a server that misbehaves in ways the simulator does not ---------------------------------


class _Odd(BaseHTTPRequestHandler):
    """Answers per path: a redirect, an HTML page, an error that echoes the request body."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path.endswith("/auth/login/") and b"echo" in body:
            payload = json.dumps(
                {
                    "error_data": {"password": [f"{json.loads(body)['password']} is wrong"]},
                    "error_message": f"no user with body {body.decode()}",
                    "error_id": 1,
                    "status_code": 400,
                }
            ).encode()
            self._send(400, payload, "application/json")
        elif self.path.endswith("/auth/login/"):
            self._send(302, b"", "text/plain", location="http://elsewhere.invalid/")
        else:
            self._send(200, b"<html>proxy says hi</html>", "text/html")

    def _send(self, status: int, body: bytes, kind: str, location: str = "") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if location:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def odd_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Odd)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v0/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _odd_client(url: str) -> ControlPanelClient:
    return ControlPanelClient(
        Transport(
            url, app_id="a", app_version="1.0.0.0", cp_token="cp-token-secret", timeout=(2.0, 5.0)
        )
    )


def test_redirects_are_not_followed(odd_url: str) -> None:
    with _odd_client(odd_url) as cp, pytest.raises(ControlPanelError, match="redirected") as caught:
        cp.login("user", "pass")
    assert caught.value.status_code == 302
    assert caught.value.needs_fix


def test_an_answer_that_is_not_json(odd_url: str) -> None:
    with _odd_client(odd_url) as cp, pytest.raises(ControlPanelError, match="not JSON"):
        cp.transport.call("POST", "hierarchy/_search/", authorized=False)


def test_secrets_echoed_by_the_server_are_scrubbed(odd_url: str) -> None:
    with _odd_client(odd_url) as cp, pytest.raises(ControlPanelError) as caught:
        cp.login("echo", "the-password-123")
    error = caught.value
    for text in (str(error), repr(error), str(error.error_message), json.dumps(error.error_data)):
        assert "the-password-123" not in text
    assert error.error_data == {"password": ["*** is wrong"]}
