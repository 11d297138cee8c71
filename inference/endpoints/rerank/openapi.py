"""OpenAPI description of the rerank slice: ``/v1/rerank`` (Jina / Cohere), ``/rerank`` (TEI), and the rerank
bodies the platform invocation paths read when a reranker is loaded. Request schemas come from the pydantic models."""

from __future__ import annotations

import copy
from typing import Any

from ...errors import (
    InvalidInputError,
    ModelNotReadyError,
    NotAcceptableError,
    OverloadedError,
    PayloadTooLargeError,
    ResponseTooLargeError,
    UnsupportedMediaTypeError,
    WrongModelKindError,
)
from ...mime import JSON, JSONLINES
from ..docs import error_doc, ref
from .schema import JinaRerankBody, TeiRerankBody

TEI_OPERATION_ID = "rerank_tei"


def _request_schema(model: type[Any], max_documents: int, list_field: str) -> dict[str, Any]:
    schema: dict[str, Any] = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    schema["additionalProperties"] = False
    schema["properties"][list_field]["maxItems"] = max_documents
    return schema


def schemas(max_documents: int) -> dict[str, Any]:
    result = {
        "type": "object",
        "required": ["index", "relevance_score"],
        "properties": {
            "index": {"type": "integer", "minimum": 0, "description": "position in the request's documents"},
            "relevance_score": {"type": "number"},
            "document": {"type": "object", "properties": {"text": {"type": "string"}}},
        },
    }
    return {
        "DocumentItem": {"type": "object", "required": ["text"], "additionalProperties": False,
                         "properties": {"text": {"type": "string"}}},
        "RerankRequest": _request_schema(JinaRerankBody, max_documents, "documents"),
        "TEIRerankRequest": _request_schema(TeiRerankBody, max_documents, "texts"),
        "RerankResult": result,
        "RerankResponse": {
            "type": "object",
            "required": ["model", "usage", "results"],
            "properties": {
                "model": {"type": "string"},
                "object": {"const": "list"},
                "usage": {"type": "object", "required": ["total_tokens"],
                          "properties": {"total_tokens": {"type": "integer", "minimum": 0}}},
                "results": {"type": "array", "items": ref("RerankResult"), "description": "sorted by score"},
            },
        },
        "TEIRerankResponse": {
            "type": "array",
            "description": "Text Embeddings Inference's answer, sorted by score",
            "items": {"type": "object", "required": ["index", "score"],
                      "properties": {"index": {"type": "integer", "minimum": 0}, "score": {"type": "number"},
                                     "text": {"type": "string"}}},
        },
    }  # fmt: skip


def operation(operation_id: str) -> dict[str, Any]:
    first, second = ("TEIRerankRequest", "RerankRequest")
    if operation_id != TEI_OPERATION_ID:
        first, second = second, first
    records = {"schema": {"type": "string", "description": "Batch Transform: one rerank request per line"}}
    return {
        "operationId": operation_id,
        "summary": "Rerank documents against a query (reranker models)",
        "description": "Jina / Cohere bodies (`documents`) are answered `{\"results\": ...}`, Text Embeddings "
        "Inference bodies (`texts`) TEI's list; results are sorted by score, `index` points into the request. "
        "A field the body's schema does not define is a 400 naming it.",
        "requestBody": {"required": True, "content": {JSON: {"schema": {"anyOf": [ref(first), ref(second)]}},
                                                      JSONLINES: records}},
        "responses": {
            "200": {
                "description": "One score per document, highest first (top_n cuts the list)",
                "headers": {"X-Amzn-Inference-Metering": {"schema": {"type": "string"}}},
                "content": {JSON: {"schema": {"anyOf": [ref("RerankResponse"), ref("TEIRerankResponse")]}},
                            JSONLINES: {"schema": {"type": "string"}}},
            },
            "400": error_doc(InvalidInputError, "Invalid JSON, schema or values (empty query, no documents, too "
                             "many documents, top_n < 1, an over-long pair with truncate=false); an unknown field; "
                             f"or, type `{WrongModelKindError.type}`, this container serves an embedding model"),
            "406": error_doc(NotAcceptableError, "Accept names no type this endpoint produces"),
            "413": error_doc(PayloadTooLargeError, "Body over EMB_MAX_BODY_MB, or more work than the deadline allows; "
                             f"or, type `{ResponseTooLargeError.type}`, echoed documents that would make the answer "
                             "larger than the platform returns (EMB_MAX_RESPONSE_MB)"),
            "415": error_doc(UnsupportedMediaTypeError, "Content-Type not accepted"),
            "503": error_doc(OverloadedError, "At capacity or the model is not ready "
                             f"(`{ModelNotReadyError.type}`); retry after Retry-After"),
        },
    }  # fmt: skip


def with_rerank_bodies(embed_operation: dict[str, Any]) -> dict[str, Any]:
    """An invocation path's operation: the embeddings bodies, plus the rerank bodies a reranker container reads."""
    out = copy.deepcopy(embed_operation)
    out["summary"] = "Embed, or rerank: the loaded model's kind decides"
    out["description"] += (
        " With a reranker loaded, this path reads the rerank bodies of `POST /v1/rerank` and `POST /rerank` "
        f"instead; the other kind's body is a 400 of type `{WrongModelKindError.type}`."
    )
    json_body = out["requestBody"]["content"][JSON]["schema"]
    json_body["anyOf"] = [*json_body["anyOf"], ref("RerankRequest"), ref("TEIRerankRequest")]
    answer = out["responses"]["200"]["content"][JSON]
    answer["schema"] = {"anyOf": [answer["schema"], ref("RerankResponse"), ref("TEIRerankResponse")]}
    return out
