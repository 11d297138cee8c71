"""Image inputs: base64 / data: URI / (opt-in) URL -> a checked, decoded PIL image of bounded size.

Safety: byte cap before decoding, pixel and aspect caps from the header (decompression bombs never decode), an
allow-list of formats, corrupt data -> 400. URL fetching is off by default and bounded (image_urls.py,
addresses.py). Decoding is bounded in memory and stops with its request:

- an image is decoded only as large as a model needs: JPEG at 1/2, 1/4 or 1/8 scale in the decoder (``draft``),
  other formats reduced by an integer factor right after decoding (``reduce``), both keeping the shorter side
  at least ``DECODE_MIN_SIDE``; the colour conversion runs on the reduced image;
- the full-size decode holds pixels of the worker's ``PixelGate`` (pixel_gate.py) until it is freed;
- it stops (503 / 499) once the request's deadline passed or its client left (``DecodeLimits``).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import threading
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from ..errors import InvalidInputError
from ..settings import Settings
from .addresses import AddressPredicate, Resolver, check_public_host, is_global_address, system_resolve
from .image_urls import UrlBudget, check_enabled, fetch_url
from .pixel_gate import PixelGate, interruption

__all__ = [
    "MAX_ASPECT_RATIO", "DecodeLimits", "Decoded", "ImagePolicy", "check_public_host", "decode", "decode_image",
    "fetch_url", "image_bytes", "image_tokens", "is_global_address", "probe", "tile_tokens",
]  # fmt: skip

_resolve = system_resolve  # the default resolver (tests patch socket.getaddrinfo underneath it)
# Longest side / shortest side. Model processors scale the shortest side up or down to a fixed size (CLIP:
# 224 px) keeping the aspect, so a 1 x 40,000,000 PNG (a few hundred bytes, within the pixel cap) would be
# resized to 224 x 9e9 pixels: an aspect-ratio bomb. Panoramas and long screenshots stay well below.
MAX_ASPECT_RATIO = 100
# Shorter side an image is decoded down to (never below): twice the input of the largest CLIP-family processors
# served (224-512 px), so their own resampling sees the detail a full-size decode would give.
DECODE_MIN_SIDE = 1024
# Modes reduced as decoded; others are converted first (1-bit and grey + alpha to L, the rest to RGB): alpha is
# dropped, as the RGB conversion always did.
REDUCIBLE_MODES = frozenset({"L", "RGB"})
# Bytes per pixel Pillow holds a mode in; the others take 4 (RGB too, like RGBA).
MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2}


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
    max_urls: int = 16
    urls_total_s: float = 15.0
    decode_pixels: int = 50_000_000

    @classmethod
    def from_settings(cls, s: Settings) -> ImagePolicy:
        formats = frozenset(f.strip().upper() for f in s.image_formats.split(",") if f.strip())
        return cls(
            s.allow_image_urls, s.image_url_timeout_s, s.max_image_bytes, s.max_image_pixels, formats,
            s.image_tile_px, s.image_tokens_per_tile, max_urls=s.max_image_urls,
            urls_total_s=s.image_url_total_timeout_s, decode_pixels=s.image_decode_pixels,
        )  # fmt: skip


@dataclass(frozen=True)
class DecodeLimits:
    """What bounds one request's image work: the worker's pixel gate, the request's deadline (absolute
    ``time.monotonic()``) and cancellation event, and its URL fetches."""

    gate: PixelGate | None = None
    deadline: float | None = None
    cancelled: threading.Event | None = None
    urls: UrlBudget | None = None

    def check(self) -> None:
        """503 once the deadline passed, 499 once the client left: checked between the steps of a decode."""
        stop = interruption(self.deadline, self.cancelled)
        if stop is not None:
            raise stop

    def hold(self, pixels: int) -> AbstractContextManager[None]:
        """Hold ``pixels`` of the gate while decoding (waits while other decodes hold too much)."""
        if self.gate is None:
            return nullcontext()
        return self.gate.hold(pixels, self.deadline, self.cancelled)


@dataclass(frozen=True)
class Decoded:
    image: Image.Image  # RGB, its shorter side reduced towards DECODE_MIN_SIDE
    size: tuple[int, int]  # as the file declares it: usage is counted on this


def image_bytes(value: str, policy: ImagePolicy, resolve: Resolver = _resolve, urls: UrlBudget | None = None) -> bytes:
    """The encoded image behind ``value``: a data: URI, plain base64, or an http(s) URL."""
    if is_url(value):
        data = fetch_url(value, policy, resolve, urls)
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


def is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def open_checked(data: bytes, policy: ImagePolicy) -> Image.Image:
    """Read the header only (nothing decoded yet) and check format, pixel count and aspect ratio."""
    image = Image.open(io.BytesIO(data))
    if image.format not in policy.formats:
        accepted = ", ".join(sorted(policy.formats))
        raise InvalidInputError(f"image format {image.format} is not accepted ({accepted})")
    width, height = image.size
    if width * height > policy.max_pixels:
        raise InvalidInputError(f"image is {width}x{height}, more than {policy.max_pixels} pixels; send it downscaled")
    if max(width, height) > MAX_ASPECT_RATIO * max(1, min(width, height)):
        raise InvalidInputError(f"image is {width}x{height}, more elongated than {MAX_ASPECT_RATIO}:1")
    return image


@contextmanager
def _decode_errors() -> Iterator[None]:
    """Every failure of a malformed file is a 400; decompression-bomb warnings are errors."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as err:  # fmt: skip
        raise InvalidInputError(f"image could not be decoded: {type(err).__name__}") from None


def probe(value: str, policy: ImagePolicy) -> tuple[int, int] | None:
    """The checked size of a base64 / data: image from its header, before any decoding (admission by pixels);
    None for a URL (known only once fetched). 400 as ``decode``."""
    if is_url(value):
        check_enabled(policy)
        return None
    data = image_bytes(value, policy)
    with _decode_errors():
        image = open_checked(data, policy)
        size = image.size
        image.close()
        return size


def decode(
    value: str, policy: ImagePolicy, limits: DecodeLimits | None = None, resolve: Resolver = _resolve
) -> Decoded:
    """Fetch / decode and check one image, decoded no larger than a model needs; every malformed input is an
    ``InvalidInputError`` (400). With ``limits``: holds pixels of its gate while decoding, 503 / 499 once its
    deadline passed or its client left."""
    limits = limits or DecodeLimits()
    limits.check()
    data = image_bytes(value, policy, resolve, limits.urls)
    limits.check()
    with _decode_errors():
        image = open_checked(data, policy)
        size = image.size
        with limits.hold(_draft(image)):
            try:
                limits.check()
                return Decoded(_reduced_rgb(image), size)
            except BaseException:
                image.close()  # a truncated file: free its pixels before the gate takes them back
                raise


def decode_image(value: str, policy: ImagePolicy, resolve: Resolver = _resolve) -> Image.Image:
    """``decode`` without request limits: the RGB image only."""
    return decode(value, policy, None, resolve).image


def _draft(image: Image.Image) -> int:
    """Let a JPEG decode at the smallest of 1/2, 1/4, 1/8 scale keeping its shorter side >= DECODE_MIN_SIDE.

    Returns what the decode will hold at its peak, in 4-byte pixels: the decoded image (a progressive JPEG
    buffers the whole image's coefficients, whatever the scale) plus, for any mode but RGB, the full-size copy
    ``_reduced_rgb`` converts it into."""
    width, height = image.size
    if image.format == "JPEG" and min(width, height) >= 2 * DECODE_MIN_SIDE:
        scale = DECODE_MIN_SIDE / min(width, height)
        image.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
    progressive = image.format == "JPEG" and image.info.get("progressive")
    pixels = width * height if progressive else image.size[0] * image.size[1]
    held = MODE_BYTES.get(image.mode, 4) + (0 if image.mode == "RGB" else 4)
    return math.ceil(pixels * held / 4)


def _reduced_rgb(image: Image.Image) -> Image.Image:
    """Decode, reduce by an integer factor down to DECODE_MIN_SIDE, convert to RGB; each larger intermediate
    is closed (its memory freed) as soon as the next one exists."""
    image.load()
    factor = min(image.size) // DECODE_MIN_SIDE
    if factor >= 2 and image.mode not in REDUCIBLE_MODES:
        image = _replace(image, image.convert("L" if image.mode in ("1", "LA") else "RGB"))
    if factor >= 2:
        image = _replace(image, image.reduce(factor))
    if image.mode != "RGB":
        image = _replace(image, image.convert("RGB"))
    return image


def _replace(old: Image.Image, new: Image.Image) -> Image.Image:
    old.close()
    return new


def tile_tokens(width: int, height: int, policy: ImagePolicy) -> int:
    """Usage tokens of a ``width`` x ``height`` image: started ``tile_px`` tiles times ``tokens_per_tile``."""
    return math.ceil(width / policy.tile_px) * math.ceil(height / policy.tile_px) * policy.tokens_per_tile


def image_tokens(image: Image.Image, policy: ImagePolicy) -> int:
    """Usage tokens of a (full-size) image: ``tile_tokens`` of its size."""
    return tile_tokens(*image.size, policy)
