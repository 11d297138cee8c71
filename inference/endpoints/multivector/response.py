"""The multi-vector answer (the one writer of it): Jina's list of ``{"object": "embeddings", "index",
"embeddings"}`` entries, each input's token vectors encoded as the embeddings slice encodes one vector
(``float``, ``base64``, ``binary``, ``ubinary``, ``int8``, ``uint8``: int8/uint8 quantised value by value over a
fixed range, so one input's token vectors never depend on another's); a list of types makes ``embeddings`` an
object keyed by type."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..embeddings.response import ENCODERS
from ..embeddings.types import ResponseFormat
from .types import MultiVectorResult


def encode_tokens(vectors: np.ndarray, fmt: ResponseFormat) -> Any:
    """One input's ``embeddings`` value: its token vectors, each encoded (or ``{type: [...]}``)."""
    encoded = {name: ENCODERS[name](vectors) for name in fmt.types}
    return encoded if fmt.as_dict else encoded[fmt.types[0]]


def entry(index: int, embeddings: Any) -> dict[str, Any]:
    return {"object": "embeddings", "index": index, "embeddings": embeddings}


def envelope(entries: Sequence[Any], model: str, tokens: int) -> dict[str, Any]:
    """``{"object": "list", "model", "data": [...], "usage": {"prompt_tokens", "total_tokens"}}``."""
    return {"object": "list", "model": model, "data": list(entries),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}  # fmt: skip


def build_response(result: MultiVectorResult, fmt: ResponseFormat) -> dict[str, Any]:
    entries = [entry(i, encode_tokens(vectors, fmt)) for i, vectors in enumerate(result.vectors)]
    return envelope(entries, result.model, result.tokens)
