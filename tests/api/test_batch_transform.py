"""Batch Transform in the container: jsonlines / CSV records, Accept negotiation, metering (fake model)."""

import base64
import csv
import io
import json

import numpy as np
import pytest

from inference.api.app import ENGINE, create_app
from tests.conftest import make_settings

JSONL = "application/jsonlines"
CSV = "text/csv"
TEXTS = ["alpha beta", "gamma", "delta epsilon zeta", "eta", "theta iota", "kappa", "lambda mu", "nu"]


def post(client, body, content_type, accept=None, route="/invocations"):
    headers = {"Accept": accept} if accept else {}
    return client.post(route, data=body, content_type=content_type, headers=headers)


def jsonl(*values) -> bytes:
    return "\n".join(json.dumps(v) for v in values).encode()


def csv_body(texts) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([t] for t in texts)
    return out.getvalue().encode()


def lines_of(response) -> list[dict]:
    text = response.get_data(as_text=True)
    assert not text.endswith("\n"), "AssembleWith=Line adds the newline"
    return [json.loads(line) for line in text.split("\n")]


def reference(client, texts, **options) -> np.ndarray:
    body = client.post("/invocations", json={"input": list(texts), **options}).get_json()
    return np.array([d["embedding"] for d in body["data"]], dtype=np.float32)


def vectors(lines) -> np.ndarray:
    return np.array([line["embedding"] for line in lines], dtype=np.float32)


@pytest.mark.parametrize(("content_type", "body"), [(JSONL, jsonl(*TEXTS)), (CSV, csv_body(TEXTS))])
def test_multi_record_body_gives_one_line_per_record_in_order(client, content_type, body):
    response = post(client, body, content_type)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == JSONL
    lines = lines_of(response)
    assert [line["index"] for line in lines] == list(range(len(TEXTS)))  # 8 records > max_inputs=5: chunked
    want = np.concatenate([reference(client, TEXTS[:5]), reference(client, TEXTS[5:])])
    np.testing.assert_array_equal(vectors(lines), want)


@pytest.mark.parametrize(("content_type", "encode"), [(JSONL, jsonl), (CSV, lambda *t: csv_body(t))])
def test_single_record_requests_concatenate_to_the_multi_record_output(client, content_type, encode):
    multi = post(client, encode(*TEXTS), content_type).get_data(as_text=True).split("\n")
    single = [json.loads(post(client, encode(text), content_type).get_data()) for text in TEXTS]
    assert [json.loads(line)["embedding"] for line in multi] == [line["embedding"] for line in single]


def test_every_jsonlines_record_form_embeds_its_text(client):
    body = jsonl(
        "alpha beta",
        {"text": "alpha beta"},
        {"text": "alpha beta", "id": 17},
        {"input": "alpha beta"},
        {"input": ["alpha beta"]},
        {"input": [{"text": "alpha beta"}]},
        {"data": [{"text": "alpha beta"}]},
    )
    lines = lines_of(post(client, body, JSONL))
    np.testing.assert_array_equal(vectors(lines), np.repeat(reference(client, ["alpha beta"]), 7, axis=0))


def test_options_on_a_line_apply_to_that_line_only(client):
    body = jsonl(
        "alpha beta",
        {"input": "alpha beta", "dimensions": 8},
        {"text": "gamma", "embedding_type": "base64"},
        {"data": [{"text": "gamma"}], "parameters": {"task": "query"}},
        "gamma",
    )
    lines = lines_of(post(client, body, JSONL))
    assert [len(line["embedding"]) for line in (lines[0], lines[1], lines[3], lines[4])] == [32, 8, 32, 32]
    assert lines[1]["embedding"] == pytest.approx(reference(client, ["alpha beta"], dimensions=8)[0].tolist())
    decoded = np.frombuffer(base64.b64decode(lines[2]["embedding"]), "<f4")
    np.testing.assert_array_equal(decoded, np.array(lines[4]["embedding"], dtype=np.float32))
    np.testing.assert_array_equal(vectors(lines[3:4]), reference(client, ["gamma"], task="query"))


def test_csv_quoting_is_rfc4180(client):
    texts = ["a, with comma", 'say "hi"', "two\nlines", "  padded  ", "ünïcödé ✓"]
    lines = lines_of(post(client, csv_body(texts), CSV))
    np.testing.assert_array_equal(vectors(lines), reference(client, texts))


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"alpha beta\r\ngamma\r\n", CSV),
        (b"\xef\xbb\xbfalpha beta\ngamma\n\n\n", CSV),
        (b'"alpha beta"\r\n"gamma"\r\n', JSONL),
        (b'\xef\xbb\xbf"alpha beta"\n"gamma"\n\n', JSONL),
    ],
)
def test_crlf_bom_and_trailing_blank_lines_are_tolerated(client, body, content_type):
    lines = lines_of(post(client, body, content_type))
    np.testing.assert_array_equal(vectors(lines), reference(client, ["alpha beta", "gamma"]))


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b'"a"\n"b"\n{"text": \n"d"', JSONL, "line 3: not valid JSON"),
        (b'"a"\n\n"c"', JSONL, "line 2: the line is blank"),
        (b'"a"\n42', JSONL, "line 2: expected a JSON string or an object"),
        (b'"a"\n{"id": 1}', JSONL, "line 2: expected a JSON string or an object"),
        (b'"a"\n{"input": ["x", "y"]}', JSONL, "line 2: a record embeds one input, this one holds 2"),
        (b'"a"\n{"input": "x", "dimensions": "big"}', JSONL, "line 2: dimensions"),
        (b'"a"\n"   "', JSONL, "line 2: the text is empty"),
        (b"a\nb, c\nd", CSV, "line 2: expected one column (the text), found 2"),
        (b'a\n"unterminated\n', CSV, "malformed CSV"),
        (b"a\n\nc", CSV, "line 2: the line is blank"),
        (b'a\n""\nc', CSV, "line 2: the text is empty"),
        (b"\n\n", CSV, "no records"),
        (b"", JSONL, "no records"),
        (b'"a"\n"\xff"', JSONL, "not valid UTF-8"),
    ],
)
def test_a_bad_line_fails_the_request_with_its_line_number(client, body, content_type, message):
    response = post(client, body, content_type)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["type"] == "invalid_request_error" and message in error["message"], error
    assert "X-Amzn-Inference-Metering" not in response.headers


def test_model_errors_name_the_line_not_the_merged_input(client):
    body = jsonl("short", "short too", {"input": "w " * 100, "truncate": False})
    message = post(client, body, JSONL).get_json()["error"]["message"]
    assert message.startswith("line 3: the record has 102 tokens"), message
    body = jsonl("short", {"input": "x", "dimensions": 999})
    assert post(client, body, JSONL).get_json()["error"]["message"].startswith("line 2: dimensions=999 exceeds")


@pytest.mark.parametrize(
    ("content_type", "accept", "expected"),
    [
        (JSONL, None, JSONL),
        (JSONL, "*/*", JSONL),
        (JSONL, "application/json", "application/json"),
        (CSV, "application/jsonlines", JSONL),
        (CSV, "application/json;q=0.5, application/jsonlines", JSONL),
        ("application/json", None, "application/json"),
        ("application/json", "application/jsonlines", JSONL),
    ],
)
def test_accept_negotiation(client, content_type, accept, expected):
    body = json.dumps({"input": ["alpha beta", "gamma"]}).encode() if content_type == "application/json" else None
    body = body or (csv_body(["alpha beta", "gamma"]) if content_type == CSV else jsonl("alpha beta", "gamma"))
    response = post(client, body, content_type, accept)
    assert response.status_code == 200 and response.mimetype == expected
    if expected == JSONL:
        lines = lines_of(response)
    else:
        payload = response.get_json()
        assert payload["object"] == "list" and payload["usage"]["prompt_tokens"] == 4 + 3
        lines = payload["data"]
    assert [line["index"] for line in lines] == [0, 1]
    np.testing.assert_array_equal(vectors(lines), reference(client, ["alpha beta", "gamma"]))


@pytest.mark.parametrize("accept", ["text/csv", "application/x-recordio-protobuf", "application/jsonlines;q=0"])
def test_undeclared_response_types_are_406(client, accept):
    assert post(client, jsonl("a"), JSONL, accept).status_code == 406


@pytest.mark.parametrize("content_type", ["application/x-jsonlines", "application/x-npy", "text/plain"])
def test_undeclared_content_types_are_415(client, content_type):
    assert post(client, jsonl("a"), content_type).status_code == 415


@pytest.mark.parametrize(
    ("body", "content_type", "units"),
    [
        (jsonl(*TEXTS), JSONL, len(TEXTS)),
        (csv_body(TEXTS[:3]), CSV, 3),
        (json.dumps({"input": TEXTS[:4]}).encode(), "application/json", 4),
        (json.dumps({"input": "one"}).encode(), "application/json", 1),
    ],
)
def test_metering_header_counts_inputs(client, body, content_type, units):
    response = post(client, body, content_type)
    assert json.loads(response.headers["X-Amzn-Inference-Metering"]) == {
        "Dimension": "inference.count",
        "ConsumedUnits": units,
    }


@pytest.mark.parametrize("route", ["/v1/embeddings", "/score", "/endpoints/any/invocations"])
def test_record_bodies_work_on_every_embedding_route(client, route):
    assert len(lines_of(post(client, jsonl("a", "b"), JSONL, route=route))) == 2


def test_record_body_over_the_size_limit_is_413(client):
    response = post(client, jsonl(*(["x" * 100] * 200)), JSONL)  # ~20 kB > 0.01 MiB
    assert response.status_code == 413 and response.get_json()["error"]["type"] == "payload_too_large"


def test_record_options_from_the_environment_apply_to_records_without_options():
    settings = make_settings(handler="fake", log_level="WARNING", record_options={"dimensions": 8, "task": "query"})
    client = create_app(settings, load_in_background=False).test_client()
    lines = lines_of(post(client, jsonl("alpha beta", {"text": "gamma", "dimensions": 4}, {"input": "nu"}), JSONL))
    assert [len(line["embedding"]) for line in lines] == [8, 4, 8]
    assert lines[0]["embedding"] == pytest.approx(
        reference(client, ["alpha beta"], dimensions=8, task="query")[0].tolist()
    )
    json_body = client.post("/invocations", json={"input": "alpha beta"}).get_json()  # JSON requests: untouched
    assert len(json_body["data"][0]["embedding"]) == 32


@pytest.mark.parametrize("options", [{"dimensions": "x"}, {"input": "x"}, {"embedding_type": "int4"}])
def test_invalid_record_options_fail_at_startup(options):
    with pytest.raises(ValueError, match="EMB_RECORD_OPTIONS"):
        create_app(make_settings(handler="fake", log_level="WARNING", record_options=options), load_in_background=False)


def test_execution_parameters_follow_sagemaker_max_payload(monkeypatch):
    from inference.settings import Settings

    monkeypatch.setenv("SAGEMAKER_MAX_PAYLOAD_IN_MB", "20")
    monkeypatch.delenv("EMB_MAX_BODY_MB", raising=False)
    settings = Settings().model_copy(update={"handler": "fake", "log_level": "WARNING"})
    app = create_app(settings, load_in_background=False)
    app.extensions[ENGINE].budget.calibrate(10**9, 1.0)  # a worker fast enough that the deadline is no limit
    params = app.test_client().get("/execution-parameters").get_json()
    assert params["MaxPayloadInMB"] == 20 and params["BatchStrategy"] == "MULTI_RECORD"
    assert app.config["MAX_CONTENT_LENGTH"] == 20 * 1024 * 1024


@pytest.mark.parametrize(("tokens_per_s", "expected"), [(100_000, 8), (10_000, 1), (10**9, 20)])
def test_max_payload_fits_the_deadline(tokens_per_s, expected):
    """MaxPayloadInMB = what the worker embeds in half the 45 s deadline at 4 bytes a token, within the body
    limit, at least 1: 100k tokens/s x 22.5 s x 4 B = 8.6 MiB -> 8; 10k tokens/s: 0.86 MiB -> SageMaker's floor 1."""
    app = create_app(make_settings(handler="fake", log_level="WARNING", max_body_mb=20.0), load_in_background=False)
    app.extensions[ENGINE].budget.calibrate(tokens_per_s, 1.0)
    assert app.test_client().get("/execution-parameters").get_json()["MaxPayloadInMB"] == expected
