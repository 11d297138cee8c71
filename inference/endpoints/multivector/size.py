"""The most bytes a multi-vector answer takes, before any model work (response_size.py's bound for this slice):
each input's entry holds one encoded vector per token, and a text's tokens are bounded without its tokenizer."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ...codecs.json import dumps
from ...core.types import QUERY, ModelInfo
from ..bound import Bound, digits, worst
from ..embeddings.response import ENCODERS
from ..embeddings.types import ResponseFormat
from .response import entry, envelope
from .types import MultiVectorCall

MOST_TOKENS = 2**64 - 1


@lru_cache(maxsize=512)
def _token_entry_bytes(fmt: ResponseFormat, dims: int) -> tuple[int, int]:
    """(bytes of a multi-vector entry with one token vector and a one-digit index, bytes each further token
    vector adds): the real writers on worst-case vectors; an entry grows linearly with its tokens."""
    def size(tokens: int) -> int:
        encoded = {kind: ENCODERS[kind](np.repeat(worst(kind, dims), tokens, axis=0)) for kind in fmt.types}
        return len(dumps(entry(0, encoded if fmt.as_dict else encoded[fmt.types[0]])))

    return size(1), size(2) - size(1)


def _most_tokens(text: str, input_type: str, info: ModelInfo) -> int:
    """A text's token vectors at most: a query's fixed length; a document's tokens never outnumber its UTF-8 bytes
    plus its special and marker tokens, nor the model's maximum (a longer one is cut, or refused)."""
    if input_type == QUERY:
        return info.query_length or info.max_length
    return min(info.max_length, len(text.encode("utf-8", "surrogatepass")) + 8)


def multivector_bound(call: MultiVectorCall, info: ModelInfo, frame: int | None = None) -> Bound:
    """Jina's multi-vector list: each input's entry holds one encoded vector per token."""
    request = call.request
    dims = min(request.dimensions or info.dimensions, info.dimensions)
    first, more = _token_entry_bytes(call.format, dims)
    wider = digits(len(request.inputs)) - 1
    parts = [first + 1 + wider + more * (_most_tokens(text, request.input_type, info) - 1)
             for text in request.inputs]  # fmt: skip
    advice = 'split it, ask for fewer dimensions, or for "embedding_type": "base64" or "binary"'
    return Bound(len(dumps(envelope([], info.name, MOST_TOKENS))) if frame is None else frame, parts, "inputs",
                 f"{dims}-dimension token vectors", advice)  # fmt: skip
