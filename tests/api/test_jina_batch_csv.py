"""Jina's own batch CSV rows (``id,"[json inputs]","{json params}"``, as in jina-ai/jina-sagemaker's examples)
beside the one-text-per-row CSV: detected per row, ids kept in the output, parameters applied per row (fake model)."""

import csv
import io
import json

import numpy as np
import pytest

from inference.api.app import create_app
from tests.conftest import make_settings

CSV = "text/csv"
JSONL = "application/jsonlines"
# The shape of jina-sagemaker's examples/sample-batch-v4-input.csv (objects) and -v5-...-input.csv (strings).
V4_ROW = '286076113143433cb5f2655c5f70a30e,"[{""text"": ""cash is king""}, {""text"": ""yes I do like cat""}]",' \
         '"{""task"": ""passage"", ""dimensions"": 8}"'  # fmt: skip
V5_ROW = '"5f33185149dd4980952f83dc76521e69","[""the quick brown fox"", ""lazy dog"", ""morning""]",' \
         '"{""task"": ""query"", ""dimensions"": 16}"'  # fmt: skip


def post(client, body: bytes, accept=None):
    headers = {"Accept": accept} if accept else {}
    return client.post("/invocations", data=body, content_type=CSV, headers=headers)


def jina_rows(*rows) -> bytes:
    """``(id, inputs, params)`` rows as Jina writes them (every field quoted, JSON inside)."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerows([row_id, json.dumps(inputs), json.dumps(params)] for row_id, inputs, params in rows)
    return out.getvalue().encode()


def lines_of(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [json.loads(line) for line in response.get_data(as_text=True).split("\n")]


def reference(client, texts, **options) -> np.ndarray:
    body = client.post("/invocations", json={"input": list(texts), **options}).get_json()
    return np.array([d["embedding"] for d in body["data"]], dtype=np.float32)


def vectors(row) -> np.ndarray:
    return np.array([d["embedding"] for d in row["data"]], dtype=np.float32)


def test_jina_rows_keep_their_ids_and_their_own_parameters(client):
    body = f"{V4_ROW}\n{V5_ROW}\n".encode()
    first, second = lines_of(post(client, body))
    assert first["id"] == "286076113143433cb5f2655c5f70a30e" and second["id"] == "5f33185149dd4980952f83dc76521e69"
    assert first["object"] == "list" and first["model"] == "fake"
    assert [d["index"] for d in first["data"]] == [0, 1] and [d["index"] for d in second["data"]] == [0, 1, 2]
    want = reference(client, ["cash is king", "yes I do like cat"], task="passage", dimensions=8)
    np.testing.assert_allclose(vectors(first), want, rtol=1e-6)
    want = reference(client, ["the quick brown fox", "lazy dog", "morning"], task="query", dimensions=16)
    np.testing.assert_allclose(vectors(second), want, rtol=1e-6)


def test_jina_rows_and_plain_texts_mix_one_output_line_per_input_line(client):
    body = b"plain text\n" + jina_rows(("a1", ["x y", "z"], {}), ("a2", [{"text": "w"}], {"dimensions": 4})) + b"last"
    lines = lines_of(post(client, body))
    assert len(lines) == 4
    assert lines[0]["index"] == 0 and lines[3]["index"] == 3 and "id" not in lines[0]
    assert [line.get("id") for line in lines] == [None, "a1", "a2", None]
    assert [len(line["data"]) for line in lines[1:3]] == [2, 1] and len(lines[2]["data"][0]["embedding"]) == 4
    np.testing.assert_allclose(vectors(lines[1]), reference(client, ["x y", "z"]), rtol=1e-6)
    np.testing.assert_allclose(np.array([lines[0]["embedding"]]), reference(client, ["plain text"]), rtol=1e-6)


def test_rows_with_more_inputs_than_a_request_takes_are_split_across_requests_in_order(client):
    texts = [f"text {i}" for i in range(5)]  # the client fixture's max_inputs is 5: rows share requests
    body = jina_rows(("r1", texts[:3], {}), ("r2", texts[3:], {}))
    r1, r2 = lines_of(post(client, body))
    np.testing.assert_allclose(np.concatenate([vectors(r1), vectors(r2)]), reference(client, texts), rtol=1e-6)


def test_metering_counts_inputs_and_json_answers_one_entry_per_row(client):
    response = post(client, f"{V4_ROW}\nsolo\n{V5_ROW}".encode(), accept="application/json")
    assert json.loads(response.headers["X-Amzn-Inference-Metering"])["ConsumedUnits"] == 2 + 1 + 3
    payload = response.get_json()
    assert payload["object"] == "list"
    assert [entry["object"] for entry in payload["data"]] == ["list", "embedding", "list"]
    assert payload["usage"]["prompt_tokens"] > 0


def test_record_options_apply_under_a_rows_own_parameters():
    settings = make_settings(handler="fake", log_level="WARNING", record_options={"dimensions": 8})
    client = create_app(settings, load_in_background=False).test_client()
    lines = lines_of(post(client, jina_rows(("a", ["x"], {}), ("b", ["x"], {"dimensions": 4}))))
    assert [len(line["data"][0]["embedding"]) for line in lines] == [8, 4]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (b'id,"not json","{}"', "line 1: expected one column (the text), found 3"),
        (b'id,"[""a""]","[1]"', "found 3; quote texts that contain commas (Jina's batch rows have three"),
        (b'id,"[]","{}"', "line 1:"),
        (b'id,"[""a""]","{""dimensions"": ""big""}"', "line 1: dimensions"),
        (b'id,"[""a""]","{""colour"": 1}"', "line 1:"),
        (b'id,"[""a""]","{""input"": ""b""}"', "line 1:"),
        (b'id,"[""a"", ""b"", ""c"", ""d"", ""e"", ""f""]","{}"', "line 1:"),  # over max_inputs (5)
        (b'ok\nid,"[""a""]","{}",extra', "line 2: expected one column (the text), found 4"),
    ],
)
def test_a_bad_jina_row_fails_the_request_naming_its_line(client, row, message):
    response = post(client, row)
    assert response.status_code == 400
    assert message in response.get_json()["error"]["message"], response.get_json()


def test_an_empty_parameters_column_means_no_parameters(client):
    [line] = lines_of(post(client, b'id7,"[""alpha""]",'))
    assert line["id"] == "id7"
    np.testing.assert_allclose(vectors(line), reference(client, ["alpha"]), rtol=1e-6)
