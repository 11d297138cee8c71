"""Framework-free value types shared by every endpoint kind and the model handlers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

TokenIds = Sequence[int]
# Model kinds (ModelInfo.kind): which API a loaded model serves. EMBED: one vector per input; RERANK: a
# cross-encoder's query/document scores; MULTIVECTOR: late interaction (ColBERT), one vector per token, MaxSim
# reranking; CLASSIFY: a ``*ForSequenceClassification`` model with its own labels.
EMBED, RERANK, MULTIVECTOR, CLASSIFY = "embed", "rerank", "multivector", "classify"
SPARSE = "sparse"  # SPLADE: one sparse vector over the vocabulary per input (``*ForMaskedLM``)
QUERY, DOCUMENT = "query", "document"  # a multi-vector model's two sides (input_type)


@dataclass(frozen=True, slots=True)
class PairIds:
    """One tokenised query/document pair of a cross-encoder: ids, token types (None where the model has none)."""

    ids: list[int]
    types: list[int] | None

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, slots=True)
class Token:
    """One token of a text as the model's tokenizer cuts it: ``start``/``stop`` are character offsets into the
    text that was tokenised (None for special tokens, which cover no characters)."""

    id: int
    text: str
    special: bool
    start: int | None
    stop: int | None


@dataclass(frozen=True, slots=True)
class TextInput:
    text: str


@dataclass(frozen=True, slots=True)
class ImageInput:
    image: str  # URL, base64 or data: URI; decoded by the image codec


InputItem = TextInput | ImageInput


@dataclass(frozen=True, slots=True)
class ModelInfo:
    name: str
    dimensions: int
    max_length: int
    pooling: str = "mean"
    tasks: tuple[str, ...] = ()
    modalities: frozenset[str] = field(default_factory=lambda: frozenset({"text"}))
    late_chunking: bool = True
    device: str = "cpu"
    dtype: str = "float32"
    backend: str = "torch"  # what computes: torch, or onnx / onnx-int8 (ONNX Runtime on CPU: EMB_CPU_BACKEND)
    kind: str = "embed"  # EMBED, RERANK, MULTIVECTOR, CLASSIFY or SPARSE: which API the model serves
    # MULTIVECTOR: the widths ``dimensions`` may take (Matryoshka, declared by the folder; the full width first).
    dimension_options: tuple[int, ...] = ()
    query_length: int | None = None  # MULTIVECTOR: every query's length in tokens (query expansion)
    labels: tuple[str, ...] = ()  # CLASSIFY: the model's labels, by output index (config.json's id2label)
    # Padded tokens one forward pass may hold, planned at load from the accelerator memory left free
    # (core/memory_plan.py); None where not planned (CPU). Caps EMB_MAX_BATCH_TOKENS.
    max_forward_tokens: int | None = None
