"""Framework-free value types that flow parse -> validate -> batch -> model -> encode."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

EmbeddingType = Literal["float", "base64", "binary", "ubinary"]
EMBEDDING_TYPES: tuple[str, ...] = ("float", "base64", "binary", "ubinary")


@dataclass(frozen=True, slots=True)
class TextInput:
    text: str


@dataclass(frozen=True, slots=True)
class ImageInput:
    image: str  # URL, base64 or data: URI; decoded by the image codec


InputItem = TextInput | ImageInput


@dataclass(frozen=True, slots=True)
class EmbedRequest:
    """A validated embeddings request, independent of the wire format it came in."""

    inputs: tuple[InputItem, ...]
    model: str | None = None
    task: str | None = None
    dimensions: int | None = None
    normalized: bool = True
    embedding_types: tuple[str, ...] = ("float",)
    types_as_list: bool = False  # the client sent a list of types: each embedding becomes {type: value}
    truncate: bool = True
    late_chunking: bool = False


@dataclass(frozen=True, slots=True)
class EmbedResult:
    vectors: np.ndarray  # (n, d) float32, post-processed (dimensions, normalisation)
    prompt_tokens: int
    model: str


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
