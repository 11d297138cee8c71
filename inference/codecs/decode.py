"""Request bodies in: content-type and Accept checks, JSON decoding, wire schema -> EmbedRequest."""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import InvalidInputError, NotAcceptableError, UnsupportedMediaTypeError
from ..schemas import parse_embeddings_request
from ..types import EmbedRequest

JSON = "application/json"
JSONLINES = "application/jsonlines"
CSV = "text/csv"
# Exactly the types the Marketplace model package declares (marketplace/model_package.py).
ACCEPTED_CONTENT_TYPES = (JSON, JSONLINES, CSV)
RESPONSE_TYPES = (JSON, JSONLINES)


def normalise_mime(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def check_content_type(content_type: str | None) -> str:
    """A missing content type is read as JSON (curl -d and boto3 without ContentType)."""
    mime = normalise_mime(content_type) or JSON
    if mime not in ACCEPTED_CONTENT_TYPES:
        raise UnsupportedMediaTypeError(
            f"content type {mime!r} is not supported; use one of: {', '.join(ACCEPTED_CONTENT_TYPES)}"
        )
    return mime


def negotiate_accept(accept: str | None, default: str = JSON) -> str:
    """Pick the response type from an Accept header (q-values honoured); raise 406 when none fits.

    ``default`` answers a missing Accept and wildcards: JSON Lines for record bodies (Batch Transform).
    """
    if not accept or not accept.strip():
        return default
    ranked: list[tuple[float, int, str]] = []
    for order, part in enumerate(accept.split(",")):
        mime, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranked.append((-quality, order, mime.lower()))
    for negative_q, _, mime in sorted(ranked):
        if negative_q >= 0:
            continue
        if mime in ("*/*", "application/*"):
            return default
        if mime in RESPONSE_TYPES:
            return mime
    raise NotAcceptableError(f"cannot produce {accept!r}; this endpoint answers {', '.join(RESPONSE_TYPES)}")


def decode_json(body: bytes) -> Any:
    if not body:
        raise InvalidInputError("request body is empty")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise InvalidInputError(f"request body is not valid JSON: {err}") from None


def decode_request(body: bytes, content_type: str | None, *, max_inputs: int) -> EmbedRequest:
    check_content_type(content_type)
    return parse_embeddings_request(decode_json(body), max_inputs=max_inputs)
