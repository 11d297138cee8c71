"""Which addresses an image URL may connect to, and resolving its host once, within a time limit.

Only globally routable addresses pass (no loopback, private, link-local, shared, reserved...: SSRF). Python's
``is_global`` alone is not enough (3.11 marks 6to4, NAT64 and IPv4-compatible addresses of 127.0.0.1 global),
so the IPv6 forms that carry an IPv4 address are judged here too:

- IPv4-mapped (``::ffff:a.b.c.d``) and NAT64 well-known (``64:ff9b::a.b.c.d``, what a DNS64 resolver answers
  for an IPv4-only host on an IPv6-only network): judged by the IPv4 address they carry;
- 6to4 (``2002::/16``), Teredo (``2001::/32``), IPv4-compatible (``::a.b.c.d``, deprecated) and NAT64
  local-use (``64:ff9b:1::/48``): refused outright; no public image host is reached through them, and a relay
  or a host's stack may carry them to the IPv4 address inside.

Cloud metadata and wire-server addresses are refused even where they are global (Azure's 168.63.129.16).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from ..errors import InvalidInputError

Resolver = Callable[[str], list[str]]
AddressPredicate = Callable[[str], bool]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack instance metadata
        "fd00:ec2::254",  # AWS instance metadata over IPv6
        "168.63.129.16",  # Azure wire server (global, yet only reachable from inside Azure)
        "100.100.100.200",  # Alibaba Cloud metadata
    )
)
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
REFUSED_V6 = tuple(
    ipaddress.ip_network(n)
    for n in (
        "64:ff9b:1::/48",  # NAT64 local use
        "2002::/16",  # 6to4
        "2001::/32",  # Teredo
        "::/96",  # IPv4-compatible (and ::, ::1)
    )
)
# Resolver threads: a lookup that hangs (a dead DNS server) holds one until the system resolver gives up; once
# all are busy, further lookups wait in the queue and time out like the hung one (the fetch fails, nothing piles up).
RESOLVER_THREADS = 4
_resolvers = ThreadPoolExecutor(RESOLVER_THREADS, thread_name_prefix="image-dns")


def _carried_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _allowed(ip: IPAddress) -> bool:
    if ip in METADATA_ADDRESSES or not ip.is_global:
        return False
    if isinstance(ip, ipaddress.IPv4Address):
        return True
    if any(ip in network for network in REFUSED_V6):
        return False
    carried = _carried_ipv4(ip)
    return carried is None or _allowed(carried)


def is_global_address(address: str) -> bool:
    """True for globally routable addresses; False for loopback, private, link-local, metadata, reserved, and
    IPv6 forms that carry a non-global IPv4 address (see the module docstring)."""
    return _allowed(ipaddress.ip_address(address.split("%", 1)[0]))


def system_resolve(host: str) -> list[str]:
    """The host's addresses, once each, in the system's preference order."""
    return list(dict.fromkeys(str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)))


def resolve_within(resolve: Resolver, host: str, timeout_s: float) -> list[str]:
    """``resolve(host)`` in a resolver thread, waited for at most ``timeout_s`` (getaddrinfo has no timeout)."""
    try:
        return _resolvers.submit(resolve, host).result(timeout=max(0.0, timeout_s))
    except FutureTimeout:
        raise InvalidInputError(f"resolving image host {host!r} took longer than {timeout_s:.1f} s") from None


def check_public_host(
    host: str, resolve: Resolver = system_resolve, allowed: AddressPredicate = is_global_address,
    timeout_s: float | None = None,
) -> list[str]:  # fmt: skip
    """Resolve ``host`` once (within ``timeout_s`` when given); refuse it unless every address is allowed.

    Returns the checked addresses. Connect to these only: resolving the name again could get another answer
    (DNS rebinding) and reach loopback, private or metadata addresses.
    """
    try:
        addresses = resolve(host) if timeout_s is None else resolve_within(resolve, host, timeout_s)
    except OSError as err:
        raise InvalidInputError(f"cannot resolve image host {host!r}: {err}") from None
    if not addresses:
        raise InvalidInputError(f"cannot resolve image host {host!r}")
    for address in addresses:
        if not allowed(address):
            raise InvalidInputError(f"image URL host {host!r} resolves to a non-public address; refused")
    return addresses
