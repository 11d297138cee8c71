"""Framework-free value types shared by every endpoint kind and the model handlers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

TokenIds = Sequence[int]
EMBED, RERANK = "embed", "rerank"  # model kinds (ModelInfo.kind)


@dataclass(frozen=True, slots=True)
class PairIds:
    """One tokenised query/document pair of a cross-encoder: ids, token types (None where the model has none)."""

    ids: list[int]
    types: list[int] | None

    def __len__(self) -> int:
        return len(self.ids)


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
    kind: str = "embed"  # EMBED or RERANK: which API the model serves
