"""OpenAPI description of the sparse slice: TEI's ``/embed_sparse`` (and ``/invocations`` when a SPLADE model is
loaded). The request schema comes from the pydantic model."""

from __future__ import annotations

import copy
from typing import Any

from ...mime import JSON, JSONLINES
from ..docs import model_work_errors, ref
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
            **model_work_errors("an unknown prompt_name, an over-long input with truncate=false",
                                "a SPLADE model",
                                "an answer larger than the platform returns (EMB_MAX_RESPONSE_MB), judged once the "
                                "vectors are written (a sparse vector's worst case, the whole vocabulary, is not "
                                "bounded before the model runs)"),
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
