"""Embedding encodings and the OpenAI-shaped JSON response, serialised by orjson from numpy buffers.

- ``float``: JSON numbers (float32 values).
- ``base64``: little-endian float32 bytes, base64-encoded.
- ``binary`` / ``ubinary``: one sign bit per dimension (1 where the value is > 0), packed 8 per byte
  most-significant bit first; ``ubinary`` as uint8 (0..255), ``binary`` as int8 (the uint8 value - 128),
  as Jina and sentence-transformers' ``quantize_embeddings`` define them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

from ..types import EmbedRequest, EmbedResult


def pack_ubinary(vectors: np.ndarray) -> np.ndarray:
    return np.packbits(vectors > 0, axis=1)


def pack_binary(vectors: np.ndarray) -> np.ndarray:
    return (pack_ubinary(vectors).astype(np.int16) - 128).astype(np.int8)


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
}


def encode_embeddings(vectors: np.ndarray, types: tuple[str, ...], as_dict: bool) -> list[Any]:
    """One entry per row: the encoded vector, or ``{type: encoded}`` when several types were asked."""
    encoded = {name: ENCODERS[name](vectors) for name in types}
    if not as_dict:
        return encoded[types[0]]
    return [{name: encoded[name][row] for name in types} for row in range(len(vectors))]


def build_response(result: EmbedResult, request: EmbedRequest) -> dict[str, Any]:
    embeddings = encode_embeddings(result.vectors, request.embedding_types, request.types_as_list)
    return {
        "object": "list",
        "model": result.model,
        "data": [{"object": "embedding", "index": i, "embedding": emb} for i, emb in enumerate(embeddings)],
        "usage": {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens},
    }


def dumps(payload: Any) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
