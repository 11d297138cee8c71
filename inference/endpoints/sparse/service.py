"""SparseService: a SPLADE model's sparse vectors. No HTTP types here. Texts go through the engine's
micro-batcher, admitted by work and deadline like every other request (an input costs its tokens)."""

from __future__ import annotations

import threading

from ...core.engine import ModelEngine
from ...core.forward import VOCAB
from ..token_bounds import least_tokens
from .types import SparseRequest, SparseResult


class SparseService:
    """``encode`` is safe to call from many threads."""

    def __init__(self, engine: ModelEngine) -> None:
        self._engine = engine

    def default_deadline(self) -> float:
        return self._engine.default_deadline()

    def encode(self, request: SparseRequest, deadline: float | None = None,
               cancelled: threading.Event | None = None) -> SparseResult:  # fmt: skip
        """Each input's sparse vector, in request order, and the tokens used."""
        deadline = self.default_deadline() if deadline is None else deadline
        handler = self._engine.sparse
        info = handler.info
        texts = list(request.inputs)
        reservation = self._engine.reserve(least_tokens(texts, info.max_length), len(texts), deadline)
        try:
            sequences = handler.tokenize(texts, request.prompt_name, request.truncate)
            vectors = self._engine.submit_each(sequences, (VOCAB, None), deadline=deadline, cancelled=cancelled,
                                               reservation=reservation)  # fmt: skip
        finally:
            reservation.release()  # no-op once the submit took it
        return SparseResult(vectors, sum(len(ids) for ids in sequences), info.name)
