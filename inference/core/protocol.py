"""The one protocol every model family implements. Pure compute: no HTTP, no env reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from .types import ModelInfo, PairIds, Token, TokenIds

# One sparse vector (SparseHandler.forward): its nonzero entries in ascending index order.
SPARSE_ENTRY = np.dtype([("index", np.int64), ("value", np.float32)])


class TextTokenizer(Protocol):
    """The served model's own tokenizer, for ``/tokenize``, ``/decode`` and the segmenter (no model work).

    Every handler of every kind has one (``text_tokenizer``): token counts and ids equal the tokenizer's own."""

    @property
    def prompts(self) -> dict[str, str]:
        """The model's named prompts (sentence-transformers' ``prompts``): what ``prompt_name`` prepends."""
        ...

    def tokens(self, text: str, add_special_tokens: bool) -> list[Token]:
        """``text``'s tokens, uncut, with ids, token text, special flag and character offsets into ``text``."""
        ...

    def count(self, texts: Sequence[str], add_special_tokens: bool) -> list[int]:
        """How many tokens each text has, uncut."""
        ...

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Each token's character span in ``text``, without added special tokens (cheap: no ``Token`` objects)."""
        ...

    def decode(self, ids: Sequence[int], skip_special_tokens: bool) -> str:
        """The text of ``ids``; ``InvalidInputError`` for an id outside the vocabulary."""
        ...


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


@runtime_checkable
class ListwiseRerankHandler(Protocol):
    """Adapter around one listwise reranker (``info.kind == RERANK``, jina-reranker-v3): a query and many documents
    share one sequence (a block), and a document's score depends on the others'.

    ``tokenize_blocks`` runs in request threads; ``forward_blocks`` on micro-batches of blocks from the batcher."""

    @property
    def info(self) -> ModelInfo: ...

    def tokenize_blocks(self, query: str, documents: Sequence[str], truncate: bool) -> list[list[int]]:
        """The blocks' prompts as token ids, each holding the next documents in order (the model card's packing)."""
        ...

    def forward_blocks(self, batch: Sequence[TokenIds]) -> list[np.ndarray]:
        """Each block's projected vectors, float32: the query's row, then one row per document of the block."""
        ...

    def merge(self, outputs: Sequence[np.ndarray]) -> np.ndarray:
        """The documents' scores, in order, from all blocks of one request (``forward_blocks``' outputs)."""
        ...

    def warmup(self) -> None: ...


class MultiVectorHandler(Protocol):
    """Adapter around one late-interaction (ColBERT-style) model (``info.kind == MULTIVECTOR``): one vector per
    token, queries and documents tokenised differently (``input_type``: ``QUERY`` or ``DOCUMENT``).

    ``tokenize`` runs in request threads; ``forward`` on length-sorted micro-batches of one input type."""

    @property
    def info(self) -> ModelInfo: ...

    @property
    def text_tokenizer(self) -> TextTokenizer: ...

    def tokenize(self, texts: Sequence[str], input_type: str, truncate: bool) -> list[list[int]]:
        """Model-ready ids: the input type's marker token, queries expanded with the mask token to
        ``info.query_length`` (and cut to it); documents cut to ``info.max_length`` when ``truncate``."""
        ...

    def forward(self, batch: Sequence[TokenIds], input_type: str) -> list[np.ndarray]:
        """Each sequence's token vectors as the reference library encodes them: projected, L2-normalised per
        token, float32 ``(tokens kept, info.dimensions)``; documents without padding and skip-list tokens."""
        ...

    def warmup(self) -> None: ...


class ClassifierHandler(Protocol):
    """Adapter around one ``*ForSequenceClassification`` model with several labels (``info.kind == CLASSIFY``,
    ``info.labels``). ``tokenize`` runs in request threads; ``logits`` on micro-batches from the batcher."""

    @property
    def info(self) -> ModelInfo: ...

    @property
    def text_tokenizer(self) -> TextTokenizer: ...

    def tokenize(self, inputs: Sequence[str | tuple[str, str]], truncate: bool) -> list[PairIds]:
        """One text, or a text pair, each as model-ready ids; cut to ``info.max_length`` when ``truncate``, else
        ``InvalidInputError``."""
        ...

    def logits(self, batch: Sequence[PairIds]) -> np.ndarray:
        """Raw logits, float32, shape ``(len(batch), len(info.labels))``."""
        ...

    def activation(self, logits: np.ndarray) -> np.ndarray:
        """Label scores from logits as ``transformers``' text-classification pipeline computes them: softmax for
        single-label models, sigmoid for ``problem_type == "multi_label_classification"``."""
        ...

    def warmup(self) -> None: ...


class SparseHandler(Protocol):
    """Adapter around one SPLADE model (``info.kind == SPARSE``; ``info.dimensions``: the vocabulary size): one
    sparse vector per text. ``tokenize`` runs in request threads; ``forward`` on micro-batches from the batcher."""

    @property
    def info(self) -> ModelInfo: ...

    @property
    def text_tokenizer(self) -> TextTokenizer: ...

    def tokenize(self, texts: Sequence[str], prompt_name: str | None, truncate: bool) -> list[list[int]]:
        """Token ids with special tokens (after the named prompt, else the default one); cut to
        ``info.max_length`` when ``truncate``, else ``InvalidInputError`` for an over-long text."""
        ...

    def forward(self, batch: Sequence[TokenIds]) -> list[np.ndarray]:
        """Each sequence's sparse vector as sentence-transformers' ``SparseEncoder`` encodes it: the nonzero
        entries (``SPARSE_ENTRY`` records, ascending index) of the pooled ``log(1 + relu(logits))``."""
        ...

    def warmup(self) -> None: ...
