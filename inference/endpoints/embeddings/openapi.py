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
    ResponseTooLargeError,
    UnsupportedMediaTypeError,
)
from ...mime import CSV, JSON, JSONLINES
from ..docs import REF, error_doc, ref
from .schema import EmbeddingsRequest
from .tei import TEI_PATH, TEIEmbedRequest

TEI_OPERATION_ID = "embed" + TEI_PATH.replace("/", "_")  # the route table's operation id for TEI's path


def _generated(model: type[EmbeddingsRequest] | type[TEIEmbedRequest], inputs: str, max_inputs: int) -> Any:
    generated = model.model_json_schema(ref_template=REF)
    for branch in generated["properties"][inputs]["anyOf"]:
        if branch.get("type") == "array":  # runtime limits, not part of the pydantic model
            branch.update(minItems=1, maxItems=max_inputs)
    return generated


def request_schemas(max_inputs: int) -> dict[str, Any]:
    """``EmbeddingsRequest`` and ``TEIEmbedRequest`` (from pydantic), the items, and the Jina SageMaker
    ``{"data", "parameters"}`` form. Every one is strict: ``additionalProperties: false``."""
    generated = _generated(EmbeddingsRequest, "input", max_inputs)
    schemas: dict[str, Any] = generated.pop("$defs", {})
    schemas["EmbeddingsRequest"] = generated
    schemas["TEIEmbedRequest"] = _generated(TEIEmbedRequest, "inputs", max_inputs)
    options = {k: copy.deepcopy(v) for k, v in generated["properties"].items() if k != "input"}
    schemas["JinaSageMakerRequest"] = {
        "title": "JinaSageMakerRequest",
        "description": "Jina's SageMaker form: `data` holds the inputs, `parameters` the options.",
        "type": "object",
        "properties": {
            "data": copy.deepcopy(generated["properties"]["input"]),
            "parameters": {"type": "object", "properties": options, "additionalProperties": False},
        },
        "required": ["data"],
        "additionalProperties": False,
    }
    return schemas


def _embedding_value() -> dict[str, Any]:
    one = {
        "anyOf": [
            {"type": "array", "items": {"type": "number"},
             "description": "float, binary (int8), ubinary (uint8), int8, uint8"},
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
    "TEIEmbedResponse": {
        "type": "array",
        "description": "Text Embeddings Inference's answer: one array of floats per input, in input order",
        "items": {"type": "array", "items": {"type": "number"}},
    },
}


def schemas(max_inputs: int) -> dict[str, Any]:
    return {**request_schemas(max_inputs), **RESPONSE_SCHEMAS}


def _bodies(operation_id: str) -> tuple[list[dict[str, str]], list[dict[str, str]], str]:
    """Request and response schemas, TEI's first on TEI's path; every embeddings route reads all three bodies."""
    native = [ref("EmbeddingsRequest"), ref("JinaSageMakerRequest")]
    if operation_id == TEI_OPERATION_ID:
        return [ref("TEIEmbedRequest"), *native], [ref("TEIEmbedResponse"), ref("EmbeddingsResponse")], (
            "Hugging Face Text Embeddings Inference's embed: `{\"inputs\": ...}` is answered `[[...], ...]`; "
            "the OpenAI/Jina bodies are read too and answered in their own shape")
    return native, [ref("EmbeddingsResponse")], (
        "OpenAI/Jina and Jina SageMaker bodies; a Text Embeddings Inference body (`inputs`, see `POST /embed`) "
        "is read too and answered in TEI's shape")


def operation(operation_id: str) -> dict[str, Any]:
    records = {"schema": {"type": "string", "description": "Batch Transform records: one input per line"}}
    requests, responses, description = _bodies(operation_id)
    return {
        "operationId": operation_id,
        "summary": "Embed texts (and images, for multimodal models)",
        "description": description + ". A field the body's schema does not define is a 400 naming it.",
        "requestBody": {
            "required": True,
            "content": {
                JSON: {"schema": {"anyOf": requests}},
                JSONLINES: records,
                CSV: records,
            },
        },
        "responses": {
            "200": {
                "description": "One embedding per input, in input order",
                "headers": {"X-Amzn-Inference-Metering": {"schema": {"type": "string"}}},
                "content": {JSON: {"schema": {"anyOf": responses} if len(responses) > 1 else responses[0]},
                            JSONLINES: {"schema": {"type": "string"}}},
            },
            "400": error_doc(InvalidInputError, "Invalid JSON, schema or values; an unknown field; a rerank body "
                             "(this container serves an embedding model)"),
            "406": error_doc(NotAcceptableError, "Accept names no type this endpoint produces"),
            "413": error_doc(PayloadTooLargeError, "Body over EMB_MAX_BODY_MB; or, type "
                             f"`{RequestTooLargeError.type}`, more model work than EMB_REQUEST_DEADLINE_S allows even "
                             "on an idle worker (the message says how many inputs per request fit: split it); or, "
                             f"type `{ResponseTooLargeError.type}`, an answer that could be larger than the platform "
                             "returns (EMB_MAX_RESPONSE_MB: SageMaker 6 MB, Serverless 4 MB, Vertex AI 1.5 MB), "
                             "refused before any model work (the message says how many inputs fit, and with base64)"),
            "415": error_doc(UnsupportedMediaTypeError, "Content-Type not accepted"),
            "503": error_doc(OverloadedError, "At capacity, or the work queued ahead would not let this request "
                             "finish by its deadline (type `overloaded`), or the model is not ready "
                             f"(`{ModelNotReadyError.type}`); retry after Retry-After"),
        },
    }
