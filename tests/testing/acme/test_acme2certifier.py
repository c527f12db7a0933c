"""The acme2certifier runner, as the dns-persist-01 stage starts it: loopback, its own CA."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from persist_stage import persist_sandbox

from certbot_dns_variomedia.testing.acme.acme2certifier import DEFAULT_ISSUER
from certbot_dns_variomedia.testing.demo.persist_sandbox import PersistSandbox

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PersistSandbox]:
    with persist_sandbox(tmp_path_factory.mktemp("persist")) as stage:
        yield stage


def test_the_ca_offers_dns_persist_01_and_names_its_issuer(box: PersistSandbox) -> None:
    directory = requests.get(box.ca.directory_url, verify=str(box.ca.ca_bundle), timeout=5).json()

    assert directory["meta"]["caaIdentities"] == [DEFAULT_ISSUER]
    assert directory["newAccount"].startswith("https://127.0.0.1:")


def test_stopping_ends_the_server_process(tmp_path: Path) -> None:
    with persist_sandbox(tmp_path / "short") as stage:
        url = stage.ca.directory_url
        during = stage.ca.running
    after = stage.ca.running

    assert (during, after) == (True, False)
    with pytest.raises(requests.ConnectionError):
        requests.get(url, verify=False, timeout=2)  # noqa: S501 - only: is anyone listening?
