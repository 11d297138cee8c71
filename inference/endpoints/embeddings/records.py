"""Batch Transform records for the embeddings slice: a thin layer over ``EmbeddingService.embed``.

A record embeds one input (the body is split into lines by ``codecs.records``), except Jina's CSV rows:

- JSON Lines: a JSON string (the text), ``{"text": ...}``, ``{"image": ...}`` or a request object
  ``{"input": ..., <options>}`` / ``{"data": ..., "parameters": ...}`` with one input. Options on a line
  (``dimensions``, ``embedding_type``, ``task``, ...) apply to that line only. Besides the record's ``id``
  (``RECORD_ID_KEYS``), a key the request schema does not define is an error naming the line, never dropped
  (as in ``EMB_RECORD_OPTIONS``).
- CSV: the text; or Jina's batch row ``id,"[inputs]","{parameters}"``, which embeds all its inputs with its
  parameters and answers ``{"id", "object": "list", "model", "data": [one embedding per input]}`` on its line.

Lines without options get ``EMB_RECORD_OPTIONS`` (a JSON object of request options), since a batch transform
job cannot send per-record headers. Records with the same options share one request (at most ``max_inputs``
inputs each) and the results go back to their lines: ``data[i]`` is record ``i``, ``index`` its position in
this body.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ...codecs.records import IdRow, line_error, record_values
from ...core.types import InputItem, TextInput
from ...errors import InvalidInputError, ServingError
from .response import encode_embeddings, envelope
from .schema import parse_embeddings_request
from .types import EmbeddingsCall, EmbedRequest, EmbedResult

_INPUT_PARAM = re.compile(r"^input\[(\d+)\]")
# A record's own identifier, which a job's input lines often carry (and ``JoinSource=Input`` joins back): not
# embedded and not an option. Every other key is text, image, input or an option, or the line is refused.
RECORD_ID_KEYS = frozenset({"id"})
Embed = Callable[[EmbedRequest], EmbedResult]


@dataclass(frozen=True, slots=True)
class IdRowSpan:
    """The inputs ``items[start:start + count]`` are one Jina CSV row's, answered together under ``id``."""

    start: int
    count: int
    id: str


@dataclass(frozen=True, slots=True)
class Records:
    """Every input, with the call options that apply to it and the line it came from (1-based); ``rows``, in
    order, the spans of inputs that are Jina rows (every other input is a record of its own)."""

    items: tuple[InputItem, ...]
    options: tuple[EmbeddingsCall, ...]  # calls with ``inputs=()``; equal options group together
    lines: tuple[int, ...]
    rows: tuple[IdRowSpan, ...] = ()

    def __len__(self) -> int:
        """Inputs (what is metered), not records."""
        return len(self.items)


def _bare(call: EmbeddingsCall) -> EmbeddingsCall:
    return replace(call, request=replace(call.request, inputs=()))


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
        self.bare = _bare(probe)


def _text(value: str, line: int) -> TextInput:
    if not value.strip():
        raise line_error(line, "the text is empty")
    return TextInput(value)


def _request_body(value: dict[str, Any], defaults: Mapping[str, Any], line: int) -> dict[str, Any] | None:
    """A JSON object line as a request body, the defaults under its own options; None if it is no record.
    Nothing else on the line is dropped: a key the request schema does not define is refused by the parser."""
    value = {key: item for key, item in value.items() if key not in RECORD_ID_KEYS}
    if "input" in value:
        return {**defaults, **value}
    if "data" in value:  # Jina SageMaker: the defaults go under the line's own parameters
        params = value.get("parameters")
        if defaults and (params is None or isinstance(params, dict)):
            return {**value, "parameters": {**defaults, **(params or {})}}
        return value
    if "text" in value and "image" in value:
        raise line_error(line, "a record holds 'text' or 'image', not both; put each on its own line")
    rest = {key: item for key, item in value.items() if key not in ("text", "image")}
    if "text" in value:
        return {**defaults, **rest, "input": value["text"]}
    if "image" in value:
        return {**defaults, **rest, "input": [{"image": value["image"]}]}
    return None


def _record(value: Any, line: int, defaults: RecordDefaults) -> tuple[InputItem, EmbeddingsCall]:
    if isinstance(value, str):
        return _text(value, line), defaults.bare
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get("text"), str):  # the common case, without pydantic
            return _text(value["text"], line), defaults.bare
        body = _request_body(value, defaults.options, line)
        if body is not None:
            try:
                call = parse_embeddings_request(body, max_inputs=defaults.max_inputs)
            except InvalidInputError as err:
                raise line_error(line, err.message) from None
            inputs = call.request.inputs
            if len(inputs) != 1:
                raise line_error(
                    line, f"a record embeds one input, this one holds {len(inputs)}; put each on its own line"
                )
            return inputs[0], _bare(call)
    kind = type(value).__name__ if not isinstance(value, dict) else "object without 'text', 'image' or 'input'"
    raise line_error(line, f"expected a JSON string or an object with 'text', 'image' or 'input', got {kind}")


def _id_row(row: IdRow, line: int, defaults: RecordDefaults) -> tuple[tuple[InputItem, ...], EmbeddingsCall]:
    """A Jina row: its inputs with its parameters over ``EMB_RECORD_OPTIONS`` (Jina SageMaker's request shape)."""
    body = {"data": row.inputs, "parameters": {**defaults.options, **row.parameters}}
    try:
        call = parse_embeddings_request(body, max_inputs=defaults.max_inputs)
    except InvalidInputError as err:
        raise line_error(line, err.message) from None
    return call.request.inputs, _bare(call)


def decode_records(body: bytes, mime: str, defaults: RecordDefaults) -> Records:
    """Split a jsonlines or CSV body into records. Raises ``InvalidInputError`` naming the bad line."""
    items: list[InputItem] = []
    options: list[EmbeddingsCall] = []
    lines: list[int] = []
    rows: list[IdRowSpan] = []
    for number, value in record_values(body, mime):
        if isinstance(value, IdRow):
            inputs, opts = _id_row(value, number, defaults)
            rows.append(IdRowSpan(len(items), len(inputs), value.id))
        else:
            item, opts = _record(value, number, defaults)
            inputs = (item,)
        items.extend(inputs)
        options.extend([opts] * len(inputs))
        lines.extend([number] * len(inputs))
    if not items:
        raise InvalidInputError("request body holds no records")
    return Records(tuple(items), tuple(options), tuple(lines), tuple(rows))


def _one_record_each(positions: list[int], row_at: Mapping[int, int]) -> list[list[int]]:
    """Late chunking embeds a request's inputs as one document: one call per record, a Jina row's inputs
    (consecutive positions with one ``row_at``) together."""
    chunks: list[list[int]] = []
    for position in positions:
        row = row_at.get(position)
        if chunks and row is not None and row_at.get(chunks[-1][-1]) == row:
            chunks[-1].append(position)
        else:
            chunks.append([position])
    return chunks


def plan_requests(records: Records, max_inputs: int) -> list[tuple[EmbeddingsCall, list[int]]]:
    """Group records with equal options into calls of at most ``max_inputs`` inputs.

    Returns ``(call, positions)`` pairs; ``positions`` are the inputs' indices, in order. Late-chunking
    records are never merged: late chunking embeds a request's inputs as one document.
    """
    groups: dict[EmbeddingsCall, list[int]] = {}
    for position, opts in enumerate(records.options):
        groups.setdefault(opts, []).append(position)
    plan: list[tuple[EmbeddingsCall, list[int]]] = []
    for opts, positions in groups.items():
        if opts.request.late_chunking:
            row_at = {p: row.start for row in records.rows for p in range(row.start, row.start + row.count)}
            chunks = _one_record_each(positions, row_at)
        else:
            chunks = [positions[start : start + max_inputs] for start in range(0, len(positions), max_inputs)]
        for chunk in chunks:
            request = replace(opts.request, inputs=tuple(records.items[p] for p in chunk))
            plan.append((replace(opts, request=request), chunk))
    return plan


def _name_line(err: ServingError, records: Records, positions: Sequence[int]) -> ServingError:
    """Re-address an error about ``input[k]`` of a merged request (or about its options) to a line."""
    if not isinstance(err, InvalidInputError):
        return err
    match = _INPUT_PARAM.match(err.param or "")
    line = records.lines[positions[int(match.group(1))]] if match else records.lines[positions[0]]
    message = _INPUT_PARAM.sub("the record", err.message, count=1) if match else err.message
    return line_error(line, message)


def _answers(records: Records, embeddings: list[Any], model: str) -> list[dict[str, Any]]:
    """One answer per record, in order: an input's embedding, or a Jina row's ``{"id", "object": "list", "model",
    "data"}`` (no per-row ``usage``: rows with equal parameters are embedded together)."""
    answers: list[dict[str, Any]] = []
    rows = iter(records.rows)
    row, position = next(rows, None), 0
    while position < len(embeddings):
        if row is not None and row.start == position:
            data = envelope(embeddings[position : position + row.count], model, 0)["data"]
            answers.append({"id": row.id, "object": "list", "model": model, "data": data})
            position += row.count
            row = next(rows, None)
        else:
            answers.append({"object": "embedding", "index": len(answers), "embedding": embeddings[position]})
            position += 1
    return answers


def embed_records(records: Records, embed: Embed, *, max_inputs: int) -> dict[str, Any]:
    """Embed every record and build the list response: ``data[i]`` is record ``i``."""
    embeddings: list[Any] = [None] * len(records)
    tokens = 0
    model = ""
    for call, positions in plan_requests(records, max_inputs):
        try:
            result = embed(call.request)
        except ServingError as err:
            raise _name_line(err, records, positions) from None
        for position, embedding in zip(positions, encode_embeddings(result.vectors, call.format), strict=True):
            embeddings[position] = embedding
        tokens += result.prompt_tokens
        model = result.model
    if not records.rows:
        return envelope(embeddings, model, tokens)
    return {**envelope([], model, tokens), "data": _answers(records, embeddings, model)}
