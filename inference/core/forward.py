"""The batcher's forward pass for each kind of model, and the calibration pass that seeds the throughput estimate.

Batch keys (``BatchKey``: what the micro-batch holds, and its task or input type) route each micro-batch to the
handler method of its kind. Framework-free: no HTTP, no torch (the handler holds it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .budget import WorkBudget
from .heap import HeapTrimmer
from .protocol import (
    ClassifierHandler,
    EmbeddingHandler,
    ImageEmbeddingHandler,
    ListwiseRerankHandler,
    MultiVectorHandler,
    RerankHandler,
    SparseHandler,
)
from .types import CLASSIFY, DOCUMENT, MULTIVECTOR, RERANK, SPARSE

if TYPE_CHECKING:
    from .batching import ForwardFn

log = logging.getLogger(__name__)

# Batch keys' first part: what a micro-batch holds. TEXT and IMAGE: an embedding model's inputs (with the task);
# PAIR: a reranker's query/document pairs; TOKENS: a multi-vector model's sequences (with the input type);
# LABELS: a classifier's inputs; VOCAB: a SPLADE model's texts (sparse vectors over the vocabulary); BLOCK: a
# listwise reranker's blocks (a query with many documents, one sequence).
TEXT, IMAGE, PAIR, TOKENS, LABELS = "text", "image", "pair", "tokens", "labels"
VOCAB, BLOCK = "vocab", "block"
BatchKey = tuple[str, str | None]  # (what, task or input type); (PAIR, None) for reranker pairs
Handler = (
    EmbeddingHandler | RerankHandler | ListwiseRerankHandler | MultiVectorHandler | ClassifierHandler | SparseHandler
)

# Calibration: about this many tokens in sequences of the model's max length (at most CALIBRATION_LENGTH), the
# shape of a loaded worker's batches; the estimate then follows every real pass (budget.py). all-MiniLM-L6-v2:
# 2 x 256 tokens, about 0.1 s per worker on ONNX Runtime with 1 thread on the 2-core development machine; 6 x 256
# cost 0.25-0.5 s, a third of a cold start (docs/performance/startup.md).
CALIBRATION_TOKENS = 512
CALIBRATION_LENGTH = 512
CALIBRATION_TEXT = "The quick brown fox jumps over the lazy dog, then reads a long report about embeddings. "


def forward_for(handler: Handler, heap: HeapTrimmer | None = None) -> ForwardFn:
    """The batcher's forward, by batch key: text batches go to ``forward`` with their task, image batches to
    ``forward_images``, reranker pairs to ``score``, a multi-vector model's batches to its ``forward`` with their
    input type, a classifier's to ``logits``, a SPLADE model's to its ``forward``, a listwise reranker's blocks to
    ``forward_blocks``. After each pass freed host
    memory goes back to the OS once enough piled up (heap.py)."""
    trimmer = heap or HeapTrimmer()

    def forward(payloads: Sequence[Any], key: Hashable) -> np.ndarray | Sequence[np.ndarray]:
        kind, task = cast(BatchKey, key)  # every key is a BatchKey (engine.submit)
        try:
            if kind == PAIR:
                return cast(RerankHandler, handler).score(payloads)
            if kind == BLOCK:
                return cast(ListwiseRerankHandler, handler).forward_blocks(payloads)
            if kind == LABELS:
                return cast(ClassifierHandler, handler).logits(payloads)
            if kind == VOCAB:
                return cast(SparseHandler, handler).forward(payloads)
            if kind == TOKENS:
                assert task is not None
                return cast(MultiVectorHandler, handler).forward(payloads, task)
            if kind == IMAGE:
                assert isinstance(handler, ImageEmbeddingHandler)
                return handler.forward_images(payloads)
            return cast(EmbeddingHandler, handler).forward(payloads, task)
        finally:
            trimmer.after_forward()

    return forward


def calibrate(handler: Handler, forward: ForwardFn, budget: WorkBudget) -> None:
    """Time one forward pass of a synthetic batch (max-length sequences of the tokenizer's own ids) and seed
    ``budget``'s throughput with it, so the very first burst of requests is judged by a measured rate."""
    length = min(handler.info.max_length, CALIBRATION_LENGTH)
    text = CALIBRATION_TEXT * (length // 8 + 1)
    ids: Any
    kind = handler.info.kind
    if isinstance(handler, ListwiseRerankHandler):
        [ids] = handler.tokenize_blocks(CALIBRATION_TEXT[:40], [text], True)
        key: BatchKey = (BLOCK, None)
    elif kind == RERANK:
        [ids] = cast(RerankHandler, handler).tokenize_pairs(CALIBRATION_TEXT[:40], [text], True)
        key = (PAIR, None)
    elif kind == CLASSIFY:
        [ids] = cast(ClassifierHandler, handler).tokenize([text], True)
        key = (LABELS, None)
    elif kind == SPARSE:
        [ids] = cast(SparseHandler, handler).tokenize([text], None, True)
        key = (VOCAB, None)
    elif kind == MULTIVECTOR:
        [ids] = cast(MultiVectorHandler, handler).tokenize([text], DOCUMENT, True)
        ids = ids[: length - 1] + ids[-1:] if len(ids) > length else ids
        key = (TOKENS, DOCUMENT)
    else:
        [ids] = cast(EmbeddingHandler, handler).tokenize([text], None, True)
        ids = ids[: length - 1] + ids[-1:] if len(ids) > length else ids
        key = (TEXT, None)
    batch = [ids] * max(1, CALIBRATION_TOKENS // len(ids))
    started = time.perf_counter()
    forward(batch, key)
    seconds = time.perf_counter() - started
    budget.calibrate(len(ids) * len(batch), seconds)
    log.info("calibrated: %d x %d tokens in %.3f s, %.0f tokens/s", len(batch), len(ids), seconds,
             budget.tokens_per_s or 0)  # fmt: skip
