"""Record bodies read a line at a time (codecs/records.py): the same records as a whole-body parse, errors that
still name the line or byte, bounded memory; and Jina's batch CSV rows (IdRow) through decoding and planning."""

import csv
import io
import json
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inference.codecs.records import IdRow, record_values
from inference.endpoints.embeddings.records import IdRowSpan, RecordDefaults, decode_records, plan_requests
from inference.errors import InvalidInputError
from inference.mime import CSV, JSONLINES

DEFAULTS = RecordDefaults({}, max_inputs=2048)
fields = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30).filter(lambda t: t.strip())


def whole_body_rows(body: bytes) -> list[list[str]]:
    """What csv reads from the decoded body at once (``newline=""``), trailing blank rows dropped: the parse
    this module must match."""
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), strict=True))
    while rows and not rows[-1]:
        rows.pop()
    return rows


@settings(max_examples=300, deadline=None)
@given(st.lists(fields, min_size=1, max_size=15), st.sampled_from(["\n", "\r\n", "\r"]), st.booleans())
def test_csv_read_line_by_line_matches_the_whole_body_parse(values, terminator, bom):
    out = io.StringIO()
    csv.writer(out, lineterminator=terminator, quoting=csv.QUOTE_MINIMAL).writerows([v] for v in values)
    body = ("\ufeff" if bom else "").encode() + out.getvalue().encode()
    try:
        want = whole_body_rows(body)
    except csv.Error:
        return  # a terminator inside an unquoted field: both refuse it
    if [] in want:  # a lone "\r" in an unquoted field ends a row: an interior blank line, refused
        with pytest.raises(InvalidInputError, match="the line is blank"):
            list(record_values(body, CSV))
        return
    assert [value for _, value in record_values(body, CSV)] == [row[0] for row in want]


@pytest.mark.parametrize(
    ("body", "mime", "byte"),
    [
        (b'"a"\n"\xff"', JSONLINES, 5),
        (b"ok\n\xffoops", CSV, 3),
        (b"\xef\xbb\xbfok\n\xc3", CSV, 6),  # the offset counts from the body's first byte, BOM included
    ],
)
def test_invalid_utf8_names_its_byte(body, mime, byte):
    with pytest.raises(InvalidInputError, match=rf"not valid UTF-8 \(byte {byte}\)"):
        list(record_values(body, mime))


def test_lines_split_only_at_newlines_for_jsonlines_and_universally_for_csv():
    assert [v for _, v in record_values(b'"a\\rb"\r\n"c"', JSONLINES)] == ["a\rb", "c"]
    assert [(n, v) for n, v in record_values(b"a\rb\r\nc", CSV)] == [(1, "a"), (2, "b"), (3, "c")]


def test_csv_rows_of_three_with_json_are_jina_rows():
    body = b'one text\nr1,"[""a"", {""text"": ""b""}]","{""dimensions"": 8}"\nr2,"[""c""]",\n'
    assert list(record_values(body, CSV)) == [
        (1, "one text"),
        (2, IdRow("r1", ["a", {"text": "b"}], {"dimensions": 8})),
        (3, IdRow("r2", ["c"], {})),
    ]


def test_jina_rows_become_spans_of_inputs_with_their_lines():
    body = b'x\nr1,"[""a"", ""b""]","{""dimensions"": 8}"\ny\n'
    records = decode_records(body, CSV, DEFAULTS)
    assert [item.text for item in records.items] == ["x", "a", "b", "y"]
    assert records.lines == (1, 2, 2, 3) and records.rows == (IdRowSpan(1, 2, "r1"),) and len(records) == 4
    assert records.options[1] is records.options[2] and records.options[1].request.dimensions == 8


def test_late_chunking_plans_one_call_per_record_a_jina_rows_inputs_together():
    late = '"{""late_chunking"": true}"'
    body = f'r1,"[""a"", ""b""]",{late}\nr2,"[""c""]",{late}\nr3,"[""d"", ""e"", ""f""]",{late}\nplain'.encode()
    plan = plan_requests(decode_records(body, CSV, DEFAULTS), max_inputs=2)
    assert [positions for _, positions in plan] == [[0, 1], [2], [3, 4, 5], [6]]
    assert [call.request.late_chunking for call, _ in plan] == [True, True, True, False]


@pytest.mark.parametrize("mime", [JSONLINES, CSV])
def test_parsing_a_big_body_holds_the_records_not_copies_of_the_body(mime):
    """The records' texts are about the body's size; besides them the parser holds one window (1 MiB) and its
    lines. Splitting the whole decoded body (the old way) held two more copies on top (text and lines): 2x for
    JSON Lines, 5x for CSV."""
    line = json.dumps({"text": "word " * 400}).encode() if mime == JSONLINES else b"word " * 400  # ~2 kB
    body = b"\n".join([line] * 4000)  # ~8 MB
    tracemalloc.start()
    try:
        records = decode_records(body, mime, DEFAULTS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    texts = sum(len(item.text) for item in records.items)
    assert texts > 0.9 * len(body)
    assert peak < 1.1 * len(body) + 4 * 2**20, f"peak {peak / 2**20:.1f} MiB for a {len(body) / 2**20:.1f} MiB body"
