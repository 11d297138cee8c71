"""Batch Transform records for the rerank slice: each JSON Lines record is one rerank request
(``{"query", "documents", ...}`` or TEI's ``{"query", "texts", ...}``) and gives one result line, in order: the
response object that request would get from ``/v1/rerank`` (or ``/rerank``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...codecs.records import line_error, record_values
from ...errors import InvalidInputError, ServingError
from ...mime import CSV
from .response import build_response
from .schema import parse_rerank_request
from .types import RerankCall, RerankRequest, RerankResult

Rerank = Callable[[RerankRequest], RerankResult]


def decode_rerank_records(body: bytes, mime: str) -> list[tuple[int, RerankCall]]:
    """``(line, call)`` per record; a bad line is a 400 naming it. CSV cannot carry a query with documents."""
    if mime == CSV:
        raise InvalidInputError("a reranker takes JSON Lines records ({query, documents}), not CSV")
    calls: list[tuple[int, RerankCall]] = []
    for line, value in record_values(body, mime):
        try:
            calls.append((line, parse_rerank_request(value)))
        except InvalidInputError as err:
            raise line_error(line, err.message) from None
    if not calls:
        raise InvalidInputError("no records in the request body")
    return calls


def rerank_records(calls: list[tuple[int, RerankCall]], rerank: Rerank) -> tuple[list[Any], int]:
    """One response per record, in order, and the tokens they used."""
    out: list[Any] = []
    tokens = 0
    for line, call in calls:
        try:
            result = rerank(call.request)
        except InvalidInputError as err:
            raise line_error(line, err.message) from None
        except ServingError:
            raise
        tokens += result.tokens
        out.append(build_response(call, result))
    return out, tokens
