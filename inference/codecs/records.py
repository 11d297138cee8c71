"""Record bodies (SageMaker Batch Transform, async inference): ``application/jsonlines`` and ``text/csv``.

What a line means is the endpoint's business; this module only splits a body into ``(line number, value)``
pairs (1-based). Trailing blank lines are ignored; any other blank or bad line is a 400 naming its line
number, so Batch Transform reports it.

- ``application/jsonlines``: each line is one JSON document.
- ``text/csv`` (RFC 4180 quoting, no header row): a row of one column is a text (``str``); a row of three
  whose second column is a JSON array and third a JSON object is Jina's batch row ``id,"[inputs]","{params}"``
  (``IdRow``). Any other row is refused.

Bodies are read a window (``_WINDOW``, 256 KiB) at a time, never decoded or split as a whole: besides the body the
parser holds one window's lines, so parsing a body of 1 GB needs the body plus what the records made of it hold.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import InvalidInputError
from ..mime import CSV

_BOM = b"\xef\xbb\xbf"
_WINDOW = 1 << 18  # bytes of the body split into lines (and decoded) at a time
_CSV_FIELD_LIMIT = 1 << 30  # the body-size limit bounds fields; csv's own default (128 KiB) is too small
_BLANK = "the line is blank; remove blank lines or give every line a record"
_JINA_ROW = "Jina's batch rows have three: id, a JSON array of inputs, a JSON object of parameters"


@dataclass(frozen=True, slots=True)
class IdRow:
    """Jina's batch CSV row: the record's id, its inputs (a JSON array) and request parameters (a JSON object)."""

    id: str
    inputs: list[Any]
    parameters: dict[str, Any]


def line_error(line: int, message: str) -> InvalidInputError:
    return InvalidInputError(f"line {line}: {message}", param=f"line {line}")


def _windows(body: bytes) -> Iterator[tuple[int, bytes]]:
    """``(offset, piece)``: ``body`` (after a UTF-8 BOM) in pieces of about ``_WINDOW`` bytes, each ending just
    after a ``\\n`` (the last at the body's end): no line, ``\\r\\n`` or UTF-8 character is cut. A line longer
    than the window is one piece (a CSV using bare ``\\r`` line ends: the whole body)."""
    at, size = (len(_BOM) if body.startswith(_BOM) else 0), len(body)
    while at < size:
        cut = body.rfind(b"\n", at, at + _WINDOW) if at + _WINDOW < size else size - 1
        if cut < 0:
            cut = body.find(b"\n", at + _WINDOW)
            cut = size - 1 if cut < 0 else cut
        yield at, body[at : cut + 1]
        at = cut + 1


def _text(data: bytes, offset: int) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidInputError(f"request body is not valid UTF-8 (byte {offset + err.start})") from None


def _physical_lines(body: bytes) -> Iterator[tuple[int, bytes]]:
    """``(offset, line)`` per line of ``body`` split at ``\\n`` (the terminator dropped)."""
    for offset, piece in _windows(body):
        lines = piece.split(b"\n")
        if piece.endswith(b"\n"):
            lines.pop()
        for line in lines:
            yield offset, line
            offset += len(line) + 1


def jsonlines_values(body: bytes) -> Iterator[tuple[int, Any]]:
    blank: int | None = None  # a blank line is an error unless only blank lines follow it
    for number, (offset, raw) in enumerate(_physical_lines(body), start=1):
        if not raw.strip():
            blank = blank or number
            continue
        if blank is not None:
            raise line_error(blank, _BLANK)
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            _text(raw, offset)  # invalid UTF-8 is named as such, with its byte
            raise line_error(number, f"not valid JSON: {err}") from None
        yield number, value


def _csv_lines(body: bytes) -> Iterator[str]:
    """The body's lines as ``open(newline="")`` gives them to csv: universal line ends, each kept."""
    for offset, piece in _windows(body):
        yield from io.StringIO(_text(piece, offset), newline="")


def _json_column(text: str, kind: type) -> Any:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, kind) else None


def _csv_value(row: list[str], line: int) -> str | IdRow:
    if len(row) == 1:
        return row[0]
    if len(row) == 3:
        inputs = _json_column(row[1], list)
        parameters = _json_column(row[2], dict) if row[2].strip() else {}
        if inputs is not None and parameters is not None:
            return IdRow(row[0], inputs, parameters)
    found = f"expected one column (the text), found {len(row)}; quote texts that contain commas ({_JINA_ROW})"
    raise line_error(line, found)


def csv_values(body: bytes) -> Iterator[tuple[int, str | IdRow]]:
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    reader = csv.reader(_csv_lines(body), strict=True)
    blank: int | None = None
    try:
        for row in reader:
            if not row:
                blank = blank or reader.line_num
                continue
            if blank is not None:
                raise line_error(blank, _BLANK)
            yield reader.line_num, _csv_value(row, reader.line_num)
    except csv.Error as err:
        raise line_error(reader.line_num, f"malformed CSV: {err}") from None


def record_values(body: bytes, mime: str) -> Iterator[tuple[int, Any]]:
    """``(line, value)`` per record: CSV gives a text or an ``IdRow``, JSON Lines any JSON value."""
    return csv_values(body) if mime == CSV else jsonlines_values(body)
