"""Framework-free request and result types of the multi-vector slice."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...core.types import DOCUMENT
from ..embeddings.types import ResponseFormat


@dataclass(frozen=True, slots=True)
class MultiVectorRequest:
    """A validated request: texts of one side (``input_type``: query or document), and the vectors' options."""

    inputs: tuple[str, ...]
    input_type: str = DOCUMENT
    dimensions: int | None = None
    normalized: bool = True
    truncate: bool = True


@dataclass(frozen=True, slots=True)
class MultiVectorCall:
    """One parsed body: the service's request and how its vectors are written (``types``, ``as_dict``)."""

    request: MultiVectorRequest
    format: ResponseFormat = ResponseFormat()


@dataclass(frozen=True, slots=True)
class MultiVectorResult:
    vectors: list[np.ndarray]  # per input, (tokens, d) float32, post-processed (dimensions, normalisation)
    tokens: int
    model: str
