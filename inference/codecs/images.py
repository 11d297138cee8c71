"""Image inputs: base64 / data: URI / (opt-in) URL -> a checked, decoded PIL image.

Safety: byte cap before decoding, pixel cap from the header (decompression bombs never decode),
an allow-list of formats, corrupt data -> 400, URL fetching off by default and never to private,
loopback, link-local or otherwise non-global addresses (SSRF), no redirects, timeouts, size cap. The host is
resolved once and the connection goes to a checked address (a second lookup could be rebound to a private one).
"""

from __future__ import annotations

import base64
import binascii
import http.client
import io
import ipaddress
import math
import os
import socket
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from PIL import Image, UnidentifiedImageError

from ..errors import InvalidInputError
from ..settings import Settings

if TYPE_CHECKING:
    from urllib3 import HTTPConnectionPool

Resolver = Callable[[str], list[str]]
AddressPredicate = Callable[[str], bool]
# Longest side / shortest side. Model processors scale the shortest side up or down to a fixed size (CLIP:
# 224 px) keeping the aspect, so a 1 x 40,000,000 PNG (a few hundred bytes, within the pixel cap) would be
# resized to 224 x 9e9 pixels: an aspect-ratio bomb. Panoramas and long screenshots stay well below.
MAX_ASPECT_RATIO = 100
DEFAULT_PORTS = {"http": 80, "https": 443}


def is_global_address(address: str) -> bool:
    """True for globally routable addresses; False for loopback, private, link-local, metadata, reserved..."""
    return ipaddress.ip_address(address.split("%", 1)[0]).is_global


@dataclass(frozen=True)
class ImagePolicy:
    allow_urls: bool
    timeout_s: float
    max_bytes: int
    max_pixels: int
    formats: frozenset[str]
    tile_px: int
    tokens_per_tile: int
    # Which resolved addresses an image URL may connect to. Never configured from the environment; tests
    # pass a loopback predicate to reach a local server through the same checked path.
    address_allowed: AddressPredicate = is_global_address

    @classmethod
    def from_settings(cls, s: Settings) -> ImagePolicy:
        formats = frozenset(f.strip().upper() for f in s.image_formats.split(",") if f.strip())
        return cls(
            s.allow_image_urls, s.image_url_timeout_s, s.max_image_bytes, s.max_image_pixels, formats,
            s.image_tile_px, s.image_tokens_per_tile,
        )


def _resolve(host: str) -> list[str]:
    """The host's addresses, once each, in the system's preference order."""
    return list(dict.fromkeys(str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)))


def check_public_host(
    host: str, resolve: Resolver = _resolve, allowed: AddressPredicate = is_global_address
) -> list[str]:
    """Resolve ``host`` once; refuse it unless every address is allowed (default: globally routable).

    Returns the checked addresses. Connect to these only: resolving the name again could get another answer
    (DNS rebinding) and reach loopback, private or metadata addresses.
    """
    try:
        addresses = resolve(host)
    except OSError as err:
        raise InvalidInputError(f"cannot resolve image host {host!r}: {err}") from None
    if not addresses:
        raise InvalidInputError(f"cannot resolve image host {host!r}")
    for address in addresses:
        if not allowed(address):
            raise InvalidInputError(f"image URL host {host!r} resolves to a non-public address; refused")
    return addresses


def fetch_url(url: str, policy: ImagePolicy, resolve: Resolver = _resolve) -> bytes:
    """GET an image URL from an address checked once (no second lookup), no redirects, at most max_bytes + 1."""
    if not policy.allow_urls:
        raise InvalidInputError("image URLs are disabled on this endpoint; send the image as base64 or a data: URI")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError("image URL must be http(s) with a host")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise InvalidInputError("image URL has an invalid port") from None
    addresses = check_public_host(parts.hostname, resolve, policy.address_allowed)
    import urllib3  # imported only when URL inputs are enabled and used

    try:
        return _fetch_from_checked(parts, port, addresses, policy)
    except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError, ValueError) as err:
        raise InvalidInputError(f"cannot fetch image URL: {type(err).__name__}") from None


def _fetch_from_checked(parts: SplitResult, port: int, addresses: list[str], policy: ImagePolicy) -> bytes:
    """Try the checked addresses in order, as a plain connect would, moving on only when one refuses."""
    from urllib3.exceptions import NewConnectionError

    for address in addresses[:-1]:
        try:
            return _fetch_from(parts, port, address, policy)
        except NewConnectionError:
            continue
    return _fetch_from(parts, port, addresses[-1], policy)


def _fetch_from(parts: SplitResult, port: int, address: str, policy: ImagePolicy) -> bytes:
    """One GET to ``address`` with the URL's Host header (and, for https, its hostname for SNI and the cert)."""
    target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    with _connection_pool(parts, port, address, policy) as pool:
        response = pool.urlopen(
            "GET", target, headers=_request_headers(parts), redirect=False, retries=False, preload_content=False
        )
        try:
            if response.status != 200:
                raise InvalidInputError(f"image URL answered HTTP {response.status}")
            return response.read(policy.max_bytes + 1, decode_content=True)
        finally:
            response.close()  # closes the socket: the rest of an oversized body is never read


def _connection_pool(parts: SplitResult, port: int, address: str, policy: ImagePolicy) -> HTTPConnectionPool:
    import urllib3

    timeout = urllib3.Timeout(connect=policy.timeout_s, read=policy.timeout_s)
    if parts.scheme == "http":
        return urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1)
    return urllib3.HTTPSConnectionPool(
        address, port, timeout=timeout, retries=False, maxsize=1,
        cert_reqs="CERT_REQUIRED", ca_certs=_ca_bundle(), server_hostname=parts.hostname,
    )


def _request_headers(parts: SplitResult) -> dict[str, str]:
    import urllib3

    headers = {"Host": parts.netloc.rpartition("@")[2]}
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


def image_bytes(value: str, policy: ImagePolicy, resolve: Resolver = _resolve) -> bytes:
    """The encoded image behind ``value``: a data: URI, plain base64, or an http(s) URL."""
    if value.startswith(("http://", "https://")):
        data = fetch_url(value, policy, resolve)
    else:
        payload = value.partition(",")[2] if value.startswith("data:") else value  # "data:" without "," -> empty
        if len(payload) * 3 // 4 > policy.max_bytes + 3:
            raise InvalidInputError(f"image is larger than {policy.max_bytes} bytes")
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInputError("image is neither a URL nor valid base64 / data: URI") from None
    if len(data) > policy.max_bytes:
        raise InvalidInputError(f"image is larger than {policy.max_bytes} bytes")
    return data


def decode_image(value: str, policy: ImagePolicy, resolve: Resolver = _resolve) -> Image.Image:
    """Decode and check one image; every failure is an ``InvalidInputError`` (400)."""
    data = image_bytes(value, policy, resolve)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in policy.formats:
                accepted = ", ".join(sorted(policy.formats))
                raise InvalidInputError(f"image format {image.format} is not accepted ({accepted})")
            width, height = image.size
            if width * height > policy.max_pixels:
                raise InvalidInputError(f"image is {width}x{height}, more than {policy.max_pixels} pixels")
            if max(width, height) > MAX_ASPECT_RATIO * max(1, min(width, height)):
                raise InvalidInputError(f"image is {width}x{height}, more elongated than {MAX_ASPECT_RATIO}:1")
            image.load()
            return image.convert("RGB")
    except InvalidInputError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as err:
        raise InvalidInputError(f"image could not be decoded: {type(err).__name__}") from None


def image_tokens(image: Image.Image, policy: ImagePolicy) -> int:
    """Usage tokens of an image: started ``tile_px`` tiles times ``tokens_per_tile``."""
    width, height = image.size
    return math.ceil(width / policy.tile_px) * math.ceil(height / policy.tile_px) * policy.tokens_per_tile
