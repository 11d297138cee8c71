"""The most bytes a sparse answer takes, before any model work (response_size.py's bound for this slice).

A SPLADE vector may hold every vocabulary entry (a max over the tokens of ``log(1 + relu(logit))`` is nonzero
wherever any token's logit is positive), so each input is bounded by ``info.dimensions`` (the vocabulary) entries,
each written by the real writer with the widest index and a value as long as orjson writes a float32."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ...codecs.json import dumps
from ...core.protocol import SPARSE_ENTRY
from ...core.types import ModelInfo
from ..bound import WORST_FLOAT32, Bound
from .response import sparse_entries
from .types import SparseRequest


@lru_cache(maxsize=64)
def input_bytes(vocabulary: int) -> int:
    """One input's answer at most, with its separator: every entry of the vocabulary, at its widest."""
    one = np.array([(max(vocabulary - 1, 0), WORST_FLOAT32)], dtype=SPARSE_ENTRY)
    entry = len(dumps(sparse_entries(one))) - len(b"[]")
    return len(b"[]") + vocabulary * (entry + 1) - 1 + 1


def sparse_bound(request: SparseRequest, info: ModelInfo, frame: int | None = None) -> Bound:
    """TEI's list of lists (or JSON Lines, or Vertex's predictions when ``frame`` says what is around them)."""
    advice = f"split it: a SPLADE vector may hold all {info.dimensions} vocabulary entries"
    return Bound(len(b"[]") if frame is None else frame, [input_bytes(info.dimensions)] * len(request.inputs),
                 "inputs", "sparse vectors", advice)  # fmt: skip
