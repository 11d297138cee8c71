"""DNS rebinding: the image URL fetch must connect to the very address that passed the public-address check.

A rebinding DNS answers a public address to the check and 127.0.0.1 to any later lookup. The socket layer is
patched to play the network: a name is looked up again in that same DNS (as a client that resolves twice does),
loopback is really connected to (a local server stands for the private target), anything else is unreachable
(no internet in tests). Uses only the long-standing API (ImagePolicy's first fields, fetch_url's ``resolve``)
so it runs against older versions of images.py too.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterator

import pytest
import urllib3.util.connection

from inference.codecs.images import ImagePolicy, fetch_url
from inference.errors import InvalidInputError
from tests.unit.local_http import LocalServer, local_servers, png, reply

PUBLIC_ADDRESS = "93.184.216.34"  # global: passes the check; never really connected to
POLICY = ImagePolicy(  # the production address rule (only global addresses)
    allow_urls=True, timeout_s=2.0, max_bytes=100_000, max_pixels=1_000_000, formats=frozenset({"PNG"}),
    tile_px=512, tokens_per_tile=4000,
)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class RebindingNetwork:
    """A DNS that answers ``PUBLIC_ADDRESS`` first and 127.0.0.1 afterwards, and the connections made."""

    def __init__(self) -> None:
        self.lookups: list[str] = []
        self.connected: list[str] = []
        self._real_connect = urllib3.util.connection.create_connection
        self._real_getaddrinfo = socket.getaddrinfo

    def resolve(self, host: str) -> list[str]:
        self.lookups.append(host)
        return [PUBLIC_ADDRESS] if len(self.lookups) == 1 else ["127.0.0.1"]

    def getaddrinfo(self, host: str, port: object, *args: object, **kwargs: object) -> list[tuple]:
        if _is_ip(host):
            return self._real_getaddrinfo(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port or 0)) for ip in self.resolve(host)]

    def create_connection(self, address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        host, port = address
        ip = host if _is_ip(host) else self.resolve(host)[0]
        self.connected.append(ip)
        if not ipaddress.ip_address(ip).is_loopback:
            raise OSError(errno.ENETUNREACH, "network unreachable (test: no internet)")
        return self._real_connect((ip, port), *args, **kwargs)


@pytest.fixture
def private_server() -> Iterator[LocalServer]:
    with local_servers() as start:
        yield start({"/cat.png": reply(200, png())})


@pytest.fixture
def network(monkeypatch) -> RebindingNetwork:
    network = RebindingNetwork()
    monkeypatch.setattr(urllib3.util.connection, "create_connection", network.create_connection)
    return network


@pytest.mark.parametrize("dns", ["injected-resolver", "system-resolver"])
def test_dns_rebinding_cannot_reach_a_private_address(private_server, network, monkeypatch, dns):
    kwargs = {"resolve": network.resolve}
    if dns == "system-resolver":  # fetch_url's default resolver, which asks socket.getaddrinfo
        monkeypatch.setattr(socket, "getaddrinfo", network.getaddrinfo)
        kwargs = {}
    url = f"http://rebind.test:{private_server.port}/cat.png"
    try:
        outcome: bytes | InvalidInputError = fetch_url(url, POLICY, **kwargs)
    except InvalidInputError as err:
        outcome = err
    assert private_server.seen == [], f"the fetch reached the private address: {network.connected}"
    assert network.lookups == ["rebind.test"]  # resolved once, for the check
    assert network.connected == [PUBLIC_ADDRESS]  # and connected to the checked address
    assert private_server.connections == 0
    assert isinstance(outcome, InvalidInputError) and "cannot fetch image URL" in str(outcome)
