"""Vertex AI's prediction body around the two slices (framework-free): no pipeline of its own.

``{"instances": [...], "parameters": {...}}`` in, ``{"predictions": [...]}`` out, one prediction per instance in
order (Vertex adds ``deployedModelId`` and the model names itself). An embedding model's instances are the
``input`` items (strings, ``{"text"}``, ``{"image"}``) and ``parameters`` its request options; a prediction is
the item's ``embedding`` (floats, or the encoded value(s) for other ``embedding_type`` values). A reranker's
instance is one rerank request (``{"query", "documents", "top_n"?, ...}``, ``parameters`` the options all share,
never a query or documents); the instances' documents together are within the rerank document limit, checked
before any instance is parsed; a prediction is that request's ``results``. Any other body (rawPredict; no
``instances``) is served as the native API would, by the loaded model's slice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..codecs.json import decode_json, dumps
from ..codecs.negotiation import check_content_type, negotiate_accept
from ..errors import InvalidInputError
from ..mime import JSON
from .embeddings.endpoint import EmbeddingsEndpoint, Parsed
from .embeddings.schema import OPTION_FIELDS, parse_embeddings_request
from .fields import check_fields
from .reply import Reply
from .rerank.endpoint import ParsedRerank, RerankEndpoint
from .rerank.schema import parse_rerank_request

VERTEX_FIELDS = ("instances", "parameters")
RERANK_OWN_FIELDS = ("query", "documents", "texts")  # each instance's own: never shared through ``parameters``


@dataclass(frozen=True, slots=True)
class VertexParsed:
    """The native calls a body asked for: one embeddings call, or one rerank call per instance. ``predictions``:
    answer in Vertex's shape (else the one native call's reply as is)."""

    calls: tuple[Parsed | ParsedRerank, ...]
    predictions: bool

    @property
    def inputs(self) -> int:
        return sum(call.inputs for call in self.calls)


def _parameters(body: dict[str, Any]) -> dict[str, Any]:
    check_fields(body, VERTEX_FIELDS)
    params = body.get("parameters")
    params = {} if params is None else params
    if not isinstance(params, dict):
        raise InvalidInputError("'parameters' must be an object", param="parameters")
    if not isinstance(body["instances"], list) or not body["instances"]:
        raise InvalidInputError("'instances' must be a non-empty list", param="instances")
    return params


def _rerank_parameters(params: dict[str, Any]) -> None:
    for name in RERANK_OWN_FIELDS:
        if name in params:
            raise InvalidInputError(
                f"'parameters' may not carry '{name}': each instance is one rerank request with its own query and "
                "documents; parameters hold only the options the instances share (top_n, truncate, ...)",
                param=f"parameters.{name}",
            )


def _document_count(instance: Any) -> int:
    documents = instance.get("documents", instance.get("texts")) if isinstance(instance, dict) else None
    return len(documents) if isinstance(documents, list) else 0


def _check_rerank_size(instances: list[Any], max_documents: int) -> None:
    """The request's documents, all instances together, within ``max_documents``: checked before any instance is
    parsed, so a body of many instances costs no more than one rerank request of the limit's size."""
    total = sum(_document_count(instance) for instance in instances)
    if max(total, len(instances)) > max_documents:
        counted = f"{total} documents" if total >= len(instances) else f"{len(instances)} instances"
        raise InvalidInputError(
            f"the instances hold {counted}, more than the limit of {max_documents} documents per request "
            "(EMB_MAX_DOCUMENTS), all instances together; split the request",
            param="instances",
        )


def _rerank_instance(index: int, instance: Any, params: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(instance, dict):
        raise InvalidInputError(f"instances[{index}] must be an object with 'query' and 'documents'",
                                param=f"instances[{index}]")  # fmt: skip
    return {**params, **instance}


class VertexEndpoint:
    """Parses and runs Vertex bodies through the slice of the loaded model (``is_reranker()`` raises while no
    model is loaded, so a body is never judged by the wrong slice)."""

    def __init__(
        self, embeddings: EmbeddingsEndpoint, reranking: RerankEndpoint, is_reranker: Callable[[], bool],
        max_inputs: int,
    ) -> None:  # fmt: skip
        self._embeddings, self._reranking = embeddings, reranking
        self._is_reranker = is_reranker
        self._max_inputs = max_inputs

    def parse(self, body: bytes, content_type: str | None, accept: str | None) -> VertexParsed:
        reranker = self._is_reranker()
        native = self._reranking if reranker else self._embeddings
        if check_content_type(content_type) != JSON:
            return VertexParsed((native.parse(body, content_type, accept),), predictions=False)
        decoded = decode_json(body)
        answer = negotiate_accept(accept, default=JSON)
        if not (isinstance(decoded, dict) and "instances" in decoded):  # rawPredict: a native body
            if reranker:
                return VertexParsed((ParsedRerank(parse_rerank_request(decoded), answer),), predictions=False)
            call = parse_embeddings_request(decoded, max_inputs=self._max_inputs)
            return VertexParsed((Parsed(call, answer),), predictions=False)
        params = _parameters(decoded)
        if reranker:
            _rerank_parameters(params)
            _check_rerank_size(decoded["instances"], self._reranking.max_documents)
            calls = tuple(ParsedRerank(parse_rerank_request(_rerank_instance(i, instance, params)), JSON)
                          for i, instance in enumerate(decoded["instances"]))  # fmt: skip
            return VertexParsed(calls, predictions=True)
        check_fields(params, OPTION_FIELDS, where="parameters")
        call = parse_embeddings_request({**params, "input": decoded["instances"]}, max_inputs=self._max_inputs)
        return VertexParsed((Parsed(call, JSON),), predictions=True)

    def run(
        self, parsed: VertexParsed, deadline: float | None = None, cancelled: threading.Event | None = None
    ) -> Reply:
        replies = [self._run_one(call, deadline, cancelled) for call in parsed.calls]
        if not parsed.predictions:
            return replies[0]
        answers = [decode_json(reply.content) for reply in replies]
        if isinstance(parsed.calls[0], ParsedRerank):
            # an instance in TEI's form (``texts``) answers TEI's list; the others Jina's object
            predictions = [answer if isinstance(answer, list) else answer["results"] for answer in answers]
        else:
            predictions = [item["embedding"] for item in sorted(answers[0]["data"], key=lambda item: item["index"])]
        return Reply(dumps({"predictions": predictions}), JSON, units=sum(reply.units for reply in replies),
                     tokens=sum(reply.tokens for reply in replies))  # fmt: skip

    def _run_one(
        self, call: Parsed | ParsedRerank, deadline: float | None, cancelled: threading.Event | None
    ) -> Reply:
        if isinstance(call, ParsedRerank):
            return self._reranking.run(call, deadline, cancelled)
        return self._embeddings.run(call, deadline, cancelled)
