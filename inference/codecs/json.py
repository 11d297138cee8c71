"""JSON in and out (orjson): numpy arrays are written from their buffers, never through Python floats."""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import InvalidInputError, ServingError
from ..mime import JSON


def dumps(payload: Any) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)


def decode_json(body: bytes) -> Any:
    """The JSON document in ``body``; an empty or malformed body is a 400."""
    if not body:
        raise InvalidInputError("request body is empty")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise InvalidInputError(f"request body is not valid JSON: {err}") from None


def encode_jsonlines(items: list[Any]) -> bytes:
    """One JSON document per line, newline-separated, no trailing newline (``AssembleWith=Line`` adds it).
    Appended one at a time: orjson gives every result a buffer of at least 4 KiB, so holding one per line
    until a join cost 4 KiB a line (41 MiB for 10,000 lines)."""
    out = bytearray()
    for item in items:
        if out:
            out += b"\n"
        out += dumps(item)
    return bytes(out)


def error_json(err: ServingError) -> tuple[bytes, list[tuple[str, str]]]:
    """Body and headers of every error response (the app's, the runtime's shed 503s, gunicorn's protocol
    errors): ``{"error": {"type", "message"[, "param"]}}`` as JSON, with ``Retry-After`` where the type sets it."""
    return dumps(err.envelope()), [("Content-Type", JSON), *err.headers()]
