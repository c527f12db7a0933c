"""nameservers.py: how a name server is shown, and the host[:port] items every option shares."""

from __future__ import annotations

import pytest

from certbot_dns_variomedia.errors import ConfigurationError
from certbot_dns_variomedia.nameservers import NameServer, split_host_port


def test_name_server_text() -> None:
    assert str(NameServer("ns2.variomedia.de", "203.0.113.2")) == "ns2.variomedia.de (203.0.113.2)"
    assert str(NameServer("127.0.0.1", "127.0.0.1", 5353)) == "127.0.0.1:5353"
    assert str(NameServer("::1", "::1", 5353)) == "[::1]:5353"
    assert str(NameServer("::1", "::1")) == "::1"
    assert str(NameServer("ns.test", "::1", 5353)) == "ns.test ([::1]:5353)"


@pytest.mark.parametrize(
    ("item", "host", "port"),
    [
        ("127.0.0.1", "127.0.0.1", 53),
        ("127.0.0.1:5353", "127.0.0.1", 5353),
        ("::1", "::1", 53),
        ("[::1]:5353", "::1", 5353),
        ("ns.example.test", "ns.example.test", 53),
        ("ns.example.test:5300", "ns.example.test", 5300),
        ("bücher.test", "bücher.test", 53),
    ],
)
def test_host_and_port(item: str, host: str, port: int) -> None:
    assert split_host_port(item, default_port=53, option="--nameservers") == (host, port)


@pytest.mark.parametrize("item", ["[::1]:0", "::1:53x", "ns..test", "ns_:x", "[ns.test]:53"])
def test_malformed_items_name_the_option(item: str) -> None:
    with pytest.raises(ConfigurationError, match=r"in --nameservers is not host\[:port\]"):
        split_host_port(item, default_port=53, option="--nameservers")
