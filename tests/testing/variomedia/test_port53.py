"""The simulator's name servers on port 53 of loopback addresses of their own."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator

import dns.message
import dns.query
import dns.rdatatype
import pytest
from persist_stage import CONFIG, simulator_on_port_53

from certbot_dns_variomedia.testing.variomedia.port53 import start_on_port_53
from certbot_dns_variomedia.testing.variomedia.simulator import VariomediaSimulator

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sim() -> Iterator[VariomediaSimulator]:
    with simulator_on_port_53() as started:
        yield started


def test_the_name_servers_answer_on_port_53_of_addresses_of_their_own(
    sim: VariomediaSimulator,
) -> None:
    sim.add_record("example.test", "_validation-persist", "TXT", "seen on port 53")
    addresses = [server.address for server in sim.dns_servers]
    query = dns.message.make_query("_validation-persist.example.test", dns.rdatatype.TXT)
    answers = [dns.query.udp(query, address, port=53, timeout=3) for address in addresses]

    assert all(a.startswith("127.53.") for a in addresses)
    assert len(set(addresses)) == len(addresses)
    assert [str(a.answer[0][0]) for a in answers] == ['"seen on port 53"'] * len(addresses)


def test_an_address_whose_port_53_is_taken_is_skipped(sim: VariomediaSimulator) -> None:
    taken = sim.dns_servers[0].address  # this module's simulator holds it
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe,
        pytest.raises(OSError, match="in use"),
    ):
        probe.bind((taken, 53))
    sim = start_on_port_53(CONFIG)
    try:
        assert taken not in {server.address for server in sim.dns_servers}
    finally:
        sim.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="drops a capability root has")
def test_without_the_right_to_bind_port_53_it_says_so_plainly() -> None:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv is needed to drop CAP_NET_BIND_SERVICE")
    code = (
        "from certbot_dns_variomedia.testing.variomedia.port53 import start_on_port_53\n"
        "from certbot_dns_variomedia.testing.variomedia.config import SimConfig\n"
        "start_on_port_53(SimConfig())\n"
    )
    done = subprocess.run(
        [setpriv, "--bounding-set=-net_bind_service", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1
    assert "Port53Unavailable: Port 53 cannot be bound on 127.53." in done.stderr
    assert "(permission denied): it needs root, CAP_NET_BIND_SERVICE" in done.stderr
