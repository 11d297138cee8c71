"""MultiVectorService: a late-interaction model's token vectors, and MaxSim scores for reranking.

No HTTP types here. Sequences go through the engine's micro-batcher (one input type per micro-batch), admitted
by work and deadline like every other request: an input costs its tokens (a query its fixed query length).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from ...core.engine import ModelEngine
from ...core.forward import TOKENS
from ...core.protocol import MultiVectorHandler
from ...core.types import DOCUMENT, QUERY, ModelInfo
from ...errors import InvalidInputError
from ..embeddings.postprocess import finish_vectors
from ..token_bounds import least_tokens
from .types import MultiVectorRequest, MultiVectorResult

MEAN_MAXSIM = "meanmaxsim"  # ModelInfo.pooling of a model scored with length-normalised MaxSim


def maxsim(query: np.ndarray, documents: Sequence[np.ndarray], mean: bool = False) -> np.ndarray:
    """ColBERT's late interaction: for each document, the sum over the query's token vectors of their best dot
    product with any of the document's token vectors (``mean``: divided by the query's token count)."""
    scores = np.array([float((query @ doc.T).max(axis=1).sum()) if len(doc) else 0.0 for doc in documents])
    return scores / max(len(query), 1) if mean else scores


class MultiVectorService:
    """``encode`` and ``rerank`` are safe to call from many threads."""

    def __init__(self, engine: ModelEngine) -> None:
        self._engine = engine

    def default_deadline(self) -> float:
        return self._engine.default_deadline()

    def encode(self, request: MultiVectorRequest, deadline: float | None = None,
               cancelled: threading.Event | None = None) -> MultiVectorResult:  # fmt: skip
        """Each input's token vectors, cut to ``dimensions`` and re-normalised when ``normalized``."""
        deadline = self.default_deadline() if deadline is None else deadline
        handler = self._engine.multivector
        _check_dimensions(request.dimensions, handler.info)
        vectors, tokens = self._vectors(handler, request.inputs, request.input_type, request.truncate, deadline,
                                        cancelled)  # fmt: skip
        finished = [finish_vectors(v, request.dimensions, request.normalized) for v in vectors]  # per token
        return MultiVectorResult(finished, tokens, handler.info.name)

    def rerank(self, query: str, documents: Sequence[str], truncate: bool, deadline: float,
               cancelled: threading.Event | None) -> tuple[np.ndarray, int]:  # fmt: skip
        """MaxSim scores of ``documents`` against ``query``, in request order, and the tokens used."""
        handler = self._engine.multivector
        [query_vectors], query_tokens = self._vectors(handler, [query], QUERY, True, deadline, cancelled)
        doc_vectors, doc_tokens = self._vectors(handler, documents, DOCUMENT, truncate, deadline, cancelled,
                                                "documents")  # fmt: skip
        scores = maxsim(query_vectors, doc_vectors, mean=handler.info.pooling == MEAN_MAXSIM)
        return scores, query_tokens + doc_tokens

    def _vectors(self, handler: MultiVectorHandler, texts: Sequence[str], input_type: str, truncate: bool,
                 deadline: float, cancelled: threading.Event | None,
                 field: str = "input") -> tuple[list[np.ndarray], int]:  # fmt: skip
        info = handler.info
        query_length = info.query_length or info.max_length
        least = len(texts) * query_length if input_type == QUERY else least_tokens(list(texts), info.max_length)
        reservation = self._engine.reserve(least, len(texts), deadline)
        try:
            sequences = handler.tokenize(texts, input_type, truncate)
            if input_type == DOCUMENT and not truncate:
                _check_lengths(sequences, info.max_length, field)
            vectors = self._engine.submit_each(sequences, (TOKENS, input_type), deadline=deadline,
                                               cancelled=cancelled, reservation=reservation)  # fmt: skip
        finally:
            reservation.release()  # no-op once the submit took it
        return vectors, sum(len(ids) for ids in sequences)


def _check_dimensions(dimensions: int | None, info: ModelInfo) -> None:
    options = info.dimension_options or (info.dimensions,)
    if dimensions is not None and dimensions not in options:
        widths = ", ".join(str(width) for width in options)
        raise InvalidInputError(f"dimensions={dimensions} is not a width model {info.name} declares ({widths})",
                                param="dimensions")  # fmt: skip


def _check_lengths(sequences: Sequence[Sequence[int]], max_length: int, field: str) -> None:
    for index, ids in enumerate(sequences):
        if len(ids) > max_length:
            raise InvalidInputError(
                f"{field}[{index}] has {len(ids)} tokens, more than the model's maximum of {max_length}; shorten it "
                "or send truncate=true",
                param=f"{field}[{index}]",
            )
