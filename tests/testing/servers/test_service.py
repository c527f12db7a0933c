"""What every test server shares (servers/service.py)."""

from __future__ import annotations

import socket

from certbot_dns_variomedia.testing.servers.service import free_port


def test_free_port_returns_distinct_bindable_ports() -> None:
    ports = free_port(count=5)
    assert len(set(ports)) == 5
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
