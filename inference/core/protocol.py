"""The one protocol every model family implements. Pure compute: no HTTP, no env reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from .types import ModelInfo, PairIds, TokenIds


@runtime_checkable
class EmbeddingHandler(Protocol):
    """Adapter around one loaded model.

    The service calls ``tokenize`` in request threads (CPU, parallel); the batcher calls ``forward``
    on length-sorted micro-batches of one task from a single thread, so tokenisation overlaps the model.
    """

    @property
    def info(self) -> ModelInfo: ...

    def tokenize(self, texts: Sequence[str], task: str | None, truncate: bool) -> list[list[int]]:
        """Token ids with special tokens (and the task's prompt); cut to ``info.max_length`` when ``truncate``."""
        ...

    def forward(self, batch: Sequence[TokenIds], task: str | None) -> np.ndarray:
        """Pooled, unnormalised float32 embeddings, shape ``(len(batch), info.dimensions)``."""
        ...

    def forward_tokens(self, ids: TokenIds, task: str | None) -> np.ndarray:
        """Per-token float32 embeddings of one sequence, shape ``(len(ids), info.dimensions)`` (late chunking)."""
        ...

    def split_special(self, ids: TokenIds) -> tuple[list[int], list[int], list[int]]:
        """Split one tokenised input into (leading special tokens, content, trailing special tokens)."""
        ...

    def warmup(self) -> None:
        """Run one small batch so the first real request does not pay for lazy initialisation."""
        ...


@runtime_checkable
class ImageEmbeddingHandler(EmbeddingHandler, Protocol):
    """A handler whose ``info.modalities`` contains ``image``: images share the text vector space."""

    def preprocess_images(self, images: Sequence[Image.Image]) -> list[Any]:
        """CPU: one model-ready payload per decoded RGB image (runs in request threads)."""
        ...

    def forward_images(self, batch: Sequence[Any]) -> np.ndarray:
        """Projected float32 embeddings, shape ``(len(batch), info.dimensions)``."""
        ...


@runtime_checkable
class RerankHandler(Protocol):
    """Adapter around one loaded cross-encoder (``info.kind == RERANK``): scores query/document pairs.

    ``tokenize_pairs`` runs in request threads; ``score`` on length-sorted micro-batches from the batcher."""

    @property
    def info(self) -> ModelInfo: ...

    def tokenize_pairs(self, query: str, documents: Sequence[str], truncate: bool) -> list[PairIds]:
        """Query and each document as one pair of ``info.max_length`` tokens at most: with ``truncate`` cut as
        sentence-transformers' ``CrossEncoder.predict`` cuts it (longer side first), else ``InvalidInputError``."""
        ...

    def score(self, batch: Sequence[PairIds]) -> np.ndarray:
        """Raw relevance logits, float32, shape ``(len(batch), 1)``."""
        ...

    def activation(self, logits: np.ndarray) -> np.ndarray:
        """The model's score from its logits (sigmoid for one-label cross-encoders, as sentence-transformers)."""
        ...

    def warmup(self) -> None: ...
