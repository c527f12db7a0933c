"""The simulator as a whole: start and stop, configuration checks, secrets, the command line."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import pytest
import requests

from certbot_dns_variomedia.testing.servers.dns import DNSServer, StaticZones
from certbot_dns_variomedia.testing.variomedia.simulator import (
    BaseRecord,
    SimConfig,
    SimDomain,
    SimNameServer,
    VariomediaSimulator,
)

from .conftest import TIMEOUT, Api


def test_starts_fast_and_stops_cleanly_with_open_connections() -> None:
    started = time.monotonic()
    sim = VariomediaSimulator(SimConfig(rate_limit=None)).start()
    startup = time.monotonic() - started
    api = Api(sim)
    try:
        assert api.get("/domains").status_code == 200  # leaves a keep-alive connection open
    finally:
        stopping = time.monotonic()
        sim.stop()
        stop_time = time.monotonic() - stopping
        sim.stop()
        api.session.close()

    assert startup < 0.25
    assert stop_time < 0.5
    with pytest.raises(requests.ConnectionError):
        requests.get(sim.url + "/domains", timeout=TIMEOUT)
    for ns in sim.nameservers:  # the DNS ports are free again, for UDP and TCP
        with DNSServer(StaticZones(), port=int(ns.rsplit(":", 1)[1])):
            pass
    again = VariomediaSimulator(SimConfig(rate_limit=None), port=int(sim.url.rsplit(":", 1)[1]))
    again.start()
    again.stop()
    with pytest.raises(RuntimeError, match="only once"):
        again.start()


def test_a_client_hanging_up_mid_answer_prints_no_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A killed certbot resets its connection; the simulator's output must not look like a bug."""
    with VariomediaSimulator(SimConfig(rate_limit=None)) as sim:
        host, port = sim.url.removeprefix("http://").rsplit(":", 1)
        for _ in range(5):
            conn = socket.create_connection((host, int(port)), timeout=TIMEOUT)
            conn.sendall(b"GET /domains HTTP/1.1\r\nHost: sim\r\n\r\n")
            # Linger 0: close() sends a reset, as the kernel does for a killed process.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
        deadline = time.monotonic() + 5
        while len(sim.log) < 5:
            assert time.monotonic() < deadline, sim.log
            time.sleep(0.02)
        assert Api(sim).get("/domains").status_code == 200  # and it keeps serving
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"domains": [SimDomain("a.test"), SimDomain("A.test")]}, "unique"),
        ({"dns_addresses": ["127.0.0.2"]}, "one address per name server"),
        ({"dns_port": 53}, "dns_port needs dns_addresses"),
        ({"dns_port": 70000, "dns_addresses": ["127.0.0.2", "127.0.0.3"]}, "port number"),
        ({"nameservers": [SimNameServer("ns1.example.test")]}, "must not lie in an account domain"),
        ({"nameservers": []}, "at least one name server"),
        ({"page_size": 0}, "page_size"),
        ({"token": ""}, "token"),
        ({"domains": [SimDomain("x.test", base_records=(BaseRecord("A", "", "nope"),))]},
         "Not a valid A record"),
    ],
)  # fmt: skip
def test_bad_configuration_is_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VariomediaSimulator(SimConfig(**kwargs))


def test_command_line_serves_until_sigterm() -> None:
    command = [
        sys.executable, "-m", "certbot_dns_variomedia.testing.variomedia",
        "--domain", "a.test", "--domain", "b.test", "--job-delay", "0.05",
        "--ns-delay", "0", "--ns-delay", "0.1", "--no-rate-limit",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            assert selector.select(timeout=20), "the simulator printed nothing"
        summary = json.loads(process.stdout.readline())
        response = requests.get(
            summary["url"] + "/domains",
            headers={"Authorization": f"token {summary['token']}"},
            timeout=TIMEOUT,
        )
        host, port = summary["nameservers"][1].rsplit(":", 1)
        soa = dns.query.udp(
            dns.message.make_query("b.test", "SOA"), host, port=int(port), timeout=TIMEOUT
        )

        assert [d["id"] for d in response.json()["data"]] == ["a.test", "b.test"]
        assert len(summary["nameservers"]) == 2
        assert soa.answer[0].rdtype == dns.rdatatype.SOA
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
