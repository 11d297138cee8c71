"""The embeddings slice's part of the OpenAPI document: request schemas (generated from the pydantic model,
so the description cannot drift from what the server validates), response schemas and the operation."""

from __future__ import annotations

import copy
from typing import Any

from ...errors import (
    InvalidInputError,
    ModelNotReadyError,
    NotAcceptableError,
    OverloadedError,
    PayloadTooLargeError,
    RequestTooLargeError,
    UnsupportedMediaTypeError,
)
from ...mime import CSV, JSON, JSONLINES
from ..docs import REF, error_doc, ref
from .schema import EmbeddingsRequest


def request_schemas(max_inputs: int) -> dict[str, Any]:
    """``EmbeddingsRequest`` (from pydantic), its items, and the Jina SageMaker ``{"data", "parameters"}`` form."""
    generated = EmbeddingsRequest.model_json_schema(ref_template=REF)
    schemas: dict[str, Any] = generated.pop("$defs", {})
    for branch in generated["properties"]["input"]["anyOf"]:
        if branch.get("type") == "array":  # runtime limits, not part of the pydantic model
            branch.update(minItems=1, maxItems=max_inputs)
    schemas["EmbeddingsRequest"] = generated
    options = {k: copy.deepcopy(v) for k, v in generated["properties"].items() if k != "input"}
    schemas["JinaSageMakerRequest"] = {
        "title": "JinaSageMakerRequest",
        "description": "Jina's SageMaker form: `data` holds the inputs, `parameters` the options.",
        "type": "object",
        "properties": {
            "data": copy.deepcopy(generated["properties"]["input"]),
            "parameters": {"type": "object", "properties": options},
        },
        "required": ["data"],
    }
    return schemas


def _embedding_value() -> dict[str, Any]:
    one = {
        "anyOf": [
            {"type": "array", "items": {"type": "number"}, "description": "float, binary (int8), ubinary (uint8)"},
            {"type": "string", "description": "base64 of little-endian float32"},
        ]
    }
    by_type = {"type": "object", "additionalProperties": one, "description": "one entry per requested type"}
    return {"anyOf": [*one["anyOf"], by_type]}


RESPONSE_SCHEMAS: dict[str, Any] = {
    "Embedding": {
        "type": "object",
        "required": ["object", "index", "embedding"],
        "properties": {
            "object": {"const": "embedding"},
            "index": {"type": "integer", "minimum": 0},
            "embedding": _embedding_value(),
        },
    },
    "EmbeddingsResponse": {
        "type": "object",
        "required": ["object", "model", "data", "usage"],
        "properties": {
            "object": {"const": "list"},
            "model": {"type": "string"},
            "data": {"type": "array", "items": ref("Embedding")},
            "usage": {
                "type": "object",
                "required": ["prompt_tokens", "total_tokens"],
                "properties": {
                    "prompt_tokens": {"type": "integer", "minimum": 0},
                    "total_tokens": {"type": "integer", "minimum": 0},
                },
            },
        },
    },
}


def schemas(max_inputs: int) -> dict[str, Any]:
    return {**request_schemas(max_inputs), **RESPONSE_SCHEMAS}


def operation(operation_id: str) -> dict[str, Any]:
    records = {"schema": {"type": "string", "description": "Batch Transform records: one input per line"}}
    return {
        "operationId": operation_id,
        "summary": "Embed texts (and images, for multimodal models)",
        "requestBody": {
            "required": True,
            "content": {
                JSON: {"schema": {"anyOf": [ref("EmbeddingsRequest"), ref("JinaSageMakerRequest")]}},
                JSONLINES: records,
                CSV: records,
            },
        },
        "responses": {
            "200": {
                "description": "One embedding per input, in input order",
                "headers": {"X-Amzn-Inference-Metering": {"schema": {"type": "string"}}},
                "content": {JSON: {"schema": ref("EmbeddingsResponse")}, JSONLINES: {"schema": {"type": "string"}}},
            },
            "400": error_doc(InvalidInputError, "Invalid JSON, schema or values"),
            "406": error_doc(NotAcceptableError, "Accept names no type this endpoint produces"),
            "413": error_doc(PayloadTooLargeError, "Body over EMB_MAX_BODY_MB; or, type "
                             f"`{RequestTooLargeError.type}`, more model work than EMB_REQUEST_DEADLINE_S allows even "
                             "on an idle worker (the message says how many inputs per request fit: split it)"),
            "415": error_doc(UnsupportedMediaTypeError, "Content-Type not accepted"),
            "503": error_doc(OverloadedError, "At capacity, or the work queued ahead would not let this request "
                             "finish by its deadline (type `overloaded`), or the model is not ready "
                             f"(`{ModelNotReadyError.type}`); retry after Retry-After"),
        },
    }
