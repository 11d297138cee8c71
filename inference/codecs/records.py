"""Record bodies for SageMaker Batch Transform: ``application/jsonlines`` and ``text/csv`` in, JSON Lines out.

A record body holds one record per line, and every record embeds exactly one input:

- ``application/jsonlines``: each line is a JSON string (the text), ``{"text": ...}``, ``{"image": ...}``
  or a request object ``{"input": ..., <options>}`` / ``{"data": ..., "parameters": ...}`` with one input.
  Options on a line (``dimensions``, ``embedding_type``, ``task``, ...) apply to that line only.
- ``text/csv``: each record is one column, the text (RFC 4180 quoting; no header row).

Lines without options get ``EMB_RECORD_OPTIONS`` (a JSON object of request options), since a batch
transform job cannot send per-record headers. Trailing blank lines are ignored; any other blank or bad line
fails the whole request with a 400 that names its line number, so Batch Transform reports it.

Lines are embedded together: records with the same options share one ``EmbedRequest`` (at most
``max_inputs`` inputs each) and the results go back to their lines. The response holds one embedding per
record, in record order: ``application/jsonlines`` writes ``{"object": "embedding", "index": i,
"embedding": ...}`` per line (``index``: the record's position in this request body), with no trailing
newline (``AssembleWith=Line`` adds it); ``application/json`` gives the usual list response.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from ..errors import InvalidInputError, ServingError
from ..schemas import parse_embeddings_request
from ..types import EmbedRequest, EmbedResult, InputItem, TextInput
from .decode import CSV, JSONLINES
from .encode import dumps, encode_embeddings

RECORD_TYPES = (JSONLINES, CSV)

_BOM = "\ufeff"
_CSV_FIELD_LIMIT = 1 << 30  # the body-size limit bounds fields; csv's own default (128 KiB) is too small
_INPUT_PARAM = re.compile(r"^input\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class Records:
    """One input per record, with the options that apply to it and the line it came from (1-based)."""

    items: tuple[InputItem, ...]
    options: tuple[EmbedRequest, ...]  # request options with ``inputs=()``; equal options group together
    lines: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.items)


class RecordDefaults:
    """``EMB_RECORD_OPTIONS`` checked once: options for records that set none. Raises ``ValueError``."""

    def __init__(self, options: Mapping[str, Any], *, max_inputs: int) -> None:
        if "input" in options or "data" in options:
            raise ValueError("EMB_RECORD_OPTIONS holds request options only, not 'input' or 'data'")
        self.options = dict(options)
        self.max_inputs = max_inputs
        try:
            probe = parse_embeddings_request({**self.options, "input": "probe"}, max_inputs=1)
        except InvalidInputError as err:
            raise ValueError(f"EMB_RECORD_OPTIONS is invalid: {err.message}") from None
        self.bare = replace(probe, inputs=())


def _line_error(line: int, message: str) -> InvalidInputError:
    return InvalidInputError(f"line {line}: {message}", param=f"line {line}")


def _text(value: str, line: int) -> TextInput:
    if not value.strip():
        raise _line_error(line, "the text is empty")
    return TextInput(value)


def _request_body(value: dict[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any] | None:
    """A JSON object line as a request body, the defaults under its own options; None if it is no record."""
    if "input" in value or "data" in value:
        return {**defaults, **value}
    rest = {key: item for key, item in value.items() if key not in ("text", "image")}
    if "text" in value:
        return {**defaults, **rest, "input": value["text"]}
    if "image" in value:
        return {**defaults, **rest, "input": [{"image": value["image"]}]}
    return None


def _json_record(value: Any, line: int, defaults: RecordDefaults) -> tuple[InputItem, EmbedRequest]:
    if isinstance(value, str):
        return _text(value, line), defaults.bare
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get("text"), str):  # the common case, without pydantic
            return _text(value["text"], line), defaults.bare
        body = _request_body(value, defaults.options)
        if body is not None:
            try:
                request = parse_embeddings_request(body, max_inputs=defaults.max_inputs)
            except InvalidInputError as err:
                raise _line_error(line, err.message) from None
            if len(request.inputs) != 1:
                raise _line_error(
                    line, f"a record embeds one input, this one holds {len(request.inputs)}; put each on its own line"
                )
            return request.inputs[0], replace(request, inputs=())
    kind = type(value).__name__ if not isinstance(value, dict) else "object without 'text', 'image' or 'input'"
    raise _line_error(line, f"expected a JSON string or an object with 'text', 'image' or 'input', got {kind}")


def _text_of(body: bytes) -> str:
    try:
        return body.decode("utf-8").removeprefix(_BOM)
    except UnicodeDecodeError as err:
        raise InvalidInputError(f"request body is not valid UTF-8 (byte {err.start})") from None


def _jsonlines_values(body: bytes) -> Iterator[tuple[int, Any]]:
    lines = _text_of(body).split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            raise _line_error(number, "the line is blank; remove blank lines or give every line a record")
        try:
            yield number, orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            raise _line_error(number, f"not valid JSON: {err}") from None


def _csv_texts(body: bytes) -> Iterator[tuple[int, str]]:
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
                raise _line_error(blank, "the line is blank; remove blank lines or give every line a record")
            if len(row) != 1:
                raise _line_error(
                    reader.line_num,
                    f"expected one column (the text), found {len(row)}; quote texts that contain commas",
                )
            yield reader.line_num, row[0]
    except csv.Error as err:
        raise _line_error(reader.line_num, f"malformed CSV: {err}") from None


def decode_records(body: bytes, mime: str, defaults: RecordDefaults) -> Records:
    """Split a jsonlines or CSV body into records. Raises ``InvalidInputError`` naming the bad line."""
    items: list[InputItem] = []
    options: list[EmbedRequest] = []
    lines: list[int] = []
    if mime == CSV:
        for number, text in _csv_texts(body):
            items.append(_text(text, number))
            options.append(defaults.bare)
            lines.append(number)
    else:
        for number, value in _jsonlines_values(body):
            item, opts = _json_record(value, number, defaults)
            items.append(item)
            options.append(opts)
            lines.append(number)
    if not items:
        raise InvalidInputError("request body holds no records")
    return Records(tuple(items), tuple(options), tuple(lines))


def plan_requests(records: Records, max_inputs: int) -> list[tuple[EmbedRequest, list[int]]]:
    """Group records with equal options into requests of at most ``max_inputs`` inputs.

    Returns ``(request, positions)`` pairs; ``positions`` are the records' indices, in order. Late-chunking
    records are never merged: late chunking embeds a request's inputs as one document.
    """
    groups: dict[EmbedRequest, list[int]] = {}
    for position, opts in enumerate(records.options):
        groups.setdefault(opts, []).append(position)
    plan: list[tuple[EmbedRequest, list[int]]] = []
    for opts, positions in groups.items():
        step = 1 if opts.late_chunking else max_inputs
        for start in range(0, len(positions), step):
            chunk = positions[start : start + step]
            plan.append((replace(opts, inputs=tuple(records.items[p] for p in chunk)), chunk))
    return plan


def _name_line(err: ServingError, records: Records, positions: Sequence[int]) -> ServingError:
    """Re-address an error about ``input[k]`` of a merged request (or about its options) to a line."""
    if not isinstance(err, InvalidInputError):
        return err
    match = _INPUT_PARAM.match(err.param or "")
    line = records.lines[positions[int(match.group(1))]] if match else records.lines[positions[0]]
    message = _INPUT_PARAM.sub("the record", err.message, count=1) if match else err.message
    return _line_error(line, message)


def embed_records(records: Records, embed: Callable[[EmbedRequest], EmbedResult], *, max_inputs: int) -> dict[str, Any]:
    """Embed every record and build the list response: ``data[i]`` is record ``i``."""
    embeddings: list[Any] = [None] * len(records)
    tokens = 0
    model = ""
    for request, positions in plan_requests(records, max_inputs):
        try:
            result = embed(request)
        except ServingError as err:
            raise _name_line(err, records, positions) from None
        encoded = encode_embeddings(result.vectors, request.embedding_types, request.types_as_list)
        for position, embedding in zip(positions, encoded, strict=True):
            embeddings[position] = embedding
        tokens += result.prompt_tokens
        model = result.model
    return {
        "object": "list",
        "model": model,
        "data": [{"object": "embedding", "index": i, "embedding": emb} for i, emb in enumerate(embeddings)],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def encode_jsonlines(items: Sequence[Any]) -> bytes:
    """One JSON document per line, newline-separated, no trailing newline."""
    return b"\n".join(dumps(item) for item in items)
