"""A request's image inputs: checked from their headers before admission, then decoded one at a time.

Admission by work (core/budget.py) charges an image its model pass (``IMAGE_BATCH_COST``) plus its decode,
in proportion to its pixels as its header declares them (read before anything is decoded): a request of many
large images is queued or refused like a long text request. Image URLs are charged their model pass only
(their size is known once fetched; a request holds at most ``EMB_MAX_IMAGE_URLS``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from ...codecs.image_urls import UrlBudget
from ...codecs.images import DecodeLimits, ImagePolicy, decode, is_url, probe, tile_tokens
from ...codecs.pixel_gate import PixelGate
from ...core.protocol import ImageEmbeddingHandler
from ...core.types import ImageInput
from ...errors import InvalidInputError

# Token-budget cost of one image in a micro-batch (about a 16x16-patch vision tower's sequence); also its model
# cost in admission by work (core/budget.py).
IMAGE_BATCH_COST = 256
# Decode cost in admission: one token per 64 x 64 pixels (1 Mpx = 256 tokens, an image's model pass). PNG decodes
# at about 40 Mpx/s on one core here (25 ms per Mpx, JPEG twice as fast) while a 256-token pass of a small model
# takes 50-100 ms on CPU: about twice the decode's CPU time, leaving room for its memory and the resize.
PIXELS_PER_TOKEN = 64 * 64


def decode_cost(width: int, height: int) -> int:
    return math.ceil(width * height / PIXELS_PER_TOKEN)


class RequestImages:
    """The images of one request (at ``positions`` of its inputs), checked at construction: 400 names the input."""

    def __init__(self, inputs: Sequence[object], positions: list[int], policy: ImagePolicy) -> None:
        self._policy = policy
        self._items: list[tuple[int, str]] = []
        for index in positions:
            item = inputs[index]
            assert isinstance(item, ImageInput)
            self._items.append((index, item.image))
        urls = sum(is_url(value) for _, value in self._items)
        if urls > policy.max_urls and policy.allow_urls:
            raise InvalidInputError(
                f"the request has {urls} image URLs, more than the {policy.max_urls} allowed; send the others as "
                "base64 or in another request"
            )
        self._sizes: list[tuple[int, int] | None] = []
        for index, value in self._items:
            with _naming(index):
                self._sizes.append(probe(value, policy))

    def __bool__(self) -> bool:
        return bool(self._items)

    @property
    def positions(self) -> list[int]:
        return [index for index, _ in self._items]

    def admission_cost(self) -> int:
        """Tokens to admit these images by before decoding them: model passes plus decodes of known size."""
        decodes = sum(decode_cost(*size) for size in self._sizes if size is not None)
        return IMAGE_BATCH_COST * len(self._items) + decodes

    def prepare(
        self, handler: ImageEmbeddingHandler, gate: PixelGate, deadline: float | None, cancelled: threading.Event | None
    ) -> tuple[list[object], int]:
        """Decode each image and run the model's preprocessing: (payloads, usage tokens).

        One image at a time: only one decoded image is held at once (a few KB of lossless WebP can decode to
        25 Mpx, and 2,000 of them fit in a request). Stops (503 / 499) once ``deadline`` passed or ``cancelled``
        is set, checked before each image and between the steps of each."""
        urls = UrlBudget.for_policy(self._policy, deadline)
        limits = DecodeLimits(gate, deadline, cancelled, urls)
        payloads: list[object] = []
        tokens = 0
        for index, value in self._items:
            with _naming(index):  # decode checks the deadline and the client first
                decoded = decode(value, self._policy, limits)
            tokens += tile_tokens(*decoded.size, self._policy)
            payloads.extend(handler.preprocess_images([decoded.image]))
            del decoded
        return payloads, tokens


@contextmanager
def _naming(index: int) -> Iterator[None]:
    """A 400 raised inside names ``input[index]``."""
    try:
        yield
    except InvalidInputError as err:
        raise InvalidInputError(f"input[{index}]: {err.message}", param=f"input[{index}]") from None
