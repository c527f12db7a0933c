"""The simulator's name servers on port 53, each on a loopback address of its own.

Some validators have no port option: acme2certifier always asks port 53 of the addresses it is
given. So the simulated name servers listen on port 53 of addresses in 127.53.0.0/16 (clear of
127.0.0.1 and of systemd-resolved's 127.0.0.53), and each start picks addresses that no other
test (another xdist worker, another engineer's run) holds yet.
"""

from __future__ import annotations

import errno
import os
from dataclasses import replace

from .config import SimConfig
from .simulator import VariomediaSimulator

__all__ = ["DNS_PORT", "Port53Unavailable", "start_on_port_53"]

DNS_PORT = 53
_ATTEMPTS = 64
_BLOCKS = 250


class Port53Unavailable(RuntimeError):
    """This machine does not let the process bind port 53 on a loopback address."""


def start_on_port_53(config: SimConfig) -> VariomediaSimulator:
    """A started simulator whose name servers answer on port 53 of addresses of their own.

    Raises `Port53Unavailable` when the port cannot be bound at all (not root, no
    CAP_NET_BIND_SERVICE), saying so plainly; addresses in use by others are skipped.
    """
    count = len(config.nameservers)
    first = os.getpid() % _BLOCKS
    for attempt in range(_ATTEMPTS):
        block = (first + attempt) % _BLOCKS + 1
        addresses = [f"127.53.{block}.{i}" for i in range(1, count + 1)]
        sim = VariomediaSimulator(replace(config, dns_addresses=addresses, dns_port=DNS_PORT))
        try:
            return sim.start()
        except OSError as error:
            sim.stop()
            if error.errno == errno.EADDRINUSE:
                continue
            if error.errno in (errno.EACCES, errno.EPERM):
                raise Port53Unavailable(
                    f"Port {DNS_PORT} cannot be bound on {addresses[0]} (permission denied): "
                    "it needs root, CAP_NET_BIND_SERVICE, or "
                    "sysctl net.ipv4.ip_unprivileged_port_start=53."
                ) from None
            raise Port53Unavailable(
                f"Port {DNS_PORT} cannot be bound on {addresses[0]} ({error.strerror}); "
                "this system may not route all of 127.0.0.0/8 to loopback."
            ) from None
    raise Port53Unavailable(
        f"Port {DNS_PORT} is taken on every loopback address tried ({_ATTEMPTS} blocks of "
        "127.53.0.0/16)."
    )
