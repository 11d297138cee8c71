"""Image inputs: base64 / data: URI / (opt-in) URL -> a checked, decoded PIL image.

Safety: byte cap before decoding, pixel cap from the header (decompression bombs never decode),
an allow-list of formats, corrupt data -> 400, URL fetching off by default and never to private,
loopback, link-local or otherwise non-global addresses (SSRF), no redirects, timeouts, size cap.
"""

from __future__ import annotations

import base64
import binascii
import io
import ipaddress
import math
import socket
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from PIL import Image, UnidentifiedImageError

from ..errors import InvalidInputError
from ..settings import Settings

Resolver = Callable[[str], list[str]]
# Longest side / shortest side. Model processors scale the shortest side up or down to a fixed size (CLIP:
# 224 px) keeping the aspect, so a 1 x 40,000,000 PNG (a few hundred bytes, within the pixel cap) would be
# resized to 224 x 9e9 pixels: an aspect-ratio bomb. Panoramas and long screenshots stay well below.
MAX_ASPECT_RATIO = 100


@dataclass(frozen=True)
class ImagePolicy:
    allow_urls: bool
    timeout_s: float
    max_bytes: int
    max_pixels: int
    formats: frozenset[str]
    tile_px: int
    tokens_per_tile: int

    @classmethod
    def from_settings(cls, s: Settings) -> ImagePolicy:
        formats = frozenset(f.strip().upper() for f in s.image_formats.split(",") if f.strip())
        return cls(
            s.allow_image_urls, s.image_url_timeout_s, s.max_image_bytes, s.max_image_pixels, formats,
            s.image_tile_px, s.image_tokens_per_tile,
        )


def _resolve(host: str) -> list[str]:
    return sorted({info[4][0] for info in socket.getaddrinfo(host, None)})


def check_public_host(host: str, resolve: Resolver = _resolve) -> None:
    """Refuse hosts that resolve to any non-global address (loopback, private, link-local, metadata...)."""
    try:
        addresses = resolve(host)
    except OSError as err:
        raise InvalidInputError(f"cannot resolve image host {host!r}: {err}") from None
    for address in addresses:
        if not ipaddress.ip_address(address.split("%", 1)[0]).is_global:
            raise InvalidInputError(f"image URL host {host!r} resolves to a non-public address; refused")


def fetch_url(url: str, policy: ImagePolicy, resolve: Resolver = _resolve) -> bytes:
    if not policy.allow_urls:
        raise InvalidInputError("image URLs are disabled on this endpoint; send the image as base64 or a data: URI")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError("image URL must be http(s) with a host")
    check_public_host(parts.hostname, resolve)
    import requests  # imported only when URL inputs are enabled and used

    try:
        with requests.get(url, timeout=policy.timeout_s, stream=True, allow_redirects=False) as response:
            if response.status_code != 200:
                raise InvalidInputError(f"image URL answered HTTP {response.status_code}")
            data = response.raw.read(policy.max_bytes + 1, decode_content=True)
    except requests.RequestException as err:
        raise InvalidInputError(f"cannot fetch image URL: {type(err).__name__}") from None
    return data


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
