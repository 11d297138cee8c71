"""OpenAPI description of the multi-vector slice: Jina's ``/v1/multi-vector`` (and ``/v1/embeddings``,
``/invocations`` when a late-interaction model is loaded). The request schema comes from the pydantic model."""

from __future__ import annotations

import copy
from typing import Any

from ...mime import JSON, JSONLINES
from ..docs import model_work_errors, ref
from .schema import MultiVectorBody


def schemas(max_inputs: int) -> dict[str, Any]:
    request: dict[str, Any] = MultiVectorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    request.pop("$defs", None)
    request["additionalProperties"] = False
    request["properties"]["input"]["anyOf"][1]["maxItems"] = max_inputs
    vector = {"description": "a token vector: floats, base64 or packed bits (per `embedding_type`)"}
    return {
        "MultiVectorRequest": request,
        "MultiVectorResponse": {
            "type": "object",
            "required": ["object", "model", "data", "usage"],
            "properties": {
                "object": {"const": "list"},
                "model": {"type": "string"},
                "data": {"type": "array", "items": {
                    "type": "object", "required": ["object", "index", "embeddings"],
                    "properties": {
                        "object": {"const": "embeddings"},
                        "index": {"type": "integer", "minimum": 0, "description": "position in the request"},
                        "embeddings": {"anyOf": [{"type": "array", "items": vector},
                                                 {"type": "object", "additionalProperties": {"type": "array"}}],
                                       "description": "one vector per token kept (a query: its expansion "
                                       "tokens too; a document: no padding, no skip-list tokens); an object "
                                       "keyed by type when `embedding_type` is a list"},
                    }}},
                "usage": {"type": "object", "required": ["total_tokens"],
                          "properties": {"total_tokens": {"type": "integer", "minimum": 0},
                                         "prompt_tokens": {"type": "integer", "minimum": 0}}},
            },
        },
    }  # fmt: skip


def operation(operation_id: str) -> dict[str, Any]:
    records = {"schema": {"type": "string", "description": "Batch Transform: one text or request per line"}}
    return {
        "operationId": operation_id,
        "summary": "Token vectors of a late-interaction (ColBERT) model",
        "description": "One vector per token for each input (Jina's `/v1/multi-vector`): `input_type` `query` "
        "adds the query marker and expands the query with mask tokens to the model's query length; `document` "
        "(default) adds the document marker and leaves out padding and skip-list tokens (punctuation). Score a "
        "query against documents with MaxSim (`POST /v1/rerank` does it for you). A field the body's schema "
        "does not define is a 400 naming it.",
        "requestBody": {"required": True, "content": {JSON: {"schema": ref("MultiVectorRequest")},
                                                      JSONLINES: records}},
        "responses": {
            "200": {
                "description": "Each input's token vectors, in request order",
                "headers": {"X-Amzn-Inference-Metering": {"schema": {"type": "string"}}},
                "content": {JSON: {"schema": ref("MultiVectorResponse")}, JSONLINES: {"schema": {"type": "string"}}},
            },
            **model_work_errors("a width the model does not declare, an over-long document with truncate=false",
                                "a late-interaction model",
                                "token vectors that would make the answer larger than the platform returns "
                                "(EMB_MAX_RESPONSE_MB): the message says how many inputs fit"),
        },
    }  # fmt: skip


def with_multivector_bodies(operation: dict[str, Any]) -> dict[str, Any]:
    """An embeddings or invocation path's operation, plus what it reads and answers with a late-interaction model."""
    out = copy.deepcopy(operation)
    out["description"] += (
        " With a late-interaction (ColBERT) model loaded, this path reads the body of `POST /v1/multi-vector` and "
        "answers token vectors (Jina's `return_multivector`)."
    )
    # The request schema stays the loaded-model-independent one (a generated body must be valid for an embedding
    # model); the multi-vector body is named here and its answer added below.
    out["description"] += " Its request schema is `MultiVectorRequest` (see `POST /v1/multi-vector`)."
    answer = out["responses"]["200"]["content"][JSON]
    answer["schema"] = {"anyOf": [*answer["schema"].get("anyOf", [answer["schema"]]), ref("MultiVectorResponse")]}
    return out
