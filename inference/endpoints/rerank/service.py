"""RerankService: validate a request against the model, tokenise the pairs, score them through the batcher.

No HTTP types here. Pairs share the engine's micro-batcher, admission by work and deadline, and cancellation with
embedding requests: a pair costs its tokens (query + document + special tokens).
"""

from __future__ import annotations

import threading

import numpy as np

from ...core.budget import Reservation
from ...core.engine import ModelEngine
from ...core.forward import BLOCK, PAIR
from ...core.protocol import ListwiseRerankHandler
from ...core.types import MULTIVECTOR
from ...errors import InvalidInputError
from ..multivector.service import MultiVectorService
from ..token_bounds import least_tokens
from .types import RerankRequest, RerankResult

# Prose has shorter words: there the bound of a text's head is the whole text's (elsewhere still a lower bound).
HEAD_CHARS_PER_TOKEN = 16


class RerankService:
    """``rerank`` is safe to call from many threads. A cross-encoder scores each pair; a late-interaction model
    (``late_interaction``) scores each document by MaxSim of its token vectors against the query's."""

    def __init__(self, engine: ModelEngine, max_documents: int,
                 late_interaction: MultiVectorService | None = None) -> None:  # fmt: skip
        self._engine = engine
        self._max_documents = max_documents
        self._late_interaction = late_interaction

    @property
    def max_documents(self) -> int:
        return self._max_documents

    def default_deadline(self) -> float:
        return self._engine.default_deadline()

    def rerank(
        self, request: RerankRequest, deadline: float | None = None, cancelled: threading.Event | None = None
    ) -> RerankResult:
        """Scores of ``request.documents`` against the query, in request order, by ``deadline``."""
        deadline = self.default_deadline() if deadline is None else deadline
        if self._late_interaction is not None and self._engine.info.kind == MULTIVECTOR:
            self._validate(request)
            scores, tokens = self._late_interaction.rerank(request.query, request.documents, request.truncate,
                                                           deadline, cancelled)  # fmt: skip
            return RerankResult(scores=scores, tokens=tokens, model=self._engine.info.name)
        handler = self._engine.reranker
        self._validate(request)
        info = handler.info
        if isinstance(handler, ListwiseRerankHandler):  # texts are cut to the model's caps: a token per text at least
            reservation = self._engine.reserve(1 + len(request.documents), len(request.documents), deadline)
            return self._listwise(handler, request, reservation, deadline, cancelled)
        query_bound = least_tokens([_head(request.query, info.max_length)], info.max_length)
        least = sum(min(info.max_length, query_bound + bound) for bound in _bounds(request.documents, info.max_length))
        reservation = self._engine.reserve(least, len(request.documents), deadline)
        try:
            pairs = handler.tokenize_pairs(request.query, request.documents, request.truncate)
            logits = self._engine.submit(pairs, (PAIR, None), [len(pair) for pair in pairs], deadline=deadline,
                                         cancelled=cancelled, reservation=reservation)  # fmt: skip
        finally:
            reservation.release()  # no-op once the submit took it
        column = np.asarray(logits, dtype=np.float32)[:, 0]
        scores = column if request.raw_scores else handler.activation(column)
        return RerankResult(scores=scores, tokens=sum(len(pair) for pair in pairs), model=info.name)

    def _listwise(self, handler: ListwiseRerankHandler, request: RerankRequest, reservation: Reservation,
                  deadline: float, cancelled: threading.Event | None) -> RerankResult:  # fmt: skip
        """A listwise reranker's scores: the request's blocks through the batcher, merged (never another request's
        documents in a block). Its scores are cosines, the same with ``raw_scores``."""
        try:
            blocks = handler.tokenize_blocks(request.query, request.documents, request.truncate)
            outputs = self._engine.submit_each(blocks, (BLOCK, None), [len(block) for block in blocks],
                                               deadline=deadline, cancelled=cancelled,
                                               reservation=reservation)  # fmt: skip
        finally:
            reservation.release()
        return RerankResult(scores=handler.merge(outputs), tokens=sum(map(len, blocks)), model=handler.info.name)

    def _validate(self, request: RerankRequest) -> None:
        if not request.query or request.query.isspace():
            raise InvalidInputError("query is empty", param="query")
        if not request.documents:
            raise InvalidInputError("documents is empty: send at least one document", param="documents")
        if len(request.documents) > self._max_documents:
            raise InvalidInputError(
                f"{len(request.documents)} documents, more than the limit of {self._max_documents} "
                "(EMB_MAX_DOCUMENTS); split the request",
                param="documents",
            )
        if request.top_n is not None and request.top_n < 1:
            raise InvalidInputError("top_n must be at least 1", param="top_n")


def _head(text: str, max_length: int) -> str:
    """The start of ``text`` that its admission bound needs: the bound counts at most ``max_length`` words, and a
    prefix's words are never more than the whole text's (a few megabytes of query are not split into words)."""
    return text[: max_length * HEAD_CHARS_PER_TOKEN]


def _bounds(documents: tuple[str, ...], max_length: int) -> list[int]:
    return [least_tokens([_head(document, max_length)], max_length) for document in documents]
