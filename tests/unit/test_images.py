import base64
import io

import pytest
from PIL import Image

from inference.codecs.images import ImagePolicy, check_public_host, decode_image, image_tokens
from inference.errors import InvalidInputError

POLICY = ImagePolicy(
    allow_urls=False, timeout_s=1, max_bytes=200_000, max_pixels=1_000_000,
    formats=frozenset({"PNG", "JPEG"}), tile_px=512, tokens_per_tile=4000,
)


def encode(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode()


def test_base64_and_data_uri_decode_to_rgb():
    raw = encode(Image.new("L", (10, 20), 128))
    for value in (raw, f"data:image/png;base64,{raw}"):
        image = decode_image(value, POLICY)
        assert (image.mode, image.size) == ("RGB", (10, 20))


def test_decompression_bomb_is_refused_from_the_header():
    bomb = encode(Image.new("1", (5000, 5000)))  # 25 Mpx, a few KB compressed
    assert len(bomb) < POLICY.max_bytes
    with pytest.raises(InvalidInputError, match="more than 1000000 pixels"):
        decode_image(bomb, POLICY)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (base64.b64encode(b"\x89PNG\r\n\x1a\n garbage").decode(), "could not be decoded"),
        ("%%%not-base64%%%", "base64"),
        (encode(Image.new("RGB", (4, 4)), "GIF"), "format GIF is not accepted"),
        ("A" * 300_000, "larger than"),
        ("http://example.com/cat.png", "disabled"),
    ],
)
def test_bad_images_are_invalid_input(value, message):
    with pytest.raises(InvalidInputError, match=message):
        decode_image(value, POLICY)


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "::1", "fd00::1", "0.0.0.0"]
)
def test_urls_to_non_public_addresses_are_refused(address):
    with pytest.raises(InvalidInputError, match="non-public"):
        check_public_host("images.example", resolve=lambda host: [address])


def test_public_address_passes_and_enabled_urls_check_the_host():
    check_public_host("images.example", resolve=lambda host: ["93.184.216.34"])
    enabled = ImagePolicy(**{**POLICY.__dict__, "allow_urls": True})
    with pytest.raises(InvalidInputError, match="non-public"):
        decode_image("http://metadata.internal/latest", enabled, resolve=lambda host: ["169.254.169.254"])
    with pytest.raises(InvalidInputError, match="neither a URL nor valid base64"):
        decode_image("file:///etc/passwd", enabled)


@pytest.mark.parametrize(("size", "tiles"), [((512, 512), 1), ((513, 512), 2), ((1024, 1536), 6), ((10, 10), 1)])
def test_image_tokens_count_started_tiles(size, tiles):
    assert image_tokens(Image.new("RGB", size), POLICY) == tiles * 4000
