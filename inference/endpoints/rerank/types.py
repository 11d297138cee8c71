"""Framework-free request and result types of the rerank slice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

# Jina / Cohere v1 ``{"results": ...}``, TEI's bare list, or Cohere v2's ``{"id", "results", "meta"}``
RerankFormat = Literal["jina", "tei", "cohere"]


@dataclass(frozen=True, slots=True)
class RerankRequest:
    query: str
    documents: tuple[str, ...]
    top_n: int | None = None
    return_documents: bool = True
    raw_scores: bool = False
    truncate: bool = True


@dataclass(frozen=True, slots=True)
class RerankCall:
    """A parsed request: what to score, and the response shape to answer in."""

    request: RerankRequest
    format: RerankFormat = "jina"


@dataclass(frozen=True, slots=True)
class RerankResult:
    scores: np.ndarray  # one per document, in request order (activated unless raw_scores)
    tokens: int
    model: str
