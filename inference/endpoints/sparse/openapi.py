"""OpenAPI description of the sparse slice: TEI's ``/embed_sparse`` (and ``/invocations`` when a SPLADE model is
loaded). The request schema comes from the pydantic model."""

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
from .schema import SparseBody


def schemas(max_inputs: int) -> dict[str, Any]:
    request: dict[str, Any] = SparseBody.model_json_schema(ref_template="#/components/schemas/{model}")
    request.pop("$defs", None)
    request["additionalProperties"] = False
    request["properties"]["inputs"]["anyOf"][1]["maxItems"] = max_inputs
    entry = {"type": "object", "required": ["index", "value"],
             "properties": {"index": {"type": "integer", "minimum": 0, "description": "a vocabulary id"},
                            "value": {"type": "number", "exclusiveMinimum": 0}}}  # fmt: skip
    return {
        "SparseRequest": request,
        "SparseResponse": {"type": "array", "description": "one list per input, in request order: its nonzero "
                           "entries in ascending index order", "items": {"type": "array", "items": entry}},
    }  # fmt: skip


def operation(operation_id: str) -> dict[str, Any]:
    records = {"schema": {"type": "string", "description": "Batch Transform: one text or request per line"}}
    return {
        "operationId": operation_id,
        "summary": "Sparse vectors of a SPLADE model (Text Embeddings Inference)",
        "description": "One sparse vector over the model's vocabulary per input (TEI's `/embed_sparse`): the "
        "nonzero entries of the max over the tokens of `log(1 + relu(MLM logits))`, as sentence-transformers' "
        "`SparseEncoder` computes them. A field the body's schema does not define is a 400 naming it.",
        "requestBody": {"required": True, "content": {JSON: {"schema": ref("SparseRequest")},
                                                      JSONLINES: records}},
        "responses": {
            "200": {
                "description": "Each input's nonzero entries, in request order",
                "headers": {"X-Amzn-Inference-Metering": {"schema": {"type": "string"}}},
                "content": {JSON: {"schema": ref("SparseResponse")}, JSONLINES: {"schema": {"type": "string"}}},
            },
            "400": error_doc(InvalidInputError, "Invalid JSON, schema or values (an unknown prompt_name, an "
                             "over-long input with truncate=false); an unknown field; or, type "
                             f"`{WrongModelKindError.type}`, the loaded model is not a SPLADE model"),
            "406": error_doc(NotAcceptableError, "Accept names no type this endpoint produces"),
            "413": error_doc(PayloadTooLargeError, "Body over EMB_MAX_BODY_MB, or more work than the deadline allows; "
                             f"or, type `{ResponseTooLargeError.type}`, sparse vectors that could make the answer "
                             "larger than the platform returns (EMB_MAX_RESPONSE_MB; each input is bounded by the "
                             "vocabulary): the message says how many inputs fit"),
            "415": error_doc(UnsupportedMediaTypeError, "Content-Type not accepted"),
            "503": error_doc(OverloadedError, "At capacity or the model is not ready "
                             f"(`{ModelNotReadyError.type}`); retry after Retry-After"),
        },
    }  # fmt: skip


def with_sparse_bodies(invoke_operation: dict[str, Any]) -> dict[str, Any]:
    """An invocation path's operation, plus what it reads and answers with a SPLADE model loaded."""
    out = copy.deepcopy(invoke_operation)
    out["description"] += (" With a SPLADE model loaded, this path reads the body of `POST /embed_sparse` "
                           "(`SparseRequest`) and answers its sparse vectors.")  # fmt: skip
    answer = out["responses"]["200"]["content"][JSON]
    answer["schema"] = {"anyOf": [*answer["schema"].get("anyOf", [answer["schema"]]), ref("SparseResponse")]}
    return out
