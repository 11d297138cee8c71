"""OpenAPI description of the classify slice: ``/v1/classify`` (Jina), ``/predict`` (TEI), ``/classify``
(Infinity), and the classify bodies ``/invocations`` reads when a classifier is loaded. Request schemas come from
the pydantic models."""

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
from .schema import InfinityClassifyBody, JinaClassifyBody, TeiPredictBody
from .service import IMAGE_MODEL_SCALE, TEXT_MODEL_SCALE

ZERO_SHOT = (
    f"Zero-shot (an embedding model is loaded; `labels` required): the inputs and the labels are embedded, and "
    f"each input's scores are `softmax(scale * cosine(input, label))` over the labels, with `scale` "
    f"{IMAGE_MODEL_SCALE:g} for models with the image modality (CLIP's logit scale at its cap) and "
    f"{TEXT_MODEL_SCALE:g} for text models (temperature 0.05). With a classifier loaded the scores are the "
    "model's own (softmax, or sigmoid for `multi_label_classification`), and `labels`, when sent, must be a "
    "subset of the model's labels (the answer lists only those; the scores are not renormalised)."
)
# operation id -> (summary, request schema, response schema, description)
OPERATIONS = {
    "classify_v1_classify": ("Classify inputs (Jina): zero-shot on embedding models, or a classifier's labels",
                             "ClassifyRequest", "ClassifyResponse", ZERO_SHOT),
    "predict_tei": ("Classify texts or text pairs (Text Embeddings Inference, classifier models)",
                    "TEIPredictRequest", "TEIPredictResponse",
                    "A text, `[text]` or `[text, text_pair]` is one input, answered with one list of "
                    "`{score, label}` (best first); a list of lists is a batch, answered with a list of lists."),
    "classify_infinity": ("Classify texts (Infinity, classifier models)", "InfinityClassifyRequest",
                          "InfinityClassifyResponse", "Each input's `{score, label}` list, best first."),
}  # fmt: skip


def _request_schema(model: type[Any], max_inputs: int, list_field: str | None) -> dict[str, Any]:
    schema: dict[str, Any] = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    schema["additionalProperties"] = False
    if list_field:
        schema["properties"][list_field]["maxItems"] = max_inputs
    return schema


def _scores() -> dict[str, Any]:
    return {"type": "array", "description": "best first",
            "items": {"type": "object", "required": ["score", "label"],
                      "properties": {"score": {"type": "number"}, "label": {"type": "string"}}}}  # fmt: skip


def schemas(max_inputs: int) -> dict[str, Any]:
    label_score = {"type": "object", "required": ["label", "score"],
                   "properties": {"label": {"type": "string"}, "score": {"type": "number"}}}  # fmt: skip
    entry = {
        "type": "object",
        "required": ["object", "index", "prediction", "score", "predictions"],
        "properties": {
            "object": {"const": "classification"},
            "index": {"type": "integer", "minimum": 0, "description": "position in the request's inputs"},
            "prediction": {"type": "string", "description": "the label with the highest score"},
            "score": {"type": "number"},
            "predictions": {"type": "array", "items": label_score, "description": "every label, in label order"},
        },
    }
    usage = {"type": "object", "properties": {"prompt_tokens": {"type": "integer", "minimum": 0},
                                              "total_tokens": {"type": "integer", "minimum": 0}}}  # fmt: skip
    return {
        "ClassifyRequest": _request_schema(JinaClassifyBody, max_inputs, None),
        "TEIPredictRequest": _request_schema(TeiPredictBody, max_inputs, None),
        "InfinityClassifyRequest": _request_schema(InfinityClassifyBody, max_inputs, "input"),
        "ClassifyResult": entry,
        "ClassifyResponse": {"type": "object", "required": ["usage", "data"],
                             "properties": {"usage": usage, "data": {"type": "array", "items": ref("ClassifyResult")}}},
        "TEIPredictResponse": {"anyOf": [_scores(), {"type": "array", "items": _scores()}],
                               "description": "one input's list, or a batch's list of lists"},
        "InfinityClassifyResponse": {
            "type": "object", "required": ["object", "data", "model", "usage"],
            "properties": {"object": {"const": "classify"}, "data": {"type": "array", "items": _scores()},
                           "model": {"type": "string"}, "usage": usage, "id": {"type": "string"},
                           "created": {"type": "integer"}}},
    }  # fmt: skip


def _errors() -> dict[str, Any]:
    return {
        "400": error_doc(InvalidInputError, "Invalid JSON, schema or values (no inputs, too many inputs or labels, "
                         "labels a classifier does not have, an over-long input with truncate=false); an unknown "
                         f"field; or, type `{WrongModelKindError.type}`, the loaded model does not classify"),
        "406": error_doc(NotAcceptableError, "Accept names no type this endpoint produces"),
        "413": error_doc(PayloadTooLargeError, "Body over EMB_MAX_BODY_MB, or more work than the deadline allows; "
                         f"or, type `{ResponseTooLargeError.type}`, an answer larger than the platform returns"),
        "415": error_doc(UnsupportedMediaTypeError, "Content-Type not accepted"),
        "503": error_doc(OverloadedError, "At capacity or the model is not ready "
                         f"(`{ModelNotReadyError.type}`); retry after Retry-After"),
    }  # fmt: skip


def operation(operation_id: str) -> dict[str, Any]:
    summary, request, response, description = OPERATIONS[operation_id]
    records = {"schema": {"type": "string", "description": "Batch Transform: one request body per line"}}
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": description + " A field the body's schema does not define is a 400 naming it.",
        "requestBody": {"required": True, "content": {JSON: {"schema": ref(request)}, JSONLINES: records}},
        "responses": {
            "200": {"description": "Each input's label scores",
                    "headers": {"X-Amzn-Inference-Metering": {"schema": {"type": "string"}}},
                    "content": {JSON: {"schema": ref(response)}, JSONLINES: {"schema": {"type": "string"}}}},
            **_errors(),
        },
    }  # fmt: skip


def with_classify_bodies(invoke_operation: dict[str, Any]) -> dict[str, Any]:
    """An invocation path's operation, plus the classify answers a classifier container gives there. Its request
    schema stays the embedding and rerank bodies': the classify bodies are named in the description (TEI's has
    ``inputs``, which an embedding model reads as TEI's embed body)."""
    out = copy.deepcopy(invoke_operation)
    out["description"] += (
        " With a classifier loaded, this path reads TEI's `POST /predict` body (`TEIPredictRequest`, with `inputs`) "
        "or Jina's `POST /v1/classify` body (`ClassifyRequest`), answered in that API's shape."
    )
    answer = out["responses"]["200"]["content"][JSON]
    answer["schema"] = {"anyOf": [answer["schema"], ref("TEIPredictResponse"), ref("ClassifyResponse")]}
    return out
