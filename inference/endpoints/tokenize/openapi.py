"""OpenAPI description of the tokenizer slice: TEI's ``/tokenize`` and ``/decode``, Jina's Segmenter
(``/v1/segment``, ``/segment``). Request schemas come from the pydantic models."""

from __future__ import annotations

from typing import Any

from ...errors import (
    InvalidInputError,
    ModelNotReadyError,
    NotAcceptableError,
    PayloadTooLargeError,
    ResponseTooLargeError,
    UnsupportedMediaTypeError,
)
from ...mime import JSON
from ..docs import error_doc, ref
from .schema import DecodeBody, SegmentBody, TokenizeBody

_OPERATIONS = {
    "tokenize": ("TokenizeRequest", "TokenizeResponse", "Tokenize with the served model's tokenizer (TEI)",
                 "Each input's tokens, a list per input (even for one): ids, text, whether the token is special, and "
                 "its character offsets `[start, stop)` into the text tokenised (the prompt included; null for the "
                 "special tokens the tokenizer adds). Ids and counts are the tokenizer's own, never cut. No model "
                 "work: rate limits count one request and no tokens."),
    "decode": ("DecodeRequest", "DecodeResponse", "Decode token ids with the served model's tokenizer (TEI)",
               "The text of each sequence of ids, a list (even for one). An id outside the vocabulary is a 400."),
    "segment": ("SegmentRequest", "SegmentResponse", "Count tokens and cut a text into chunks (Jina Segmenter)",
                "Counts `content`'s tokens with the served model's tokenizer (no special tokens) and, with "
                "`return_chunks`, cuts it into chunks of at most `max_chunk_length` tokens at paragraph, line, "
                "sentence, then word boundaries; the chunks, joined, are the content, and each can be sent back "
                "unchanged as an embeddings input (`late_chunking` too). `usage.tokens` is 0: rate limits count "
                "one request and no tokens, as Jina does."),
}  # fmt: skip


def _request_schema(model: type[Any]) -> dict[str, Any]:
    schema: dict[str, Any] = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    schema["additionalProperties"] = False
    return schema


def schemas() -> dict[str, Any]:
    token = {"type": "object", "required": ["id", "text", "special", "start", "stop"],
             "properties": {"id": {"type": "integer", "minimum": 0}, "text": {"type": "string"},
                            "special": {"type": "boolean"}, "start": {"type": ["integer", "null"], "minimum": 0},
                            "stop": {"type": ["integer", "null"], "minimum": 0}}}
    pair = {"type": "array", "description": "`[text, [id]]`", "prefixItems": [{"type": "string"},
            {"type": "array", "items": {"type": "integer"}}]}
    segment = {
        "type": "object",
        "required": ["num_tokens", "tokenizer", "usage"],
        "properties": {
            "num_tokens": {"type": "integer", "minimum": 0, "description": "the content's tokens, no special tokens"},
            "tokenizer": {"type": "string", "description": "the served model's name"},
            "usage": {"type": "object", "properties": {"tokens": {"const": 0}}},
            "num_chunks": {"type": "integer", "minimum": 0},
            "chunk_positions": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}},
                                "description": "each chunk's `[start, stop)` character offsets into `content`"},
            "chunks": {"type": "array", "items": {"type": "string"}},
            "tokens": {"type": "array", "description": "`[text, [id]]` pairs; with `return_chunks`, one list per "
                       "chunk (the chunk tokenised alone)",
                       "items": {"anyOf": [ref("SegmentToken"), {"type": "array", "items": ref("SegmentToken")}]}},
        },
    }
    return {
        "TokenizeRequest": _request_schema(TokenizeBody),
        "DecodeRequest": _request_schema(DecodeBody),
        "SegmentRequest": _request_schema(SegmentBody),
        "SimpleToken": token,
        "TokenizeResponse": {"type": "array", "items": {"type": "array", "items": ref("SimpleToken")}},
        "DecodeResponse": {"type": "array", "items": {"type": "string"}},
        "SegmentToken": pair,
        "SegmentResponse": segment,
    }  # fmt: skip


def operation(action: str, operation_id: str) -> dict[str, Any]:
    request, response, summary, description = _OPERATIONS[action]
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": description + " A field the body's schema does not define is a 400 naming it.",
        "requestBody": {"required": True, "content": {JSON: {"schema": ref(request)}}},
        "responses": {
            "200": {"description": "OK", "content": {JSON: {"schema": ref(response)}}},
            "400": error_doc(InvalidInputError, "Invalid JSON, schema or values; an unknown field"),
            "406": error_doc(NotAcceptableError, "Accept names no type this endpoint produces"),
            "413": error_doc(PayloadTooLargeError, "Body over EMB_MAX_BODY_MB; or, type "
                             f"`{ResponseTooLargeError.type}`, an answer larger than the platform returns"),
            "415": error_doc(UnsupportedMediaTypeError, "Content-Type not application/json"),
            "503": error_doc(ModelNotReadyError, "The model is not loaded yet"),
        },
    }  # fmt: skip
