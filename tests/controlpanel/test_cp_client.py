"""The Control Panel client against the simulator over real HTTP: session, every call, headers."""

from __future__ import annotations

import datetime
import logging
import threading

import pytest

from certbot_dns_variomedia.controlpanel.client import ControlPanelClient
from certbot_dns_variomedia.controlpanel.errors import ControlPanelError
from certbot_dns_variomedia.controlpanel.models import Direction, Encryption
from certbot_dns_variomedia.testing.controlpanel.simulator import (
    ControlPanelSimConfig,
    ControlPanelSimulator,
    make_email,
)

from .conftest import RecordingClock, make_client

APP_HEADERS = {"app-id", "app-version", "cp-token"}


def test_login_returns_scope_and_logout_ends_the_session(sim: ControlPanelSimulator) -> None:
    cp = make_client(sim)
    login = cp.login(sim.config.username, sim.config.password)
    assert login.object_id == sim.config.partner_id
    assert "logged in" in repr(cp)
    assert sim.active_sessions == 1
    cp.logout()
    assert "logged out" in repr(cp)
    assert sim.active_sessions == 0
    assert sim.counters["logouts"] == 1
    with pytest.raises(ControlPanelError, match="Not logged in"):
        cp.version()
    cp.close()


def test_context_manager_logs_out_even_when_the_body_fails(sim: ControlPanelSimulator) -> None:
    def work() -> None:
        with make_client(sim) as cp:
            cp.login(sim.config.username, sim.config.password)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        work()
    assert sim.counters["logouts"] == 1
    assert sim.active_sessions == 0


def test_every_request_carries_the_app_headers_and_the_session_after_login(
    client: ControlPanelClient, sim: ControlPanelSimulator
) -> None:
    client.version()
    client.whitelabeling_infos()
    login, *rest = sim.log
    assert login.path == "/api/v0/auth/login/"
    assert login.header_names >= APP_HEADERS
    assert "authorization" not in login.header_names
    assert rest
    for entry in rest:
        assert entry.header_names >= APP_HEADERS | {"authorization"}


def test_version(client: ControlPanelClient, sim: ControlPanelSimulator) -> None:
    assert client.version() == sim.config.version


def test_hierarchy_search_and_domain_lookup(
    client: ControlPanelClient, sim: ControlPanelSimulator
) -> None:
    (partner,) = client.hierarchy_search("example.test")
    assert partner.id == sim.config.partner_id
    assert [c.name for c in partner.children] == ["example.test"]
    assert client.object_id_for_domain("Example.Test.") == sim.object_id("example.test")
    assert sim.log[-1].body_keys == {"search_string", "filter"}


def test_unknown_domain_says_what_to_check(client: ControlPanelClient) -> None:
    with pytest.raises(ControlPanelError, match=r"no domain 'nowhere\.test'.*--domain"):
        client.object_id_for_domain("nowhere.test")


def test_search_returns_every_email_of_the_window_in_both_shapes(
    client: ControlPanelClient, sim: ControlPanelSimulator
) -> None:
    object_id = sim.object_id("example.test")
    start = sim.now - datetime.timedelta(days=8)
    mails = list(client.search_emails(object_id, start, sim.now, page_size=25))
    assert len(mails) == len(sim.emails("example.test")) == 120
    assert sorted(m.subject for m in mails) == sorted(
        str(m["subject"]) for m in sim.emails("example.test")
    )
    # The seeded data alternates the guide's shape and the connectors' shape.
    guide = [m for m in mails if m.crypt_type_in is None]
    connectors = [m for m in mails if m.crypt_type_in is not None]
    assert len(guide) == len(connectors) == 60
    assert {m.encryption for m in guide} > {Encryption.TLS, Encryption.NONE, Encryption.DANE}
    tls = [m for m in connectors if m.encryption is Encryption.TLS]
    assert tls
    assert all(m.smtp_tls is not None and m.smtp_tls.version == "TLSv1.3" for m in tls)
    assert {m.encryption for m in connectors} == {Encryption.TLS, Encryption.NONE}
    assert all(m.direction in (Direction.INBOUND, Direction.OUTBOUND) for m in mails)


def test_search_pages_with_offset_and_limit(
    client: ControlPanelClient, sim: ControlPanelSimulator
) -> None:
    object_id = sim.object_id("example.test")
    start = sim.now - datetime.timedelta(days=8)
    mails = list(client.search_emails(object_id, start, sim.now, page_size=50))
    assert len(mails) == 120
    searches = [e for e in sim.log if e.path == "/api/v0/emails/_search/"]
    assert len(searches) == 3  # 50 + 50 + 20
    assert all(e.body_keys >= {"offset", "limit", "date_from", "date_to"} for e in searches)
    assert all(e.query == {"object_id": str(object_id)} for e in searches)


def test_search_filters_by_direction(
    client: ControlPanelClient, sim: ControlPanelSimulator
) -> None:
    object_id = sim.object_id("example.test")
    start = sim.now - datetime.timedelta(days=8)
    outbound = list(client.search_emails(object_id, start, sim.now, direction=[Direction.OUTBOUND]))
    expected = [m for m in sim.emails("example.test") if m["direction"] == 2]
    assert len(outbound) == len(expected) > 0
    assert all(m.direction is Direction.OUTBOUND for m in outbound)


def test_statistics_count_each_classification(
    client: ControlPanelClient, sim: ControlPanelSimulator
) -> None:
    object_id = sim.object_id("example.test")
    start = sim.now - datetime.timedelta(days=8)
    stats = client.email_statistics_by_time(object_id, start, sim.now)
    by_name = {s.name: s.value for s in stats}
    assert set(by_name) == {"clean", "spam", "info", "content", "atp", "virus", "rejected"}
    assert sum(by_name.values()) == 120
    clean = sum(1 for m in sim.emails("example.test") if m["classification"]["id"] == 2)
    assert by_name["clean"] == clean


def test_whitelabeling_by_object_and_by_host(
    client: ControlPanelClient, sim: ControlPanelSimulator
) -> None:
    object_id = sim.object_id("example.test")
    assert client.whitelabeling(object_id).domain == sim.config.control_panel_host
    sim.whitelabel[object_id] = "cp.brand.test"
    customised = client.whitelabeling(object_id)
    assert customised.domain == "cp.brand.test"
    assert customised.primary_colour == "#15358B"
    assert client.whitelabeling_infos().domain == sim.config.control_panel_host


def test_one_request_at_a_time_even_from_threads(
    client: ControlPanelClient, sim: ControlPanelSimulator
) -> None:
    threads = [threading.Thread(target=client.version) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert sim.counters["GET /api/v0/version/"] == 8
    assert sim.max_in_flight == 1


def test_tokens_and_password_stay_out_of_reprs_and_logs(
    sim: ControlPanelSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with make_client(sim) as cp:
        cp.login(sim.config.username, sim.config.password)
        token = cp.transport.session_token
        assert token
        cp.version()
        shown = repr(cp)
    for secret in (token, sim.config.password, sim.config.cp_token):
        assert secret not in shown
        assert secret not in caplog.text


def test_seeded_data_is_deterministic() -> None:
    when = datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.timezone.utc)
    one = ControlPanelSimulator(ControlPanelSimConfig(now=when, seed=3))
    two = ControlPanelSimulator(ControlPanelSimConfig(now=when, seed=3))
    other = ControlPanelSimulator(ControlPanelSimConfig(now=when, seed=4))
    assert one.emails("example.test") == two.emails("example.test")
    assert one.emails("example.test") != other.emails("example.test")


def test_make_email_shapes() -> None:
    when = datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.timezone.utc)
    guide = make_email(date=when, domain="example.test", encryption="EMIG")
    assert guide["encryption"]["text"] == "EMIG"
    assert guide["date"] == "2024-05-01T12:00:00Z"
    connectors = make_email(date=when, domain="example.test", shape="crypt_type", direction=2)
    assert connectors["crypt_type_out"] == {"id": 7, "text": "TLS"}
    assert "TLS_VER=TLSv1.3" in connectors["smtp_dialog"]


def test_clock_is_not_used_for_sleeping_without_429(
    client: ControlPanelClient, clock: RecordingClock
) -> None:
    client.version()
    assert clock.sleeps == []
