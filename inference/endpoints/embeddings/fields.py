"""Checks every JSON body schema of the slice shares (OpenAI/Jina, Jina SageMaker, TEI):

- no silent drops (``endpoints/fields.py``, shared with the rerank slice);
- a rerank-shaped body is refused with the reason (this container serves an embedding model);
- pydantic validation errors and the inputs' count and emptiness, as ``InvalidInputError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...core.types import InputItem, TextInput
from ...errors import InvalidInputError, WrongModelKindError
from ..fields import check_fields, validation_error

RERANK_MESSAGE = (
    "this container serves an embedding model; rerank requests (a 'query' with 'documents' or 'texts') need a "
    "container serving a reranker model"
)


def refuse_rerank(body: Mapping[str, Any]) -> None:
    """A rerank body (TEI's ``{"query", "texts"}``, Cohere/Jina's ``{"query", "documents"}``, also inside Jina
    SageMaker's ``data``) sent to an embedding model: say so instead of "unknown field"."""
    data = body.get("data")
    for shape in (body, data if isinstance(data, Mapping) else {}):
        if "query" in shape and ("documents" in shape or "texts" in shape):
            raise WrongModelKindError(RERANK_MESSAGE)


def check_inputs(items: Sequence[InputItem], max_inputs: int, field: str) -> tuple[InputItem, ...]:
    """At least one and at most ``max_inputs`` inputs, no blank text (``field``: the body's name for them)."""
    if not items:
        raise InvalidInputError(f"'{field}' must not be empty", param=field)
    if len(items) > max_inputs:
        raise InvalidInputError(f"too many inputs: {len(items)} > limit {max_inputs}", param=field)
    for index, item in enumerate(items):
        if isinstance(item, TextInput) and not item.text.strip():
            raise InvalidInputError(f"{field}[{index}] is empty", param=f"{field}[{index}]")
    return tuple(items)

__all__ = ["RERANK_MESSAGE", "check_fields", "check_inputs", "refuse_rerank", "validation_error"]
