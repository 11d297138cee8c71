"""Batch Transform records: jsonlines / CSV decoding, request planning, JSON Lines encoding."""

import csv
import io
import json

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from inference.codecs.json import encode_jsonlines
from inference.core.types import TextInput
from inference.endpoints.embeddings.records import RecordDefaults, decode_records, embed_records, plan_requests
from inference.endpoints.embeddings.types import EmbedRequest, EmbedResult
from inference.errors import InvalidInputError, ModelNotReadyError
from inference.mime import CSV, JSONLINES

DEFAULTS = RecordDefaults({}, max_inputs=2048)
# Texts a record can carry: anything with a non-space character. CSV fields may hold newlines; jsonlines
# strings escape them.
texts = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(lambda t: t.strip())


def csv_body(values, terminator="\n") -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator=terminator).writerows([v] for v in values)
    return out.getvalue().encode()


@settings(max_examples=200, deadline=None)
@given(st.lists(texts, min_size=1, max_size=20), st.sampled_from(["\n", "\r\n"]))
def test_csv_round_trips_any_text_in_order(values, terminator):
    assume(terminator == "\r\n" or not any("\r" in v for v in values))  # csv quotes only the terminator's chars
    records = decode_records(csv_body(values, terminator), CSV, DEFAULTS)
    assert [item.text for item in records.items] == values


@settings(max_examples=200, deadline=None)
@given(st.lists(texts, min_size=1, max_size=20), st.booleans())
def test_jsonlines_round_trips_any_text_in_order(values, as_objects):
    body = "\n".join(json.dumps({"text": v} if as_objects else v) for v in values).encode()
    records = decode_records(body + b"\n", JSONLINES, DEFAULTS)
    assert [item.text for item in records.items] == values
    assert records.lines == tuple(range(1, len(values) + 1))


def test_csv_line_numbers_count_physical_lines():
    records = decode_records(b'a\n"b\nc"\nd\n', CSV, DEFAULTS)
    assert [i.text for i in records.items] == ["a", "b\nc", "d"] and records.lines == (1, 3, 4)


def test_records_without_options_share_the_default_options_object():
    defaults = RecordDefaults({"dimensions": 16, "embedding_type": ["float", "binary"]}, max_inputs=10)
    records = decode_records(b'"a"\n{"text": "b"}\n{"input": "c", "dimensions": 16}', JSONLINES, defaults)
    assert records.options[0] is records.options[1] and records.options[0] == records.options[2]
    call = records.options[0]
    assert call.request.dimensions == 16 and call.format.types == ("float", "binary")
    assert call.format.as_dict and call.request.inputs == ()


def test_plan_groups_equal_options_chunks_by_max_inputs_and_keeps_late_chunking_apart():
    body = "\n".join(
        json.dumps(line)
        for line in [
            "a",
            {"input": "b", "dimensions": 8},
            "c",
            "d",
            {"input": "e", "dimensions": 8},
            "f",
            {"input": "g", "late_chunking": True},
            {"input": "h", "late_chunking": True},
            "i",
        ]
    ).encode()
    plan = plan_requests(decode_records(body, JSONLINES, DEFAULTS), max_inputs=3)
    assert [positions for _, positions in plan] == [[0, 2, 3], [5, 8], [1, 4], [6], [7]]
    assert [tuple(i.text for i in call.request.inputs) for call, _ in plan][:2] == [("a", "c", "d"), ("f", "i")]
    assert [call.request.dimensions for call, _ in plan] == [None, None, 8, None, None]


def _fake_embed(request: EmbedRequest) -> EmbedResult:
    """Vector = [len(text), dimensions or 0]; tokens = one per character."""
    rows = [[len(item.text), request.dimensions or 0] for item in request.inputs]
    return EmbedResult(np.array(rows, dtype=np.float32), sum(len(i.text) for i in request.inputs), "m")


def test_embed_records_puts_every_result_back_on_its_line():
    body = b'"aaa"\n{"input": "b", "dimensions": 8}\n"cc"\n{"input": "dddd", "dimensions": 8}\n"e"'
    payload = embed_records(decode_records(body, JSONLINES, DEFAULTS), _fake_embed, max_inputs=2)
    assert [d["embedding"].tolist() for d in payload["data"]] == [[3, 0], [1, 8], [2, 0], [4, 8], [1, 0]]
    assert [d["index"] for d in payload["data"]] == [0, 1, 2, 3, 4]
    assert payload["usage"] == {"prompt_tokens": 11, "total_tokens": 11} and payload["model"] == "m"


def test_embed_records_addresses_errors_to_lines():
    def embed(request):
        if len(request.inputs) > 1:
            raise InvalidInputError("input[1] has 900 tokens, more than 512", param="input[1]")
        raise ModelNotReadyError("model is loading")

    records = decode_records(b'"a"\n"b"\n"c"', JSONLINES, DEFAULTS)
    with pytest.raises(InvalidInputError, match=r"^line 2: the record has 900 tokens"):
        embed_records(records, embed, max_inputs=10)
    with pytest.raises(ModelNotReadyError):  # not about a line: passed through unchanged
        embed_records(records, embed, max_inputs=1)


def test_jsonlines_encoding_has_no_trailing_newline():
    assert encode_jsonlines([{"a": 1}, {"b": np.array([0.5], dtype=np.float32)}]) == b'{"a":1}\n{"b":[0.5]}'
    assert decode_records(b'"x"', JSONLINES, DEFAULTS).items == (TextInput("x"),)
