"""The dns-persist-01 stage of the tests: one `PersistSandbox` per test module.

acme2certifier asks only port 53, which needs root (or CAP_NET_BIND_SERVICE). CI runs as root,
so there a stage that cannot bind it fails the test; elsewhere the tests are skipped with the
reason, plainly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

import pytest

from certbot_dns_variomedia.issuing.session import account_url
from certbot_dns_variomedia.testing.acme.acme2certifier import DEFAULT_ISSUER, Acme2Certifier
from certbot_dns_variomedia.testing.demo.persist_sandbox import PersistSandbox, Port53Unavailable
from certbot_dns_variomedia.testing.demo.sandbox import DEMO_CONFIG
from certbot_dns_variomedia.testing.variomedia.config import SimConfig, SimNameServer
from certbot_dns_variomedia.testing.variomedia.port53 import start_on_port_53
from certbot_dns_variomedia.testing.variomedia.simulator import VariomediaSimulator

CONFIG = replace(
    DEMO_CONFIG,
    nameservers=(
        SimNameServer("ns1.variomedia.test", delay=0.0),
        SimNameServer("ns2.variomedia.test", delay=0.3),
    ),
    job_delay=0.2,
)
"""example.test and other.test hosted; the CA asks ns2, the slower server."""


def account_of(ca: Acme2Certifier, key: bytes) -> str:
    """The URL the CA gives the account of `key` (created here, as `issue` would): what a
    record made for this account must name."""
    return account_url(ca.directory_url, key, ca_bundle=str(ca.ca_bundle), agree_tos=True)


@contextmanager
def persist_sandbox(
    root: Path,
    config: SimConfig = CONFIG,
    *,
    issuer_names: Sequence[str] = (DEFAULT_ISSUER,),
    dns_01: bool = True,
) -> Iterator[PersistSandbox]:
    """A started stage, stopped on exit; skipped (not root) or failed (root) without port 53."""
    box = PersistSandbox(root, config, issuer_names=issuer_names, dns_01=dns_01)
    try:
        box.start()
    except Port53Unavailable as e:
        unavailable(e)
    try:
        yield box
    finally:
        box.stop()


@contextmanager
def simulator_on_port_53(config: SimConfig = CONFIG) -> Iterator[VariomediaSimulator]:
    """The simulator alone, its name servers on port 53; skipped or failed like the stage."""
    try:
        sim = start_on_port_53(config)
    except Port53Unavailable as e:
        unavailable(e)
    try:
        yield sim
    finally:
        sim.stop()


def unavailable(error: Port53Unavailable) -> NoReturn:
    if os.geteuid() != 0:
        pytest.skip(f"the dns-persist-01 tests need port 53 on loopback: {error}")
    pytest.fail(f"running as root, yet: {error}")
