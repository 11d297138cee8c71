"""The embeddings response: vector encodings and the envelope around them (the one writer of both): the
OpenAI-shaped list, or TEI's bare ``[[...], ...]`` (``ResponseFormat.shape``).

- ``float``: JSON numbers (float32 values).
- ``base64``: little-endian float32 bytes, base64-encoded.
- ``binary`` / ``ubinary``: one sign bit per dimension (1 where the value is > 0), packed 8 per byte
  most-significant bit first; ``ubinary`` as uint8 (0..255), ``binary`` as int8 (the uint8 value - 128),
  as Jina and sentence-transformers' ``quantize_embeddings`` define them.
- ``int8`` / ``uint8``: one byte per dimension, ``quantize_embeddings``' scalar quantisation with the fixed
  calibration range ``[-1, 1]`` in every dimension (``QUANTISATION_RANGE``): 255 equal steps, ``floor((v + 1) /
  (2 / 255))`` clipped to 0..255 (``uint8``), minus 128 (``int8``). Fixed, not computed from the request's own
  vectors (``quantize_embeddings`` without ``ranges``): a text gets the same bytes in any request and alone
  (where per-batch ranges are undefined). It covers every value of a normalised vector; an unnormalised
  (``normalized: false``) value outside ``[-1, 1]`` saturates at the end of the range.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .types import EmbedResult, ResponseFormat


def pack_ubinary(vectors: np.ndarray) -> np.ndarray:
    return np.packbits(vectors > 0, axis=1)


def pack_binary(vectors: np.ndarray) -> np.ndarray:
    return (pack_ubinary(vectors).astype(np.int16) - 128).astype(np.int8)


QUANTISATION_RANGE = (-1.0, 1.0)


def quantise(vectors: np.ndarray, precision: str) -> np.ndarray:
    """``quantize_embeddings(vectors, precision, ranges=...)`` for ``int8`` / ``uint8`` over the fixed range
    (the same float32 arithmetic, so the same bytes). Values far outside the range (which saturate anyway) are
    brought within one unit of it first, so that huge ones do not overflow; NaN counts as 0."""
    low, high = (np.float32(end) for end in QUANTISATION_RANGE)
    step = (high - low) / np.float32(255)
    values = np.nan_to_num(vectors.astype(np.float32, copy=False), nan=0.0, posinf=float(high + 1),
                           neginf=float(low - 1))
    levels = np.clip(np.floor((np.clip(values, low - 1, high + 1) - low) / step), 0, 255)
    quantised: np.ndarray = (levels - 128).astype(np.int8) if precision == "int8" else levels.astype(np.uint8)
    return quantised


def _float_rows(vectors: np.ndarray) -> list[Any]:
    return list(vectors)  # rows stay numpy arrays; orjson writes them without Python floats


def _base64_rows(vectors: np.ndarray) -> list[Any]:
    raw = vectors.astype("<f4", copy=False)
    return [base64.b64encode(row.tobytes()).decode("ascii") for row in raw]


ENCODERS: dict[str, Callable[[np.ndarray], list[Any]]] = {
    "float": _float_rows,
    "base64": _base64_rows,
    "binary": lambda v: list(pack_binary(v)),
    "ubinary": lambda v: list(pack_ubinary(v)),
    "int8": lambda v: list(quantise(v, "int8")),
    "uint8": lambda v: list(quantise(v, "uint8")),
}


def encode_embeddings(vectors: np.ndarray, fmt: ResponseFormat) -> list[Any]:
    """One entry per row: the encoded vector, or ``{type: encoded}`` when a list of types was asked."""
    encoded = {name: ENCODERS[name](vectors) for name in fmt.types}
    if not fmt.as_dict:
        return encoded[fmt.types[0]]
    return [{name: encoded[name][row] for name in fmt.types} for row in range(len(vectors))]


def envelope(embeddings: Sequence[Any], model: str, prompt_tokens: int) -> dict[str, Any]:
    """``{"object": "list", "model", "data": [{"object": "embedding", "index", "embedding"}], "usage"}``."""
    return {
        "object": "list",
        "model": model,
        "data": [{"object": "embedding", "index": i, "embedding": emb} for i, emb in enumerate(embeddings)],
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


def build_response(result: EmbedResult, fmt: ResponseFormat) -> Any:
    """The JSON payload: the list envelope, or (shape "tei") the encoded vectors alone, one per input."""
    embeddings = encode_embeddings(result.vectors, fmt)
    if fmt.shape == "tei":
        return embeddings
    return envelope(embeddings, result.model, result.prompt_tokens)


def response_lines(payload: Any) -> list[Any]:
    """What JSON Lines writes one per line: the list envelope's ``data`` entries, or TEI's vectors."""
    return payload if isinstance(payload, list) else list(payload["data"])
