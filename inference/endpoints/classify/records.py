"""Batch Transform records for the classify slice: each JSON Lines record is one request body of the route's
shape (Jina's ``{"input", "labels"}``, TEI's ``{"inputs"}``, Infinity's ``{"input"}``) and gives one result line,
in order: the answer that request would get on its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...codecs.records import line_error, record_values
from ...errors import InvalidInputError, WrongModelKindError
from ...mime import CSV
from .response import build_response
from .schema import parse_classify_request
from .types import ClassifyCall, ClassifyResult

Classify = Callable[[ClassifyCall], ClassifyResult]


def decode_classify_records(body: bytes, mime: str, shape: str, max_inputs: int) -> list[tuple[int, ClassifyCall]]:
    """``(line, call)`` per record; a bad line is a 400 naming it. CSV carries no request bodies."""
    if mime == CSV:
        raise InvalidInputError("classification takes JSON Lines records (one request body per line), not CSV")
    calls: list[tuple[int, ClassifyCall]] = []
    for line, value in record_values(body, mime):
        try:
            calls.append((line, parse_classify_request(value, shape, max_inputs)))
        except InvalidInputError as err:
            raise line_error(line, err.message) from None
    if not calls:
        raise InvalidInputError("no records in the request body")
    return calls


def classify_records(calls: list[tuple[int, ClassifyCall]], classify: Classify) -> tuple[list[Any], int]:
    """One answer per record, in order, and the tokens they used."""
    out: list[Any] = []
    tokens = 0
    for line, call in calls:
        try:
            result = classify(call)
        except WrongModelKindError:
            raise  # about the model, not the line
        except InvalidInputError as err:
            raise line_error(line, err.message) from None
        tokens += result.tokens
        out.append(build_response(call, result))
    return out, tokens
