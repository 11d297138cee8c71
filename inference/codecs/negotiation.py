"""Content negotiation: which request bodies are read (Content-Type) and which response is written (Accept)."""

from __future__ import annotations

from ..errors import NotAcceptableError, UnsupportedMediaTypeError
from ..mime import ACCEPTED_CONTENT_TYPES, JSON, RESPONSE_TYPES


def normalise_mime(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def check_content_type(content_type: str | None) -> str:
    """The request body's media type, which must be one the API reads: never guessed, so that a browser's
    "simple" cross-site POST (text/plain, a form, a Blob without a type) cannot make a server compute. boto3
    sends application/json when ContentType is left out."""
    mime = normalise_mime(content_type)
    if not mime:
        raise UnsupportedMediaTypeError(
            f"the request has no Content-Type; send 'Content-Type: {JSON}' (or one of: "
            f"{', '.join(ACCEPTED_CONTENT_TYPES)})"
        )
    if mime not in ACCEPTED_CONTENT_TYPES:
        raise UnsupportedMediaTypeError(
            f"content type {mime!r} is not supported; use one of: {', '.join(ACCEPTED_CONTENT_TYPES)}"
        )
    return mime


def _quality(params: list[str]) -> float:
    for param in params:
        key, _, value = param.partition("=")
        if key.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def negotiate_accept(accept: str | None, default: str = JSON) -> str:
    """Pick the response type from an Accept header (q-values honoured); raise 406 when none fits.

    ``default`` answers a missing Accept and wildcards: JSON Lines for record bodies (Batch Transform).
    """
    if not accept or not accept.strip():
        return default
    ranked: list[tuple[float, int, str]] = []
    for order, part in enumerate(accept.split(",")):
        mime, *params = (piece.strip() for piece in part.split(";"))
        ranked.append((-_quality(params), order, mime.lower()))
    for negative_q, _, mime in sorted(ranked):
        if negative_q >= 0:
            continue
        if mime in ("*/*", "application/*"):
            return default
        if mime in RESPONSE_TYPES:
            return mime
    raise NotAcceptableError(f"cannot produce {accept!r}; this endpoint answers {', '.join(RESPONSE_TYPES)}")
