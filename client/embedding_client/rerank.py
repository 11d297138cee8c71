"""Reranking: the typed results, and the request and response bodies of ``POST /v1/rerank`` (Jina / Cohere
schema), which ``/invocations`` (SageMaker), the Azure ML scoring URI and ``/v1/rerank`` all read when the
endpoint serves a cross-encoder reranker.

The client asks the server for every score and no document texts (``"return_documents": false``, no
``top_n``): the texts are the caller's own, so echoing them would only grow the response (SageMaker caps it at
6 MB), and a rerank split over several requests can only be ranked and cut once every score is in. Ranking is
the server's: score descending, ties in request order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np

from .errors import EmbeddingServiceError

Document = str | dict[str, str]


@dataclass(frozen=True, slots=True)
class RerankResult:
    """One ranked document: its position in the request's ``documents``, its score and (optionally) its text."""

    index: int
    relevance_score: float
    document: str | None = None


@dataclass(frozen=True, eq=False)
class RerankResponse:
    """``results``: highest score first, cut to ``top_n``. ``scores``: every document's score (float64, as the
    server sent it), in the order of the request's ``documents``, whatever ``top_n``. Iterating, ``len`` and
    indexing go over ``results``."""

    results: tuple[RerankResult, ...]
    scores: np.ndarray
    model: str
    total_tokens: int

    def __iter__(self) -> Iterator[RerankResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    @overload
    def __getitem__(self, position: int) -> RerankResult: ...
    @overload
    def __getitem__(self, position: slice) -> tuple[RerankResult, ...]: ...
    def __getitem__(self, position: int | slice) -> RerankResult | tuple[RerankResult, ...]:
        return self.results[position]

    @property
    def indices(self) -> list[int]:
        """The ranked documents' positions, best first."""
        return [result.index for result in self.results]


def text_of(value: Any, name: str) -> str:
    """A query or document: ``str`` or ``{"text": str}`` -> the text."""
    if isinstance(value, dict) and set(value) == {"text"}:
        value = value["text"]
    if not isinstance(value, str):
        raise TypeError(f"{name} must be str or {{'text': str}}, got {value!r:.80}")
    return value


def documents_of(documents: Sequence[Document]) -> list[str]:
    if isinstance(documents, (str, bytes, dict)):
        raise TypeError("documents must be a list of str or {'text': str}, not one " + type(documents).__name__)
    texts = [text_of(value, f"documents[{i}]") for i, value in enumerate(documents)]
    if not texts:
        raise ValueError("documents must not be empty")
    return texts


def rerank_options(query: Document, *, truncate: bool, raw_scores: bool, model: str | None) -> dict[str, Any]:
    """The body of every request but its ``documents``."""
    options: dict[str, Any] = {"query": text_of(query, "query"), "return_documents": False, "truncate": truncate,
                               "raw_scores": raw_scores}  # fmt: skip
    if model is not None:
        options["model"] = model
    return options


def decode_scores(payload: Any, count: int) -> tuple[np.ndarray, int, str]:
    """A ``/v1/rerank`` response for ``count`` documents -> (scores in request order, total_tokens, model)."""
    results = payload.get("results") if isinstance(payload, dict) else None
    if not isinstance(results, list):
        raise EmbeddingServiceError(200, "bad_response", f"no rerank results in the response: {str(payload):.200}")
    indices = [entry.get("index") for entry in results if isinstance(entry, dict)]
    if sorted(i for i in indices if isinstance(i, int)) != list(range(count)):
        raise EmbeddingServiceError(200, "bad_response", f"sent {count} documents, got scores for indices {indices}")
    scores = np.empty(count, dtype=np.float64)
    for entry in results:
        scores[entry["index"]] = float(entry["relevance_score"])
    usage = payload.get("usage") or {}
    return scores, int(usage.get("total_tokens", 0)), str(payload.get("model", ""))


def ranked(scores: np.ndarray, top_n: int | None) -> list[int]:
    """Positions by score, highest first, ties in request order (the server's ranking); the first ``top_n``."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    return order[:top_n] if top_n is not None else order


def build_response(
    scores: np.ndarray, texts: Sequence[str], top_n: int | None, return_documents: bool, total_tokens: int, model: str
) -> RerankResponse:
    results = tuple(
        RerankResult(i, float(scores[i]), texts[i] if return_documents else None) for i in ranked(scores, top_n)
    )
    return RerankResponse(results, scores, model, total_tokens)
