"""OpenAPI description of Cohere's v2 dialect: ``POST /v2/embed`` and ``POST /v2/rerank`` (request schemas from
the pydantic models of embeddings/cohere.py and rerank/cohere.py)."""

from __future__ import annotations

from typing import Any

from ..errors import (
    InvalidInputError,
    ModelNotReadyError,
    OverloadedError,
    PayloadTooLargeError,
    ResponseTooLargeError,
    UnsupportedMediaTypeError,
    WrongModelKindError,
)
from ..mime import JSON
from .docs import error_doc, ref
from .embeddings.cohere import CohereEmbedRequest
from .rerank.cohere import CohereRerankBody

_META = {"type": "object", "properties": {"api_version": {"type": "object"}, "billed_units": {"type": "object"}}}


def _request_schema(model: type[Any], list_field: str, most: int, defs: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs.update(schema.pop("$defs", {}))
    schema["additionalProperties"] = False
    field = schema["properties"][list_field]
    for option in field.get("anyOf", [field]):
        if option.get("type") == "array":
            option["maxItems"] = most
    return schema


def schemas(max_inputs: int, max_documents: int) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    embed = _request_schema(CohereEmbedRequest, "texts", max_inputs, defs)
    rerank = _request_schema(CohereRerankBody, "documents", max_documents, defs)
    vectors = {"type": "array", "items": {"anyOf": [{"type": "array", "items": {"type": "number"}},
                                                    {"type": "string"}]}}  # fmt: skip
    return {
        **defs,
        "CohereEmbedRequest": embed,
        "CohereRerankRequest": rerank,
        "CohereEmbedResponse": {
            "type": "object", "required": ["id", "embeddings", "meta"],
            "properties": {"id": {"type": "string"}, "texts": {"type": "array", "items": {"type": "string"}},
                           "embeddings": {"type": "object", "additionalProperties": vectors,
                                          "description": "one list per requested type, in input order"},
                           "meta": _META, "response_type": {"const": "embeddings_by_type"}},
        },
        "CohereRerankResponse": {
            "type": "object", "required": ["id", "results", "meta"],
            "properties": {"id": {"type": "string"}, "meta": _META,
                           "results": {"type": "array", "description": "sorted by score", "items": {
                               "type": "object", "required": ["index", "relevance_score"],
                               "properties": {"index": {"type": "integer", "minimum": 0},
                                              "relevance_score": {"type": "number"}}}}},
        },
    }  # fmt: skip


INVOCATION_NOTE = (
    " Cohere's v2 bodies (`POST /v2/embed`, `POST /v2/rerank`) are read here too and answered in Cohere's shape: "
    "an embed body is one without `input`, `data` and `query` that has `input_type`, `texts` or `images`, or "
    "`inputs` holding content-part objects; a rerank body one with `max_tokens_per_doc`, `priority` or "
    "`api_version` (a body of only `query`, `documents`, `model` and `top_n` is also Jina's: it gets Jina's answer)."
)


def with_invocation_note(invoke_operation: dict[str, Any]) -> dict[str, Any]:
    """An invocation path's operation, saying it reads Cohere's v2 bodies (their schemas stay on the /v2 paths)."""
    return {**invoke_operation, "description": invoke_operation["description"] + INVOCATION_NOTE}


def operation(operation_id: str, rerank: bool) -> dict[str, Any]:
    """The ``POST /v2/embed`` (or, ``rerank``, ``/v2/rerank``) operation."""
    name = "Rerank" if rerank else "Embed"
    kind = "a reranker" if rerank else "an embedding model"
    doc: dict[str, Any] = {
        "operationId": operation_id,
        "summary": f"{name} (Cohere v2 API, {kind})",
        "description": "Cohere's v2 body and answer (docs/api/cohere.md); a field the schema does not define is "
        "a 400 naming it.",
        "requestBody": {"required": True, "content": {JSON: {"schema": ref(f"Cohere{name}Request")}}},
        "responses": {
            "200": {"description": "Scores, best first" if rerank else "Vectors by type, in input order",
                    "headers": {"X-Amzn-Inference-Metering": {"schema": {"type": "string"}}},
                    "content": {JSON: {"schema": ref(f"Cohere{name}Response")}}},
            "400": error_doc(InvalidInputError, "Invalid JSON, schema or values; an unknown field; an unsupported "
                             f"option; or, type `{WrongModelKindError.type}`, the model is of another kind"),
            "413": error_doc(PayloadTooLargeError, "Body over EMB_MAX_BODY_MB, or more work than the deadline "
                             f"allows; or, type `{ResponseTooLargeError.type}`, an answer over EMB_MAX_RESPONSE_MB"),
            "415": error_doc(UnsupportedMediaTypeError, f"A body or Accept other than {JSON}"),
            "503": error_doc(OverloadedError, "At capacity or the model is not ready "
                             f"(`{ModelNotReadyError.type}`); retry after Retry-After"),
        },
    }  # fmt: skip
    return doc
