"""Property-based fuzzing of the embeddings endpoints, in process (Flask test client).

Every response must be a 4xx JSON error matching the published ``Error`` schema or a correct 200 (schema,
and each input's vector equal to its single-input result), and the app must stay healthy afterwards. The
hostile-text properties (``target``) run on the fake model and on the real all-MiniLM-L6-v2, whose tokenizer
the text actually reaches: there a 200 must carry one finite, unit-norm 384-dimensional vector per input and
a token usage, and an error must say what is wrong.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ, MAX_BODY_MB, MAX_INPUTS
from tests.fuzz.oracle import (
    as_request,
    check_against_singles,
    check_embeddings,
    check_error_is_meaningful,
    check_refusal,
    refusals_for,
    schema_body_refusals,
)
from tests.fuzz.strategies import (
    ACCEPTS,
    CONTENT_TYPES,
    HOSTILE_TEXTS,
    HUGE_NUMBERS,
    encode_json,
    from_schema,
    json_values,
    mutated,
    shaped_bodies,
    text_strategy,
)

MAX_BODY_BYTES = int(MAX_BODY_MB * 1024 * 1024)
ROUTES = ["/invocations", "/v1/embeddings", "/embeddings", "/score", "/endpoints/any-name/invocations"]


def post(client, body: bytes, content_type: str | None = "application/json", accept: str | None = None,
         path: str = "/invocations"):
    headers = {}
    if accept is not None:
        headers["Accept"] = accept
    return client.post(path, data=body, content_type=content_type, headers=headers)


def embed_one(client, oracle):
    def run(body):
        response = post(client, json.dumps(body).encode())
        assert response.status_code == 200, response.data
        return oracle.check(200, response.content_type, response.data, body)

    return run


@pytest.fixture(autouse=True, scope="module")
def healthy_afterwards(fuzz_client):
    yield
    assert fuzz_client.get("/ping").status_code == 200
    response = fuzz_client.post("/invocations", json={"input": ["still serving"]})
    assert response.status_code == 200 and len(response.get_json()["data"]) == 1


def check_reply(target, oracle, response, body):
    """The shared oracle: a 4xx JSON error that says what is wrong, or a 200 with real embeddings."""
    payload = oracle.check(response.status_code, response.content_type, response.data, body)
    if response.status_code == 200:
        check_embeddings(body, payload, target.info)
    else:
        check_error_is_meaningful(payload["error"])
    return payload


def test_bodies_from_the_published_schema(target, spec, oracle):
    """Schema-shaped requests: 200 with real vectors, each equal to its single-input result, or a 4xx error."""
    schema = spec["paths"]["/invocations"]["post"]["requestBody"]["content"]["application/json"]["schema"]

    @target.fuzz
    @given(body=from_schema(schema, spec), ensure_ascii=st.booleans(), path=st.sampled_from(ROUTES))
    @example(body={"input": ["a b", {"text": "c"}], "embedding_type": ["float", "base64", "binary", "ubinary"]},
             ensure_ascii=True, path="/invocations")
    @example(body={"data": [{"text": "x y"}], "parameters": {"dimensions": 4}}, ensure_ascii=False, path="/score")
    def run(body, ensure_ascii, path):
        raw = encode_json(body, ensure_ascii)
        response = post(target.client, raw, path=path)
        payload = check_reply(target, oracle, response, body)
        refusals = schema_body_refusals(body, target.info, len(raw), MAX_BODY_BYTES, MAX_INPUTS)
        if refusals is not None:  # a text request: a 200 unless one of its possible faults is named
            check_refusal(response.status_code, payload, refusals)
        if response.status_code == 200:
            check_against_singles(as_request(body), payload, embed_one(target.client, oracle))

    run()


def test_any_json_shape(target, oracle):
    @target.fuzz
    @given(body=shaped_bodies(), ensure_ascii=st.booleans())
    def run(body, ensure_ascii):
        check_reply(target, oracle, post(target.client, encode_json(body, ensure_ascii)), body)

    run()


def test_unicode_edge_cases_and_huge_numbers(target, oracle):
    """Hostile text and huge numbers: a 200 with real vectors exactly when nothing in the request is wrong, else
    a 400 that names one thing that is (an empty or too long input, a lone surrogate, a bad option)."""

    @target.fuzz
    @given(texts=st.lists(text_strategy(200, surrogates=True), min_size=1, max_size=4), truncate=st.booleans(),
           options=st.fixed_dictionaries({}, optional={"dimensions": st.sampled_from(HUGE_NUMBERS),
                                                       "task": text_strategy(), "late_chunking": st.booleans()}))
    @example(texts=HOSTILE_TEXTS[:4], truncate=True, options={})
    @example(texts=["\ud800"], truncate=True, options={})
    @example(texts=["x" * 100_000, "🙂" * 5000], truncate=False, options={})
    @example(texts=["word " * 20_000, "e\u0301" * 300], truncate=True, options={})
    @example(texts=["word " * 20_000], truncate=False, options={})
    def run(texts, truncate, options):
        body = {"input": texts, "truncate": truncate, **options}
        for ensure_ascii in (True, False):
            raw = encode_json(body, ensure_ascii)
            response = post(target.client, raw)
            payload = check_reply(target, oracle, response, body)
            check_refusal(response.status_code, payload, refusals_for(body, target.info, len(raw), MAX_BODY_BYTES))
            if response.status_code == 200:
                check_against_singles(body, payload, embed_one(target.client, oracle))

    run()


@FUZZ
@given(data=st.data())
def test_mutated_and_truncated_bodies(fuzz_client, oracle, data):
    valid = data.draw(st.sampled_from([
        {"input": ["hello world", "second input"], "dimensions": 8},
        {"data": [{"text": "a"}], "parameters": {"embedding_type": ["ubinary"]}},
        {"input": "one", "encoding_format": "base64"},
    ]))
    body = data.draw(mutated(json.dumps(valid).encode()))
    response = post(fuzz_client, body)
    oracle.check(response.status_code, response.content_type, response.data, body)


@FUZZ
@given(content_type=st.one_of(st.sampled_from(CONTENT_TYPES), st.text(max_size=30)),
       accept=st.one_of(st.sampled_from(ACCEPTS), st.text(max_size=30)),
       body=st.one_of(st.just(b'{"input": "x"}'), st.just(b'"x"\n{"text": "y"}'), st.just(b"a,b\nc"),
                      st.binary(max_size=64), json_values().map(lambda v: encode_json(v, True))))
def test_content_types_and_accept_headers(fuzz_client, oracle, content_type, accept, body):
    try:
        response = post(fuzz_client, body, content_type=content_type, accept=accept)
    except ValueError:  # the test client refuses header values with newlines before sending anything
        return
    oracle.check(response.status_code, response.content_type, response.data, (content_type, accept, body))


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 400),
        (b"[" * 5000 + b"]" * 5000, 400),  # nesting deeper than the JSON parser's limit
        (b'{"input": "x", "dimensions": 1e400}', 400),
        (b'{"input": "x", "dimensions": NaN}', 400),
        (b'{"input": "x", "dimensions": 123456789012345678901234567890}', 400),
        (b'{"input": "x", "dimensions": 9223372036854775807}', 400),
        (b'{"input": "\\ud800"}', 400),
        (b'{"input": "\xed\xa0\x80"}', 400),
        (b'{"input": ["x"], "input": "y"}', 200),
        (b'\xef\xbb\xbf{"input": "bom"}', 400),
        (b'{"input": [' + b'"w",' * 8 + b'"w"]}', 400),  # more than max_inputs
        (b'{"input": "' + b"a" * 1_100_000 + b'"}', 413),
    ],
)
def test_known_hostile_bodies(fuzz_client, oracle, body, status):
    response = post(fuzz_client, body)
    assert response.status_code == status, response.data[:300]
    oracle.check(response.status_code, response.content_type, response.data, body[:80])


@FUZZ
@given(method=st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "OPTIONS"]),
       path=st.one_of(st.sampled_from([*ROUTES, "/ping", "/openapi.json", "/nope", "/invocations/", "/v1//embeddings"]),
                      st.text(st.characters(codec="ascii", exclude_characters="?#/"), max_size=20).map("/{}".format)))
def test_methods_and_paths(fuzz_client, oracle, method, path):
    """Raw paths (``//host``-like ones, which the test client would read as a URL) run against the real server."""
    response = fuzz_client.open(path, method=method)
    if response.status_code == 200:  # a GET route, or OPTIONS
        return
    oracle.check(response.status_code, response.content_type, response.data, (method, path))


@pytest.mark.parametrize("path", ["/v1//embeddings", "/invocations//", "/invocations/", "/ping/"])
def test_no_redirect_built_from_the_host_header(fuzz_client, oracle, path):
    """Found by fuzzing: "//" in a path got an HTML 308 whose Location came from the Host header."""
    response = fuzz_client.post(path, json={"input": "x"}, headers={"Host": "evil.example"})
    assert response.status_code == 404 and "Location" not in response.headers
    oracle.check(response.status_code, response.content_type, response.data, path)
