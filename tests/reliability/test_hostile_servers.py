"""Servers that misbehave on purpose: an API that echoes the token, redirects, drips, sends
200 MB or pages for ever; a CA that asks for names nobody ordered; DNS that points elsewhere.

Each row runs the real front door (certbot with the plugin, or ``variomedia-dns issue``) at
the production bounds, and proves that the run ends in one clear message, within its time
bound, having written nothing it was not asked to.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from .harness import Stage, output
from .rogue_ca import RogueCA
from .rows import BadInputRow, FaultRow, Run, declare

pytestmark = pytest.mark.e2e

TWO_MINUTES = 120.0
ISSUE = str(Path(sys.executable).with_name("variomedia-dns"))


def run_once(stage: Stage) -> tuple[list[tuple[int | None, str]], float]:
    started = time.monotonic()
    result = stage.run(stage.command(["example.test"], cert_name="row"), timeout=TWO_MINUTES)
    return [(result.returncode, output(result))], time.monotonic() - started


# -- the API ------------------------------------------------------------------------------------


@declare(
    FaultRow(
        fault="An error answer that echoes the request headers (the token among them, with line "
        "breaks and a terminal escape), as a misconfigured proxy does",
        made_by='sim.faults.echo_headers(method="POST")',
        runs=(
            Run(
                "failed",
                (
                    "The Variomedia API rejected POST /dns-records (400: You sent: ",
                    "authorization: token ***",
                ),
            ),
        ),
        requests=(3, 3),
        promises=(1, 2, 3, 4, 5),
    )
)
def test_an_echoed_token_is_scrubbed_from_every_message(stage: Stage, row: FaultRow) -> None:
    stage.sim.faults.echo_headers(method="POST")
    outputs, _ = run_once(stage)
    stage.verify_fault(row, outputs)
    assert "\x1b" not in outputs[0][1]


@declare(
    FaultRow(
        fault="A redirect with an HTML body instead of the API (a login portal in front of it)",
        made_by='sim.faults.redirect(status=302, location="https://login.example.test/sso?next=/")',
        runs=(
            Run(
                "failed",
                (
                    "The Variomedia API answered GET /domains with a redirect (302) to "
                    "https://login.example.test/sso?next=/; redirects are not followed (they "
                    "would carry the token elsewhere). Set dns_variomedia_api_url to the address "
                    "the API answers at.",
                ),
            ),
        ),
        requests=(1, 1),
        promises=(1, 2, 3, 4, 7),
    )
)
def test_a_redirect_is_one_clear_message(stage: Stage, row: FaultRow) -> None:
    stage.sim.faults.redirect(status=302, location="https://login.example.test/sso?next=/")
    outputs, _ = run_once(stage)
    stage.verify_fault(row, outputs)
    assert "MalformedDocument" not in outputs[0][1]


@declare(
    FaultRow(
        fault="An answer that drips one byte every 2 s (no read ever times out)",
        made_by='sim.faults.drip(2.0, count=100, path="/domains")',
        runs=(
            Run(
                "failed",
                (
                    "The Variomedia API at {url} did not finish its answer to GET /domains within "
                    "45 s (it sent too slowly); the connection was cut and the request is not "
                    "repeated.",
                ),
            ),
        ),
        requests=(1, 1),
        promises=(1, 2, 3, 4, 7),
    )
)
def test_a_dripping_answer_ends_the_run_within_its_bound(stage: Stage, row: FaultRow) -> None:
    stage.sim.faults.drip(2.0, count=100, path="/domains")
    outputs, took = run_once(stage)
    stage.verify_fault(row, outputs, {"url": stage.sim.url})
    assert took < TWO_MINUTES


@declare(
    FaultRow(
        fault="An answer of 200 MB (no Content-Length)",
        made_by='sim.faults.huge(200, count=100, path="/domains")',
        runs=(
            Run(
                "failed",
                (
                    "The Variomedia API answered GET /domains with more than 4 MB; the rest was "
                    "not read and the request is not repeated (its answers are a few KB).",
                ),
            ),
        ),
        requests=(1, 1),
        promises=(1, 2, 3, 4, 7),
    )
)
def test_a_huge_answer_is_cut_at_four_megabytes(stage: Stage, row: FaultRow) -> None:
    stage.sim.faults.huge(200, count=100, path="/domains")
    outputs, took = run_once(stage)
    stage.verify_fault(row, outputs)
    assert took < TWO_MINUTES


@declare(
    FaultRow(
        fault="A list whose pages never end (every page links to a new next page)",
        made_by='sim.faults.endless_pages(path="/domains")',
        runs=(
            Run(
                "failed",
                (
                    "The API's list at /domains did not end after 50 pages; stopping (its lists "
                    "are a few pages long).",
                ),
            ),
        ),
        requests=(50, 50),
        promises=(1, 2, 3, 4, 7),
    )
)
def test_endless_pages_end_the_run_within_its_bound(stage: Stage, row: FaultRow) -> None:
    stage.sim.faults.endless_pages(path="/domains")
    outputs, took = run_once(stage)
    stage.verify_fault(row, outputs)
    assert took < TWO_MINUTES


# -- the CA -------------------------------------------------------------------------------------


def issue(stage: Stage, server: str) -> tuple[int, str, Path]:
    out = stage.root / "out"
    result = subprocess.run(
        [
            ISSUE, "issue", "-d", "example.test", "--out", str(out), "--server", server,
            "--credentials", str(stage.box.credentials),
            "--nameservers", stage.box.nameservers_option, "--agree-tos",
        ],
        env=stage.box.env(),
        capture_output=True,
        text=True,
        timeout=TWO_MINUTES,
        check=False,
    )  # fmt: skip
    return result.returncode, output(result), out


@declare(
    BadInputRow(
        given="variomedia-dns issue --server with plain http:// to a host that is not this machine",
        door="variomedia-dns issue",
        result="refused by the plugin",
        says=(
            "The ACME directory URL 'http://ca.example.test/directory' uses plain http:// to a "
            "host that is not this machine; anyone on the way could answer for the CA. Use "
            "https://",
        ),
        written="no API write; no record created; no account key made",
        requests=(0, 0),
        promises=(4, 7),
    )
)
def test_issue_refuses_a_plain_http_ca(stage: Stage, row: BadInputRow) -> None:
    status, text, out = issue(stage, "http://ca.example.test/directory")
    stage.verify_bad_input(row, status, text)
    assert not out.exists()
    assert not stage.certbot_box.account_dir.exists() or not any(
        stage.certbot_box.account_dir.rglob("*.pem")
    )


@declare(
    BadInputRow(
        given="A CA that answers an order for example.test with an authorization for "
        "www.other.test",
        door="variomedia-dns issue",
        result="refused by the plugin",
        says=(
            "The CA answered the order for example.test with an authorization for "
            "www.other.test, which was not asked for; nothing was written. Check --server: it "
            "should be the directory URL of the CA you trust.",
        ),
        written="no API write: no update lock switched, no record created",
        requests=(0, 0),
        promises=(2, 4, 7),
    )
)
def test_issue_refuses_authorizations_nobody_ordered(stage: Stage, row: BadInputRow) -> None:
    with RogueCA(["www.other.test"]) as ca:
        status, text, _ = issue(stage, ca.directory_url)
        asked = list(ca.requests)
    stage.verify_bad_input(row, status, text)
    assert [r for r in asked if r.startswith("POST /authz")] == ["POST /authz/0"]


# -- DNS ----------------------------------------------------------------------------------------


@declare(
    BadInputRow(
        given="An _acme-challenge CNAME whose target has a label no record can be written at "
        "(bad-.example.test; a '*' label is refused the same way)",
        door="certbot",
        result="refused by the plugin",
        says=(
            "The CNAME at _acme-challenge.www.example.test points to 'bad-.example.test', where "
            "no record can be written (label 'bad-'); fix the CNAME record.",
        ),
        written="no API write; no record created",
        requests=(1, 1),
        promises=(2, 4, 7),
    )
)
def test_a_cname_to_an_invalid_name_is_refused(stage: Stage, row: BadInputRow) -> None:
    stage.sim.add_record("example.test", "_acme-challenge.www", "CNAME", "bad-.example.test")
    stage.untouched = stage.snapshot_others()
    result = stage.run(stage.command(["www.example.test"], cert_name="row"))
    stage.verify_bad_input(row, result.returncode, output(result))
