"""Batch Transform records for the sparse slice: each JSON Lines record (a JSON string, ``{"text"}``, or a request
object ``{"inputs": <one text>, <options>}``) or CSV line (the text) is one input; records with the same options
share a request, and each gives one line: its input's entries (``[{"index", "value"}, ...]``), in order."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ...codecs.records import line_error, record_values
from ...errors import InvalidInputError, WrongModelKindError
from .response import sparse_entries
from .schema import parse_sparse_request
from .types import SparseRequest, SparseResult

Encode = Callable[[SparseRequest], SparseResult]
RECORD_ID_KEYS = frozenset({"id"})
_INPUT_PARAM = re.compile(r"^inputs\[(\d+)\]")


def _record(value: Any, line: int, max_inputs: int) -> SparseRequest:
    if isinstance(value, str):
        body: dict[str, Any] = {"inputs": value}
    elif isinstance(value, dict) and "text" in value and "inputs" not in value:
        body = {**{k: v for k, v in value.items() if k not in RECORD_ID_KEYS and k != "text"}, "inputs": value["text"]}
    elif isinstance(value, dict):
        body = {k: v for k, v in value.items() if k not in RECORD_ID_KEYS}
    else:
        raise line_error(line, "a record is a text, {\"text\"} or a request object with one input")
    try:
        request = parse_sparse_request(body, max_inputs=max_inputs)
    except InvalidInputError as err:
        raise line_error(line, err.message) from None
    if len(request.inputs) != 1:
        raise line_error(line, "a record holds one input")
    return request


def decode_sparse_records(body: bytes, mime: str, max_inputs: int) -> list[tuple[int, SparseRequest]]:
    """``(line, request)`` per record; a bad line is a 400 naming it."""
    requests = [(line, _record(value, line, max_inputs)) for line, value in record_values(body, mime)]
    if not requests:
        raise InvalidInputError("no records in the request body")
    if len(requests) > max_inputs:
        raise InvalidInputError(f"too many records: {len(requests)} > limit {max_inputs}")
    return requests


def encode_records(requests: list[tuple[int, SparseRequest]], encode: Encode) -> tuple[list[Any], int]:
    """One line per record, in order (records of equal options encoded together), and the tokens used."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for position, (_, request) in enumerate(requests):
        groups.setdefault((request.truncate, request.prompt_name), []).append(position)
    out: list[Any] = [None] * len(requests)
    tokens = 0
    for (truncate, prompt_name), positions in groups.items():
        texts = tuple(requests[p][1].inputs[0] for p in positions)
        try:
            result = encode(SparseRequest(texts, truncate, prompt_name))
        except WrongModelKindError:
            raise  # about the model, not a line
        except InvalidInputError as err:
            at = _INPUT_PARAM.match(err.param or "")
            raise line_error(requests[positions[int(at.group(1)) if at else 0]][0], err.message) from None
        tokens += result.tokens
        for position, vector in zip(positions, result.vectors, strict=True):
            out[position] = sparse_entries(vector)
    return out, tokens
