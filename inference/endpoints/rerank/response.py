"""Rerank responses: results sorted by score (ties keep request order), ``index`` into the request's documents."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from .types import RerankCall, RerankResult


def ranked(scores: np.ndarray, top_n: int | None) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    return order[:top_n] if top_n is not None else order


def build_response(call: RerankCall, result: RerankResult) -> Any:
    """The Jina / Cohere v1 object, Cohere v2's, or TEI's list of ``{"index", "score"[, "text"]}``."""
    request = call.request
    order = ranked(result.scores, request.top_n)
    if call.format == "tei":
        tei = []
        for i in order:
            item: dict[str, Any] = {"index": i, "score": float(result.scores[i])}
            if request.return_documents:
                item["text"] = request.documents[i]
            tei.append(item)
        return tei
    if call.format == "cohere":
        return {"id": str(uuid.uuid4()),
                "results": [{"index": i, "relevance_score": float(result.scores[i])} for i in order],
                "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1},
                         "tokens": {"input_tokens": result.tokens}}}  # fmt: skip
    results = []
    for i in order:
        entry: dict[str, Any] = {"index": i, "relevance_score": float(result.scores[i])}
        if request.return_documents:
            entry["document"] = {"text": request.documents[i]}
        results.append(entry)
    return {"model": result.model, "object": "list", "usage": {"total_tokens": result.tokens}, "results": results}
