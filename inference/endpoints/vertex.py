"""Vertex AI's prediction body around the slices (framework-free): no pipeline of its own.

``{"instances": [...], "parameters": {...}}`` in, ``{"predictions": [...]}`` out, one prediction per instance in
order (Vertex adds ``deployedModelId`` and the model names itself). An embedding model's instances are the ``input``
items (strings, ``{"text"}``, ``{"image"}``) and ``parameters`` its request options; a prediction is the item's
``embedding`` (floats, or the encoded value(s) for other ``embedding_type`` values). A reranker's instance is one
rerank request (``{"query", "documents", "top_n"?, ...}``, ``parameters`` the options all share, never a query or
documents); the instances' documents together are within the rerank document limit, checked before any instance is
parsed; a prediction is that request's ``results``. A late-interaction model reads either: rerank instances (scored
by MaxSim), or texts whose predictions are each one's token vectors (``embeddings``). A classifier's instances are
its inputs; a prediction is that input's ``prediction``, ``score`` and ``predictions`` (Jina's classify entry). A
SPLADE model's instances are texts (``parameters``: TEI's ``/embed_sparse`` options); a prediction is that text's
``[{"index", "value"}]``. Any
other body (rawPredict; no ``instances``) is served as the native API would, by the loaded model's slice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..codecs.json import decode_json, dumps
from ..codecs.negotiation import check_content_type, negotiate_accept
from ..core.types import CLASSIFY, MULTIVECTOR, RERANK, SPARSE
from ..errors import InvalidInputError
from ..mime import JSON
from .classify.endpoint import ClassifyEndpoint, ParsedClassify
from .classify.schema import parse_classify_request
from .embeddings.endpoint import EmbeddingsEndpoint, Parsed
from .embeddings.schema import OPTION_FIELDS, parse_embeddings_request
from .fields import check_fields
from .multivector.endpoint import MultiVectorEndpoint, ParsedMultiVector
from .multivector.invoke import is_rerank_body
from .multivector.schema import OPTION_FIELDS as MULTIVECTOR_OPTIONS
from .multivector.schema import parse_multivector_request
from .reply import Reply
from .rerank.endpoint import ParsedRerank, RerankEndpoint
from .rerank.schema import parse_rerank_request
from .sparse.endpoint import ParsedSparse, SparseEndpoint
from .sparse.schema import OPTION_FIELDS as SPARSE_OPTIONS
from .sparse.schema import parse_sparse_request

VERTEX_FIELDS = ("instances", "parameters")
Native = Parsed | ParsedRerank | ParsedMultiVector | ParsedClassify | ParsedSparse  # what one native slice parses
NativeEndpoint = EmbeddingsEndpoint | RerankEndpoint | MultiVectorEndpoint | ClassifyEndpoint | SparseEndpoint
RERANK_OWN_FIELDS = ("query", "documents", "texts")  # each instance's own: never shared through ``parameters``


@dataclass(frozen=True, slots=True)
class VertexParsed:
    """The native calls a body asked for: one embeddings call, or one rerank call per instance. ``predictions``:
    answer in Vertex's shape (else the one native call's reply as is)."""

    calls: tuple[Native, ...]
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
    """Parses and runs Vertex bodies through the slice of the loaded model (``kind()`` raises while no model is
    loaded, so a body is never judged by the wrong slice). A late-interaction model reads rerank instances (MaxSim)
    and multi-vector instances (each prediction an input's token vectors)."""

    def __init__(
        self, embeddings: EmbeddingsEndpoint, reranking: RerankEndpoint, multivector: MultiVectorEndpoint | None,
        kind: Callable[[], str], max_inputs: int, classify: ClassifyEndpoint | None = None,
        sparse: SparseEndpoint | None = None,
    ) -> None:  # fmt: skip
        self._embeddings, self._reranking, self._multivector = embeddings, reranking, multivector
        self._classify, self._sparse = classify, sparse
        self._kind = kind
        self._max_inputs = max_inputs

    def _native(self, kind: str) -> NativeEndpoint:
        natives: dict[str, NativeEndpoint | None] = {RERANK: self._reranking, MULTIVECTOR: self._multivector,
                                                     CLASSIFY: self._classify, SPARSE: self._sparse}  # fmt: skip
        return natives.get(kind) or self._embeddings

    def parse(self, body: bytes, content_type: str | None, accept: str | None) -> VertexParsed:
        kind = self._kind()
        if check_content_type(content_type) != JSON:
            return VertexParsed((self._native(kind).parse(body, content_type, accept),), predictions=False)
        decoded = decode_json(body)
        answer = negotiate_accept(accept, default=JSON)
        if not (isinstance(decoded, dict) and "instances" in decoded):  # rawPredict: a native body
            return VertexParsed((self._parse_native(kind, decoded, answer),), predictions=False)
        params = _parameters(decoded)
        instances = decoded["instances"]
        if kind == RERANK or (kind == MULTIVECTOR and isinstance(instances[0], dict) and is_rerank_body(instances[0])):
            _rerank_parameters(params)
            _check_rerank_size(instances, self._reranking.max_documents)
            calls = tuple(ParsedRerank(parse_rerank_request(_rerank_instance(i, instance, params)), JSON)
                          for i, instance in enumerate(instances))  # fmt: skip
            return VertexParsed(calls, predictions=True)
        if kind == CLASSIFY:  # the instances are the inputs; each prediction one input's label scores
            labels = parse_classify_request({**params, "input": instances}, "jina", self._max_inputs)
            return VertexParsed((ParsedClassify(labels, JSON),), predictions=True)
        if kind == SPARSE:  # the instances are the texts; each prediction one text's nonzero entries
            check_fields(params, SPARSE_OPTIONS, where="parameters")
            texts = parse_sparse_request({**params, "inputs": instances}, max_inputs=self._max_inputs)
            return VertexParsed((ParsedSparse(texts, JSON),), predictions=True)
        if kind == MULTIVECTOR:
            check_fields(params, MULTIVECTOR_OPTIONS, where="parameters")
            call = parse_multivector_request({**params, "input": instances}, max_inputs=self._max_inputs)
            return VertexParsed((ParsedMultiVector(call, JSON),), predictions=True)
        check_fields(params, OPTION_FIELDS, where="parameters")
        embed = parse_embeddings_request({**params, "input": instances}, max_inputs=self._max_inputs)
        return VertexParsed((Parsed(embed, JSON),), predictions=True)

    def _parse_native(self, kind: str, decoded: Any, answer: str) -> Native:
        if kind == CLASSIFY:
            return ParsedClassify(parse_classify_request(decoded, "auto", self._max_inputs), answer)
        if kind == SPARSE:
            return ParsedSparse(parse_sparse_request(decoded, max_inputs=self._max_inputs), answer)
        if kind == RERANK or (kind == MULTIVECTOR and is_rerank_body(decoded)):
            return ParsedRerank(parse_rerank_request(decoded), answer)
        if kind == MULTIVECTOR:
            return ParsedMultiVector(parse_multivector_request(decoded, max_inputs=self._max_inputs), answer)
        return Parsed(parse_embeddings_request(decoded, max_inputs=self._max_inputs), answer)

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
        elif isinstance(parsed.calls[0], ParsedSparse):
            predictions = answers[0]  # one list of entries per instance, in order
        elif isinstance(parsed.calls[0], ParsedClassify):
            predictions = [{key: value for key, value in item.items() if key not in ("object", "index")}
                           for item in sorted(answers[0]["data"], key=lambda item: item["index"])]  # fmt: skip
        else:
            field = "embeddings" if isinstance(parsed.calls[0], ParsedMultiVector) else "embedding"
            predictions = [item[field] for item in sorted(answers[0]["data"], key=lambda item: item["index"])]
        return Reply(dumps({"predictions": predictions}), JSON, units=sum(reply.units for reply in replies),
                     tokens=sum(reply.tokens for reply in replies))  # fmt: skip

    def _run_one(self, call: Native, deadline: float | None, cancelled: threading.Event | None) -> Reply:
        if isinstance(call, ParsedRerank):
            return self._reranking.run(call, deadline, cancelled)
        if isinstance(call, ParsedMultiVector):
            assert self._multivector is not None
            return self._multivector.run(call, deadline, cancelled)
        if isinstance(call, ParsedSparse):
            assert self._sparse is not None
            return self._sparse.run(call, deadline, cancelled)
        if isinstance(call, ParsedClassify):
            assert self._classify is not None
            return self._classify.run(call, deadline, cancelled)
        return self._embeddings.run(call, deadline, cancelled)
