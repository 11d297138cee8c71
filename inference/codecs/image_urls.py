"""Fetching an image URL (opt-in, ``EMB_ALLOW_IMAGE_URLS``): bounded in addresses, count, time and bytes.

- The host is resolved once, in a resolver thread with a timeout, and every address must be public
  (addresses.py); the connection goes to a checked address (a second lookup could be rebound to a private one).
- No redirects, no retries; only HTTP 200 is an image.
- A request fetches at most ``EMB_MAX_IMAGE_URLS`` URLs, all within ``EMB_IMAGE_URL_TOTAL_TIMEOUT_S`` (and its
  deadline): each lookup, connect and read waits at most ``EMB_IMAGE_URL_TIMEOUT_S`` and never past what is
  left, and the clock is checked between reads, so a server that trickles a byte at a time is cut off.
- Bodies are never decompressed: ``Accept-Encoding: identity`` is asked for and a compressed answer refused
  (a few KB of gzip can expand to GBs), and at most ``EMB_MAX_IMAGE_BYTES`` + 1 raw bytes are read.
"""

from __future__ import annotations

import http.client
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from ..errors import InvalidInputError, OverloadedError
from .addresses import Resolver, check_public_host, system_resolve

if TYPE_CHECKING:
    from urllib3 import BaseHTTPResponse, HTTPConnectionPool

    from .images import ImagePolicy

DEFAULT_PORTS = {"http": 80, "https": 443}
READ_CHUNK = 64 * 1024


class UrlBudget:
    """One request's image URL fetches: at most ``max_urls``, all done ``total_s`` after the first one starts (or
    by the request's ``deadline``, whichever is first). Thread-safe."""

    def __init__(
        self, max_urls: int, total_s: float, deadline: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_urls, self.total_s, self._deadline, self._clock = max_urls, total_s, deadline, clock
        self._lock = threading.Lock()
        self._started = 0
        self._ends: float | None = None

    @classmethod
    def for_policy(cls, policy: ImagePolicy, deadline: float | None = None) -> UrlBudget:
        return cls(policy.max_urls, policy.urls_total_s, deadline)

    def start(self) -> None:
        """A fetch begins: 400 once the request has fetched ``max_urls``."""
        with self._lock:
            if self._started >= self.max_urls:
                raise InvalidInputError(
                    f"a request may fetch at most {self.max_urls} image URLs; send the others as base64"
                )
            self._started += 1
            if self._ends is None:
                self._ends = self._clock() + self.total_s
        self.left_s()

    def left_s(self) -> float:
        """Seconds left to fetch in; 400 once ``total_s`` is spent, 503 once the request's deadline passed."""
        now = self._clock()
        ends = self._ends if self._ends is not None else now + self.total_s
        if self._deadline is not None and self._deadline <= ends:
            if self._deadline - now <= 0:
                raise OverloadedError("the request's deadline passed while fetching its image URLs; retry shortly")
            return self._deadline - now
        if ends - now <= 0:
            raise InvalidInputError(f"fetching this request's image URLs took longer than {self.total_s:g} s")
        return ends - now


def check_enabled(policy: ImagePolicy) -> None:
    if not policy.allow_urls:
        raise InvalidInputError("image URLs are disabled on this endpoint; send the image as base64 or a data: URI")


def fetch_url(
    url: str, policy: ImagePolicy, resolve: Resolver = system_resolve, budget: UrlBudget | None = None
) -> bytes:
    """GET an image URL from an address checked once (no second lookup), no redirects, at most max_bytes + 1.

    ``budget``: the request's fetches (default: this one alone, within ``policy.urls_total_s``)."""
    check_enabled(policy)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError("image URL must be http(s) with a host")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise InvalidInputError("image URL has an invalid port") from None
    budget = budget or UrlBudget(1, policy.urls_total_s)
    budget.start()
    timeout = min(policy.timeout_s, budget.left_s())
    addresses = check_public_host(parts.hostname, resolve, policy.address_allowed, timeout_s=timeout)
    import urllib3  # imported only when URL inputs are enabled and used

    try:
        return _fetch_from_checked(parts, port, addresses, policy, budget)
    except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError, ValueError) as err:
        raise InvalidInputError(f"cannot fetch image URL: {type(err).__name__}") from None


def _fetch_from_checked(
    parts: SplitResult, port: int, addresses: list[str], policy: ImagePolicy, budget: UrlBudget
) -> bytes:
    """Try the checked addresses in order, as a plain connect would, moving on only when one refuses."""
    from urllib3.exceptions import NewConnectionError

    for address in addresses[:-1]:
        try:
            return _fetch_from(parts, port, address, policy, budget)
        except NewConnectionError:
            continue
    return _fetch_from(parts, port, addresses[-1], policy, budget)


def _fetch_from(parts: SplitResult, port: int, address: str, policy: ImagePolicy, budget: UrlBudget) -> bytes:
    """One GET to ``address`` with the URL's Host header (and, for https, its hostname for SNI and the cert)."""
    target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    timeout_s = min(policy.timeout_s, budget.left_s())
    with _connection_pool(parts, port, address, timeout_s) as pool:
        response = pool.urlopen(
            "GET",
            target,
            headers=_request_headers(parts),
            redirect=False,
            retries=False,
            preload_content=False,
            decode_content=False,
        )
        try:
            if response.status != 200:
                raise InvalidInputError(f"image URL answered HTTP {response.status}")
            return _read_capped(response, policy.max_bytes, budget)
        finally:
            response.close()  # closes the socket: the rest of an oversized body is never read


def _read_capped(response: BaseHTTPResponse, max_bytes: int, budget: UrlBudget) -> bytes:
    """The raw body, at most ``max_bytes`` + 1 bytes (one more tells "too large"), never decompressed."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise InvalidInputError(
            f"image URL answered with Content-Encoding {encoding[:32]!r}; serve the image uncompressed"
        )
    chunks: list[bytes] = []
    size = 0
    while size <= max_bytes:
        chunk = response.read1(min(READ_CHUNK, max_bytes + 1 - size), decode_content=False)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        budget.left_s()  # between reads: a trickling server cannot hold the request past the total
    return b"".join(chunks)


def _connection_pool(parts: SplitResult, port: int, address: str, timeout_s: float) -> HTTPConnectionPool:
    import urllib3

    timeout = urllib3.Timeout(connect=timeout_s, read=timeout_s)
    if parts.scheme == "http":
        return urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1)
    return urllib3.HTTPSConnectionPool(
        address, port, timeout=timeout, retries=False, maxsize=1,
        cert_reqs="CERT_REQUIRED", ca_certs=_ca_bundle(), server_hostname=parts.hostname,
    )  # fmt: skip


def _request_headers(parts: SplitResult) -> dict[str, str]:
    import urllib3

    headers = {"Host": parts.netloc.rpartition("@")[2], "Accept-Encoding": "identity"}
    if parts.username is not None:  # user:password@ in the URL, sent as requests would
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers.update(urllib3.util.make_headers(basic_auth=credentials))
    return headers


def _ca_bundle() -> str | None:
    """The CA file requests would use: REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, certifi; None: the system's."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        import certifi
    except ImportError:
        return None
    return certifi.where()
