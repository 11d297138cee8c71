"""Decoding bounded in memory: images decoded only as large as a model needs (JPEG draft, integer reduce), the
full-size decode holding pixels of the worker's gate, stopping at the deadline or when the client left, and the
pixel cap refused from the header with a clear 400."""

from __future__ import annotations

import base64
import io
import threading
import time

import numpy as np
import pytest
from PIL import Image

from inference.codecs.images import (
    DECODE_MIN_SIDE,
    DecodeLimits,
    ImagePolicy,
    decode,
    decode_image,
    image_tokens,
    probe,
    tile_tokens,
)
from inference.codecs.pixel_gate import PixelGate
from inference.errors import ClientClosedRequestError, InvalidInputError, OverloadedError
from inference.settings import Settings

POLICY = ImagePolicy(
    allow_urls=False, timeout_s=1, max_bytes=5_000_000, max_pixels=25_000_000,
    formats=frozenset({"PNG", "JPEG", "WEBP", "GIF", "BMP"}), tile_px=512, tokens_per_tile=4000,
)  # fmt: skip


def b64(image: Image.Image, fmt: str = "PNG", **params: object) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return base64.b64encode(buffer.getvalue()).decode()


def photo(size: tuple[int, int]) -> Image.Image:
    """A smooth, detailed RGB picture (gradients and rings), compressible yet not flat."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = (x / width * 255).astype(np.uint8)
    g = (y / height * 255).astype(np.uint8)
    b = ((np.sin(np.hypot(x - width / 2, y - height / 2) / 40) + 1) * 127).astype(np.uint8)
    return Image.fromarray(np.dstack([r, g, b]))


class RecordingGate(PixelGate):
    def __init__(self, capacity: int = 10**9) -> None:
        super().__init__(capacity, free_below=0)
        self.charged: list[int] = []

    def hold(self, pixels, deadline=None, cancelled=None):  # type: ignore[no-untyped-def]
        self.charged.append(pixels)
        return super().hold(pixels, deadline, cancelled)


def test_a_tiny_png_declaring_16_mpx_is_decoded_reduced():
    bomb = b64(Image.new("L", (4000, 4000), 200))  # 16 Mpx in a few KB
    assert len(bomb) < 40_000
    image = decode_image(bomb, POLICY)
    assert image.mode == "RGB"
    assert DECODE_MIN_SIDE <= min(image.size) < 2 * DECODE_MIN_SIDE  # 4000 // 1024 = 3: ceil(4000 / 3) = 1334
    assert image.size == (1334, 1334) and image.getpixel((10, 10)) == (200, 200, 200)


@pytest.mark.parametrize(
    ("mode", "held"),  # bytes per pixel at the peak: the decoded image, plus its full-size conversion but for RGB
    [("1", 1 + 4), ("P", 1 + 4), ("LA", 4 + 4), ("RGBA", 4 + 4), ("I;16", 2 + 4), ("L", 1 + 4), ("RGB", 4)],
)
def test_every_mode_is_reduced_to_rgb_with_the_declared_size_kept_for_usage(mode, held):
    value = b64(Image.new(mode, (3000, 2100)))
    gate = RecordingGate()
    decoded = decode(value, POLICY, DecodeLimits(gate=gate))
    assert decoded.image.mode == "RGB" and decoded.image.size == (1500, 1050)  # 2100 // 1024 = 2
    assert decoded.size == (3000, 2100)
    assert gate.charged == [3000 * 2100 * held // 4]  # in 4-byte pixels
    assert tile_tokens(*decoded.size, POLICY) == image_tokens(Image.new("RGB", (3000, 2100)), POLICY) == 6 * 5 * 4000
    assert gate.in_use == 0


def test_jpeg_is_decoded_at_a_reduced_scale_and_charged_for_it():
    value = b64(photo((4096, 3072)), "JPEG", quality=90)
    gate = RecordingGate()
    decoded = decode(value, POLICY, DecodeLimits(gate=gate))
    assert decoded.image.size == (2048, 1536)  # draft: 1/2 scale keeps the shorter side >= 1024
    assert gate.charged == [2048 * 1536]  # a quarter of the full size
    assert decoded.size == (4096, 3072)


def test_a_progressive_jpeg_is_charged_its_full_size():
    value = b64(photo((4096, 3072)), "JPEG", quality=90, progressive=True)
    gate = RecordingGate()
    decoded = decode(value, POLICY, DecodeLimits(gate=gate))
    assert decoded.image.size == (2048, 1536)
    assert gate.charged == [4096 * 3072]  # libjpeg buffers every coefficient of a progressive file


def test_small_images_are_decoded_as_they_are():
    value = b64(photo((640, 480)), "JPEG")
    image = decode_image(value, POLICY)
    assert (image.mode, image.size) == ("RGB", (640, 480))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_what_the_model_sees_matches_a_full_size_decode(fmt):
    """Resized to a model's 224 px, the reduced decode and the full one differ by less than one grey level."""
    source = photo((2600, 2080))  # reduced by 2 (PNG) or drafted at 1/2 (JPEG)
    value = b64(source, fmt, **({"quality": 95} if fmt == "JPEG" else {"compress_level": 1}))
    full = Image.open(io.BytesIO(base64.b64decode(value))).convert("RGB").resize((280, 224), Image.BICUBIC)
    reduced = decode_image(value, POLICY)
    assert reduced.size == (1300, 1040)
    reduced = reduced.resize((280, 224), Image.BICUBIC)
    difference = np.abs(np.asarray(full, np.float32) - np.asarray(reduced, np.float32))
    assert difference.mean() < 1.0


def test_the_default_pixel_cap_refuses_a_30_mpx_image_from_its_header_with_a_clear_400():
    policy = ImagePolicy.from_settings(Settings.model_construct())
    assert policy.max_pixels == 25_000_000
    value = b64(Image.new("1", (6000, 5000)))  # 30 Mpx, a few KB: decoded by the old 40 Mpx default
    for step in (lambda: probe(value, policy), lambda: decode_image(value, policy)):
        with pytest.raises(InvalidInputError, match=r"image is 6000x5000, more than 25000000 pixels") as caught:
            step()
        assert caught.value.status == 400


def test_decoding_stops_once_the_client_left_or_the_deadline_passed():
    value = b64(Image.new("L", (3000, 3000)))
    gone = threading.Event()
    gone.set()
    with pytest.raises(ClientClosedRequestError) as caught:
        decode(value, POLICY, DecodeLimits(cancelled=gone))
    assert caught.value.status == 499
    with pytest.raises(OverloadedError, match="deadline passed") as late:
        decode(value, POLICY, DecodeLimits(deadline=time.monotonic() - 1))
    assert late.value.status == 503


def test_a_decode_waits_for_the_gate_and_gives_up_at_its_deadline():
    gate = PixelGate(10_000_000, free_below=1000)
    value = b64(Image.new("L", (3000, 3000)))  # 9 Mpx
    with gate.hold(5_000_000):  # another request's decode holds half
        with pytest.raises(OverloadedError, match="deadline passed"):
            decode(value, POLICY, DecodeLimits(gate=gate, deadline=time.monotonic() + 0.05))
        assert gate.in_use == 5_000_000
    assert decode(value, POLICY, DecodeLimits(gate=gate)).image.size == (1500, 1500)
    assert gate.in_use == 0
