"""Record bodies (SageMaker Batch Transform): ``application/jsonlines`` and ``text/csv`` split into lines.

What a line means is the endpoint's business; this module only splits a body into ``(line number, value)``
pairs (1-based). Trailing blank lines are ignored; any other blank or bad line is a 400 naming its line
number, so Batch Transform reports it.

- ``application/jsonlines``: each line is one JSON document.
- ``text/csv``: each record is one column, a text (RFC 4180 quoting; no header row).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import orjson

from ..errors import InvalidInputError
from ..mime import CSV

_BOM = "\ufeff"
_CSV_FIELD_LIMIT = 1 << 30  # the body-size limit bounds fields; csv's own default (128 KiB) is too small
_BLANK = "the line is blank; remove blank lines or give every line a record"


def line_error(line: int, message: str) -> InvalidInputError:
    return InvalidInputError(f"line {line}: {message}", param=f"line {line}")


def _text_of(body: bytes) -> str:
    try:
        return body.decode("utf-8").removeprefix(_BOM)
    except UnicodeDecodeError as err:
        raise InvalidInputError(f"request body is not valid UTF-8 (byte {err.start})") from None


def jsonlines_values(body: bytes) -> Iterator[tuple[int, Any]]:
    lines = _text_of(body).split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            raise line_error(number, _BLANK)
        try:
            yield number, orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            raise line_error(number, f"not valid JSON: {err}") from None


def csv_texts(body: bytes) -> Iterator[tuple[int, str]]:
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    reader = csv.reader(io.StringIO(_text_of(body), newline=""), strict=True)
    blank: int | None = None  # a blank line is an error unless only blank lines follow it
    try:
        for row in reader:
            if not row:
                blank = blank or reader.line_num
                continue
            if blank is not None:
                raise line_error(blank, _BLANK)
            if len(row) != 1:
                raise line_error(
                    reader.line_num,
                    f"expected one column (the text), found {len(row)}; quote texts that contain commas",
                )
            yield reader.line_num, row[0]
    except csv.Error as err:
        raise line_error(reader.line_num, f"malformed CSV: {err}") from None


def record_values(body: bytes, mime: str) -> Iterator[tuple[int, Any]]:
    """``(line, value)`` per record: CSV gives strings, JSON Lines any JSON value."""
    return csv_texts(body) if mime == CSV else jsonlines_values(body)
