"""E-mail search: paging, splitting windows the API refuses, no e-mail lost or repeated."""

from __future__ import annotations

import datetime

import pytest

from certbot_dns_variomedia.controlpanel.client import ControlPanelClient
from certbot_dns_variomedia.controlpanel.errors import WINDOW_TOO_LARGE, ControlPanelError
from certbot_dns_variomedia.controlpanel.models import Email, EmailPage
from certbot_dns_variomedia.controlpanel.search import walk_emails
from certbot_dns_variomedia.testing.controlpanel.simulator import ControlPanelSimulator, make_email

from .conftest import make_client

UTC = datetime.timezone.utc
T0 = datetime.datetime(2024, 3, 1, 8, 0, 0, tzinfo=UTC)


def _searches(sim: ControlPanelSimulator) -> list[int]:
    return [e.status for e in sim.log if e.path == "/api/v0/emails/_search/"]


def test_refused_window_is_split_and_every_email_comes_once(
    client: ControlPanelClient, sim: ControlPanelSimulator
) -> None:
    sim.window_limit = 40
    object_id = sim.object_id("example.test")
    start = sim.now - datetime.timedelta(days=8)
    mails = list(client.search_emails(object_id, start, sim.now, page_size=15))
    assert sorted(m.subject for m in mails) == sorted(
        str(m["subject"]) for m in sim.emails("example.test")
    )
    statuses = _searches(sim)
    assert statuses.count(400) >= 2  # the whole window and at least one half were refused
    assert statuses.count(200) > 0


def test_window_is_split_before_asking_when_the_count_says_so(
    client: ControlPanelClient, sim: ControlPanelSimulator
) -> None:
    object_id = sim.object_id("example.test")
    start = sim.now - datetime.timedelta(days=8)
    mails = list(client.search_emails(object_id, start, sim.now, max_window_results=40))
    assert len(mails) == len({m.key for m in mails}) == 120
    statuses = _searches(sim)
    assert 400 not in statuses
    assert len(statuses) >= 5  # the probe of the whole window, then at least four parts


def test_emails_in_the_shared_second_of_two_halves_come_once(
    client: ControlPanelClient, sim: ControlPanelSimulator
) -> None:
    mid = T0 + datetime.timedelta(hours=1)
    before = [T0 + datetime.timedelta(minutes=n) for n in range(10)]
    after = [mid + datetime.timedelta(minutes=n + 1) for n in range(10)]
    mails = [
        make_email(date=when, domain="example.test", subject=f"{label} {n}")
        for label, moments in (("before", before), ("mid", [mid] * 10), ("after", after))
        for n, when in enumerate(moments)
    ]
    sim.set_emails("example.test", mails)
    sim.window_limit = 25  # 30 in the window: refused; 20 in each half: fine
    found = list(
        client.search_emails(
            sim.object_id("example.test"), T0, T0 + datetime.timedelta(hours=2), page_size=7
        )
    )
    subjects = [m.subject for m in found]
    assert sorted(subjects) == sorted(str(m["subject"]) for m in mails)
    assert len(subjects) == len(set(subjects)) == 30
    assert _searches(sim).count(400) == 1


def test_a_window_that_cannot_be_split_says_to_shorten_days(
    client: ControlPanelClient, sim: ControlPanelSimulator
) -> None:
    sim.set_emails(
        "example.test",
        [make_email(date=T0, domain="example.test", subject=f"same second {n}") for n in range(5)],
    )
    sim.window_limit = 3
    with pytest.raises(ControlPanelError, match="use a shorter --days") as caught:
        list(
            client.search_emails(
                sim.object_id("example.test"), T0, T0 + datetime.timedelta(minutes=10)
            )
        )
    assert caught.value.error_id == WINDOW_TOO_LARGE
    assert caught.value.status_code == 400
    assert len(_searches(sim)) <= 2 * 11  # bounded: halving 600 s ends below 2 s


def test_split_depth_is_bounded(client: ControlPanelClient, sim: ControlPanelSimulator) -> None:
    sim.window_limit = 1
    with pytest.raises(ControlPanelError, match="splitting it 3 times"):
        list(
            client.search_emails(
                sim.object_id("example.test"),
                sim.now - datetime.timedelta(days=8),
                sim.now,
                max_split_depth=3,
            )
        )


# -- the walk itself, with a scripted page source (unit tests of one function) ---------------


def _mails(count: int) -> list[Email]:
    return [
        Email.from_api(
            make_email(
                date=T0 + datetime.timedelta(seconds=10 * n),
                domain="example.test",
                subject=f"m{n}",
            )
        )
        for n in range(count)
    ]


def test_refusal_in_the_middle_of_a_window_does_not_repeat_what_was_yielded() -> None:
    mails = _mails(30)
    end = T0 + datetime.timedelta(seconds=300)
    refused_once = {"done": False}

    def fetch(
        start: datetime.datetime, stop: datetime.datetime, offset: int, limit: int
    ) -> EmailPage:
        inside = [m for m in mails if m.date is not None and start <= m.date <= stop]
        if offset > 0 and (start, stop) == (T0, end) and not refused_once["done"]:
            refused_once["done"] = True  # e.g. new e-mails pushed the count over the limit
            raise ControlPanelError("too many", error_id=WINDOW_TOO_LARGE, status_code=400)
        return EmailPage(tuple(inside[offset : offset + limit]), len(inside))

    got = [m.subject for m in walk_emails(fetch, T0, end, page_size=8)]
    assert refused_once["done"]
    assert sorted(got) == sorted(m.subject for m in mails)
    assert len(got) == len(set(got))


def test_a_server_that_ignores_the_offset_is_stopped() -> None:
    mails = _mails(5)

    def fetch(
        start: datetime.datetime, stop: datetime.datetime, offset: int, limit: int
    ) -> EmailPage:
        return EmailPage(tuple(mails[:limit]), None)  # always the first page, no count

    with pytest.raises(ControlPanelError, match="ignoring the offset"):
        list(walk_emails(fetch, T0, T0 + datetime.timedelta(hours=1), page_size=5))


def test_other_errors_are_not_mistaken_for_a_large_window() -> None:
    def fetch(
        start: datetime.datetime, stop: datetime.datetime, offset: int, limit: int
    ) -> EmailPage:
        raise ControlPanelError("no", error_id=2009, status_code=400)

    with pytest.raises(ControlPanelError, match="no") as caught:
        list(walk_emails(fetch, T0, T0 + datetime.timedelta(hours=1)))
    assert caught.value.error_id == 2009


def test_bad_arguments_are_refused() -> None:
    def fetch(
        start: datetime.datetime, stop: datetime.datetime, offset: int, limit: int
    ) -> EmailPage:
        raise AssertionError("not called")

    with pytest.raises(ValueError, match="before"):
        walk_emails(fetch, T0, T0 - datetime.timedelta(seconds=1))
    with pytest.raises(ValueError, match="page_size"):
        walk_emails(fetch, T0, T0, page_size=0)


def test_client_passes_the_page_size_through(sim: ControlPanelSimulator) -> None:
    with make_client(sim) as cp:
        cp.login(sim.config.username, sim.config.password)
        page = cp.search_emails_page(
            sim.object_id("example.test"),
            sim.now - datetime.timedelta(days=8),
            sim.now,
            offset=100,
            limit=50,
        )
    assert len(page.emails) == 20
    assert page.num_found_items == 120
