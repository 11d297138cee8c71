"""Batch Transform records for the multi-vector slice: each JSON Lines record (a JSON string, ``{"text"}``, or a
request object ``{"input": <one text>, <options>}``) or CSV line (the text) is one input; records with the same
options share a request, and each gives one ``{"object": "embeddings", "index", "embeddings"}`` line, in order.
Lines without options get ``EMB_RECORD_OPTIONS``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ...codecs.records import line_error, record_values
from ...errors import InvalidInputError
from .response import encode_tokens, entry
from .schema import parse_multivector_request
from .types import MultiVectorCall, MultiVectorRequest, MultiVectorResult

Encode = Callable[[MultiVectorRequest], MultiVectorResult]
RECORD_ID_KEYS = frozenset({"id"})
_INPUT_PARAM = re.compile(r"^input\[(\d+)\]")


def _record(value: Any, defaults: Mapping[str, Any], line: int, max_inputs: int) -> MultiVectorCall:
    if isinstance(value, str):
        body: dict[str, Any] = {**defaults, "input": value}
    elif isinstance(value, dict) and "text" in value and "input" not in value:
        body = {**defaults, **{k: v for k, v in value.items() if k not in RECORD_ID_KEYS and k != "text"},
                "input": value["text"]}  # fmt: skip
    elif isinstance(value, dict):
        body = {**defaults, **{k: v for k, v in value.items() if k not in RECORD_ID_KEYS}}
    else:
        raise line_error(line, "a record is a text, {\"text\"} or a request object with one input")
    try:
        call = parse_multivector_request(body, max_inputs=max_inputs)
    except InvalidInputError as err:
        raise line_error(line, err.message) from None
    if len(call.request.inputs) != 1:
        raise line_error(line, "a record holds one input")
    return call


def decode_multivector_records(body: bytes, mime: str, defaults: Mapping[str, Any],
                               max_inputs: int) -> list[tuple[int, MultiVectorCall]]:  # fmt: skip
    """``(line, call)`` per record; a bad line is a 400 naming it."""
    calls = [(line, _record(value, defaults, line, max_inputs)) for line, value in record_values(body, mime)]
    if not calls:
        raise InvalidInputError("no records in the request body")
    if len(calls) > max_inputs:
        raise InvalidInputError(f"too many records: {len(calls)} > limit {max_inputs}")
    return calls


def encode_records(calls: list[tuple[int, MultiVectorCall]], encode: Encode) -> tuple[list[Any], int]:
    """One line per record, in order (records of equal options encoded together), and the tokens used."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for position, (_, call) in enumerate(calls):
        request = call.request
        key = (request.input_type, request.dimensions, request.normalized, request.truncate)
        groups.setdefault(key, []).append(position)
    out: list[Any] = [None] * len(calls)
    tokens = 0
    for positions in groups.values():
        first = calls[positions[0]][1].request
        texts = tuple(calls[p][1].request.inputs[0] for p in positions)
        try:
            result = encode(MultiVectorRequest(texts, first.input_type, first.dimensions, first.normalized,
                                               first.truncate))  # fmt: skip
        except InvalidInputError as err:
            at = _INPUT_PARAM.match(err.param or "")
            raise line_error(calls[positions[int(at.group(1)) if at else 0]][0], err.message) from None
        tokens += result.tokens
        for position, vectors in zip(positions, result.vectors, strict=True):
            out[position] = entry(position, encode_tokens(vectors, calls[position][1].format))
    return out, tokens
