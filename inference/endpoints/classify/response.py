"""Classify responses in the three shapes.

- Jina: ``{"usage": {"total_tokens"}, "data": [{"object": "classification", "index", "prediction", "score",
  "predictions": [{"label", "score"}, ...]}]}``: ``predictions`` in label order, ``prediction`` the best label
  (the first of equals).
- TEI: per input a list of ``{"score", "label"}``, best first; one input sent alone gets its list, a batch a list
  of lists.
- Infinity: ``{"object": "classify", "data": [[{"score", "label"}, ...]], "model", "usage": {"prompt_tokens",
  "total_tokens"}, "id", "created"}``, each list best first.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import numpy as np

from .types import ClassifyCall, ClassifyResult


def _best_first(scores: np.ndarray, labels: tuple[str, ...]) -> list[dict[str, Any]]:
    order = sorted(range(len(labels)), key=lambda j: (-float(scores[j]), j))
    return [{"score": float(scores[j]), "label": labels[j]} for j in order]


def _jina_entry(index: int, scores: np.ndarray, labels: tuple[str, ...]) -> dict[str, Any]:
    best = int(np.argmax(scores)) if len(labels) else 0
    return {"object": "classification", "index": index, "prediction": labels[best] if labels else "",
            "score": float(scores[best]) if labels else 0.0,
            "predictions": [{"label": label, "score": float(score)} for label, score in zip(labels, scores,
                                                                                           strict=True)]}  # fmt: skip


def build_response(call: ClassifyCall, result: ClassifyResult, *, created: int | None = None,
                   answer_id: str | None = None) -> Any:  # fmt: skip
    """The answer in ``call``'s shape (``created`` / ``answer_id``: Infinity's, fixed only when bounding)."""
    rows = np.asarray(result.scores).reshape(len(call.request.inputs), len(result.labels))
    if call.shape == "tei":
        lists = [_best_first(row, result.labels) for row in rows]
        return lists[0] if call.single else lists
    if call.shape == "infinity":
        return {"object": "classify", "data": [_best_first(row, result.labels) for row in rows],
                "model": result.model, "usage": {"prompt_tokens": result.tokens, "total_tokens": result.tokens},
                "id": answer_id or f"classify-{uuid.uuid4()}",
                "created": int(time.time()) if created is None else created}  # fmt: skip
    return {"usage": {"total_tokens": result.tokens},
            "data": [_jina_entry(i, row, result.labels) for i, row in enumerate(rows)]}  # fmt: skip
