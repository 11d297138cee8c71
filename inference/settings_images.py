"""The settings of image inputs, a part of ``Settings`` (settings.py), which reads them from the environment with the
rest (the same way as settings_access.py)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .settings_access import env_alias as _env


class ImageSettings(BaseSettings):
    """Image inputs: sizes, decoding and URL fetching (docs/performance/reliability.md#images)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    allow_image_urls: bool = Field(
        False,
        validation_alias=_env("EMB_ALLOW_IMAGE_URLS"),
        description="Fetch `http(s)://` image inputs. Off by default (Marketplace containers have no network); "
        "private, loopback, link-local and cloud metadata addresses (and IPv6 forms carrying them: IPv4-mapped, "
        "NAT64, 6to4, Teredo) are always refused, redirects never followed, compressed answers refused.",
    )
    image_url_timeout_s: float = Field(
        5.0,
        gt=0,
        validation_alias=_env("EMB_IMAGE_URL_TIMEOUT_S"),
        description="Timeout of each step of one image download: the DNS lookup, the connect, each read.",
    )
    image_url_total_timeout_s: float = Field(
        15.0,
        gt=0,
        validation_alias=_env("EMB_IMAGE_URL_TOTAL_TIMEOUT_S"),
        description="Time all image downloads of one request may take together (checked between reads, so a "
        "server sending a byte at a time is cut off); past it the request gets 400.",
    )
    max_image_urls: int = Field(
        16,
        ge=1,
        validation_alias=_env("EMB_MAX_IMAGE_URLS"),
        description="Most image URLs in one request (with `EMB_ALLOW_IMAGE_URLS`); a request with more gets 400 "
        "before anything is fetched.",
    )
    max_image_bytes: int = Field(
        10 * 1024 * 1024, ge=1, validation_alias=_env("EMB_MAX_IMAGE_BYTES"), description="Largest encoded image."
    )
    max_image_pixels: int = Field(
        25_000_000,
        ge=1,
        validation_alias=_env("EMB_MAX_IMAGE_PIXELS"),
        description="Largest image (width x height, read from its header); bigger ones get 400 before decoding. "
        "25 Mpx takes a 24 MP camera photo (6000 x 4000), 12 MP phone photos and 5K screenshots, while one PNG or "
        "WebP of that size (a few KB can declare it) takes 100-200 MB to decode; models see 224-512 px anyway.",
    )
    image_decode_pixels: int = Field(
        50_000_000,
        ge=1,
        validation_alias=_env("EMB_IMAGE_DECODE_PIXELS"),
        description="Pixels a worker decodes at once, over all its request threads, counted as 4 bytes each (50 "
        "Mpx ~ 200 MB; an image in a mode other than RGB counts its full-size conversion too, RGBA twice). Images "
        "up to 1 Mpx pass freely; a larger decode waits its turn while others hold the rest (past its request's "
        "deadline: 503), and one larger than this waits until it is alone. JPEGs count at the reduced scale they "
        "are decoded at.",
    )
    image_formats: str = Field(
        "JPEG,PNG,WEBP,GIF,BMP", validation_alias=_env("EMB_IMAGE_FORMATS"), description="Accepted image formats."
    )
    image_tile_px: int = Field(
        512, ge=1, validation_alias=_env("EMB_IMAGE_TILE_PX"), description="Tile size for image token usage."
    )
    image_tokens_per_tile: int = Field(
        4000,
        ge=0,
        validation_alias=_env("EMB_IMAGE_TOKENS_PER_TILE"),
        description="Tokens counted per started tile of an image in `usage`.",
    )
