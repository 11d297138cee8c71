"""The published OpenAPI 3.1 description of the HTTP API, served at ``GET /openapi.json``.

The JSON request body schema is generated from the pydantic model ``inference.schemas.EmbeddingsRequest``
(``model_json_schema``), so the description cannot drift from what the server validates; per-deployment
limits (``EMB_MAX_INPUTS``, routes) come from ``Settings``. Responses are described by hand and checked
against real responses by the fuzz suite (tests/fuzz).
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import (
    InvalidInputError,
    ModelNotReadyError,
    NotAcceptableError,
    OverloadedError,
    PayloadTooLargeError,
    ServingError,
    UnsupportedMediaTypeError,
)
from ..schemas import EmbeddingsRequest
from ..settings import Settings

OPENAPI_VERSION = "3.1.0"
REF = "#/components/schemas/{model}"
JSON, JSONLINES, CSV = "application/json", "application/jsonlines", "text/csv"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


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
            "data": {"type": "array", "items": _ref("Embedding")},
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
    "Error": {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {
                    "type": {"type": "string"},
                    "message": {"type": "string"},
                    "param": {"type": "string"},
                },
            }
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string"}, "model": {"type": "string"}},
    },
}


def _error(err: type[ServingError], when: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": f"{when} (`error.type`: `{err.type}`)",
        "content": {JSON: {"schema": _ref("Error")}},
    }
    if err.retry_after is not None:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    return response


def _embeddings_operation(operation_id: str) -> dict[str, Any]:
    records = {"schema": {"type": "string", "description": "Batch Transform records: one input per line"}}
    return {
        "operationId": operation_id,
        "summary": "Embed texts (and images, for multimodal models)",
        "requestBody": {
            "required": True,
            "content": {
                JSON: {"schema": {"anyOf": [_ref("EmbeddingsRequest"), _ref("JinaSageMakerRequest")]}},
                JSONLINES: records,
                CSV: records,
            },
        },
        "responses": {
            "200": {
                "description": "One embedding per input, in input order",
                "headers": {"X-Amzn-Inference-Metering": {"schema": {"type": "string"}}},
                "content": {JSON: {"schema": _ref("EmbeddingsResponse")}, JSONLINES: {"schema": {"type": "string"}}},
            },
            "400": _error(InvalidInputError, "Invalid JSON, schema or values"),
            "406": _error(NotAcceptableError, "Accept names no type this endpoint produces"),
            "413": _error(PayloadTooLargeError, "Body over EMB_MAX_BODY_MB"),
            "415": _error(UnsupportedMediaTypeError, "Content-Type not accepted"),
            "503": _error(OverloadedError, "At capacity (type `overloaded`), or the model is not ready "
                          f"(`{ModelNotReadyError.type}`); retry after Retry-After"),
        },
    }


def _get(operation_id: str, summary: str, schema: str | None = None, ready: bool = False) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK"}
    if schema:
        ok["content"] = {JSON: {"schema": _ref(schema)}}
    responses = {"200": ok}
    if ready:
        responses["503"] = _error(ModelNotReadyError, "Model loading or failed to load")
    return {"get": {"operationId": operation_id, "summary": summary, "responses": responses}}


def openapi_spec(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document for a server with these settings."""
    paths: dict[str, Any] = {}
    embed_routes = ["/invocations", "/v1/embeddings", "/embeddings", settings.azure_score_route]
    for route in dict.fromkeys(embed_routes):
        paths[route] = {"post": _embeddings_operation("embed" + route.replace("/", "_"))}
    endpoint = _embeddings_operation("embed_endpoint")
    endpoint["parameters"] = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
    paths["/endpoints/{name}/invocations"] = {"post": endpoint}
    paths["/ping"] = _get("ping", "SageMaker health: 200 once the model is loaded and warm", "Health", ready=True)
    paths[settings.azure_ready_route] = _get("ready", "Readiness (same as /ping)", "Health", ready=True)
    paths[settings.azure_live_route] = _get("live", "Liveness", "Health")
    paths["/execution-parameters"] = _get("execution_parameters", "SageMaker Batch Transform parameters")
    paths["/v1/models"] = _get("models", "The served model")
    paths["/openapi.json"] = _get("openapi", "This document")
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Embedding service", "version": "1", "description": "OpenAI/Jina-compatible embeddings"},
        "paths": paths,
        "components": {"schemas": {**request_schemas(settings.max_inputs), **RESPONSE_SCHEMAS}},
    }
