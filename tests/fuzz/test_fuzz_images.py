"""Image inputs under attack: mutated files of every format, bombs (pixel, compression, aspect ratio, text
chunks, many small bombs in one request), odd encodings. Decoding either yields a bounded RGB image or a
400; nothing else escapes, and a tiny CLIP app answers 200 or a 4xx JSON error and stays healthy."""

from __future__ import annotations

import base64
import gc
import io
import struct
import time
import weakref
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from inference.api.app import create_app
from inference.codecs.images import MAX_ASPECT_RATIO, ImagePolicy, decode_image
from inference.core.types import ImageInput, ModelInfo
from inference.endpoints.embeddings.types import EmbedRequest
from inference.errors import InvalidInputError
from inference.handlers.fake import FakeEmbeddingHandler
from tests.conftest import loaded_service, make_settings
from tests.fuzz.conftest import FUZZ
from tests.fuzz.strategies import mutated
from tests.tiny_models import build_tiny_clip

POLICY = ImagePolicy(
    allow_urls=False, timeout_s=1, max_bytes=2_000_000, max_pixels=4_000_000,
    formats=frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP"}), tile_px=512, tokens_per_tile=4000,
)


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def seed_images() -> list[bytes]:
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 255, (12, 9, 3), dtype=np.uint8))
    seeds = [encoded(picture, fmt) for fmt in ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "ICO")]
    seeds.append(encoded(picture.convert("P"), "PNG"))
    seeds.append(encoded(picture, "JPEG", progressive=True))
    frames = [Image.new("RGB", (8, 8), (i, 0, 0)) for i in range(0, 250, 50)]
    seeds.append(encoded(frames[0], "GIF", save_all=True, append_images=frames[1:]))
    seeds.append(encoded(frames[0], "PNG", save_all=True, append_images=frames[1:]))  # APNG
    return seeds


SEEDS = seed_images()


def png_with_header_size(width: int, height: int) -> bytes:
    """A tiny valid PNG whose IHDR claims ``width x height`` (CRC fixed up): decoding it would allocate that."""
    data = bytearray(encoded(Image.new("L", (2, 2)), "PNG"))
    ihdr = bytearray(data[12:29])  # b"IHDR" + 13 bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


def gif_with_screen(width: int, height: int) -> bytes:
    data = bytearray(encoded(Image.new("L", (2, 2)), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def bmp_with_size(width: int, height: int) -> bytes:
    data = bytearray(encoded(Image.new("RGB", (2, 2)), "BMP"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def decode_or_400(value: str) -> Image.Image | None:
    started = time.monotonic()
    try:
        image = decode_image(value, POLICY)
    except InvalidInputError:
        return None
    finally:
        assert time.monotonic() - started < 10, "decoding must stay fast"
    width, height = image.size
    assert image.mode == "RGB" and width * height <= POLICY.max_pixels
    assert max(width, height) <= MAX_ASPECT_RATIO * min(width, height)
    return image


@FUZZ
@given(data=st.data())
def test_mutated_images_of_every_format(data):
    seed = data.draw(st.sampled_from(SEEDS))
    value = b64(data.draw(mutated(seed)))
    prefix = data.draw(st.sampled_from(["", "data:image/png;base64,", "data:,", "data:image/png;base64"]))
    decode_or_400(prefix + value)


@FUZZ
@given(st.one_of(st.binary(max_size=512), st.text(max_size=200).map(str.encode)))
def test_random_bytes_and_text(raw):
    decode_or_400(b64(raw))


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("png header 100k x 100k", png_with_header_size(100_000, 100_000)),
        ("png header 2^31-1 wide", png_with_header_size(2**31 - 1, 1)),
        ("gif screen 65535 x 65535", gif_with_screen(65535, 65535)),
        ("bmp 50k x 50k", bmp_with_size(50_000, 50_000)),
        ("1-bit png bomb 10k x 10k", encoded(Image.new("1", (10_000, 10_000)), "PNG")),
        ("lossless webp 4k x 4k", encoded(Image.new("RGB", (4000, 4000)), "WEBP", lossless=True)),
        ("aspect-ratio bomb 1 x 4M", encoded(Image.new("1", (1, 4_000_000)), "PNG")),
        ("aspect-ratio bomb 3M x 1", encoded(Image.new("1", (3_000_000, 1)), "PNG")),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_bombs_are_refused_before_decoding(name, data):
    assert len(data) < POLICY.max_bytes, name  # small on the wire: only the header check saves us
    started = time.monotonic()
    with pytest.raises(InvalidInputError):
        decode_image(b64(data), POLICY)
    assert time.monotonic() - started < 1, name


def png_with_text(text: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("comment", text, zip=True)  # a zTXt chunk: compressed text
    return encoded(Image.new("RGB", (2, 2), (10, 20, 30)), "PNG", pnginfo=info)


def test_png_text_chunk_bomb_is_400():
    data = png_with_text("A" * 20_000_000)  # 20 MB of text, compressed to ~20 KB
    assert len(data) < 100_000
    started = time.monotonic()
    with pytest.raises(InvalidInputError, match=r"^image could not be decoded: ValueError$"):
        decode_image(b64(data), POLICY)  # Pillow refuses text chunks over PngImagePlugin.MAX_TEXT_CHUNK (1 MB)
    assert time.monotonic() - started < 1


def test_png_with_an_ordinary_text_chunk_decodes():
    """The bomb above is refused for its size, not for carrying text: a PNG with a short comment decodes."""
    image = decode_image(b64(png_with_text("made by a scanner")), POLICY)
    assert image.mode == "RGB" and image.size == (2, 2) and image.getpixel((1, 1)) == (10, 20, 30)


def test_elongated_but_reasonable_images_still_decode():
    assert decode_or_400(b64(bmp_with_size(2, -2))).size == (2, 2)  # top-down BMP: valid
    image = decode_image(b64(encoded(Image.new("RGB", (MAX_ASPECT_RATIO * 3, 3)), "PNG")), POLICY)
    assert image.size == (MAX_ASPECT_RATIO * 3, 3)


class _ImageFake(FakeEmbeddingHandler):
    """Fake two-modality handler that records the decoded images alive while it preprocesses."""

    def __init__(self, settings):
        super().__init__(settings)
        self._info = ModelInfo(name="fake-clip", dimensions=8, max_length=64, modalities=frozenset({"text", "image"}))
        self.seen: list[weakref.ref] = []
        self.alive_max = 0

    def preprocess_images(self, images):
        gc.collect()
        self.alive_max = max(self.alive_max, sum(ref() is not None for ref in self.seen) + len(images))
        self.seen.extend(weakref.ref(image) for image in images)
        return [np.asarray(image.resize((2, 2))).astype(np.float32).ravel() for image in images]

    def forward_images(self, batch):
        return np.stack([np.resize(p, 8) for p in batch])


def test_many_small_bombs_in_one_request_hold_one_decoded_image_at_a_time():
    """Found by fuzzing: a few KB of lossless WebP decodes to 40 Mpx (120 MB); 2,000 of them fit in one
    6 MB request, and all decoded images used to be held at once (hundreds of GB)."""
    settings = make_settings(handler="fake", log_level="ERROR", max_image_pixels=4_000_000, max_image_bytes=100_000,
                             image_formats="WEBP", image_tile_px=512, image_tokens_per_tile=1, allow_image_urls=False,
                             image_url_timeout_s=1, max_batch_size=64, max_batch_tokens=16384, batch_wait_ms=0,
                             max_queue_inputs=1024, warmup=False)
    handler = _ImageFake(settings)
    service = loaded_service(settings, lambda s: handler)
    bomb = b64(encoded(Image.new("RGB", (1000, 1000)), "WEBP", lossless=True))
    assert len(bomb) < 2000
    result = service.embed(EmbedRequest(inputs=tuple(ImageInput(bomb) for _ in range(8))))
    assert result.vectors.shape == (8, 8) and len(handler.seen) == 8
    assert handler.alive_max == 1


@pytest.fixture(scope="module")
def clip_client(tmp_path_factory):
    folder = build_tiny_clip(tmp_path_factory.mktemp("fuzz-clip") / "tiny-clip")
    settings = make_settings(model_dir=folder, device="cpu", log_level="ERROR", max_inputs=6, max_body_mb=2.0,
                             max_image_pixels=4_000_000)
    return create_app(settings, load_in_background=False).test_client()


@FUZZ
@given(data=st.data())
def test_clip_app_answers_200_or_4xx_for_hostile_images(clip_client, oracle, data):
    items = data.draw(st.lists(st.one_of(
        st.sampled_from(SEEDS).flatmap(mutated).map(lambda raw: {"image": b64(raw)}),
        st.sampled_from(SEEDS[:5]).map(lambda raw: {"image": b64(raw)}),
        st.sampled_from([{"image": b64(png_with_header_size(70_000, 70_000))}, {"image": "http://169.254.169.254/"},
                         {"image": "file:///etc/passwd"}, {"image": ""}, {"image": "data:"}, {"text": "a cat"}])),
        min_size=1, max_size=4))
    response = clip_client.post("/invocations", json={"input": items})
    payload = oracle.check(response.status_code, response.content_type, response.data, items)
    if response.status_code == 200:
        assert len(payload["data"]) == len(items)
    assert clip_client.get("/ping").status_code == 200
