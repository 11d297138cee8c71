"""API keys and rate limits through the Flask app: every route of the route table either needs the key or is
one of the open routes (health probes, /metrics, /openapi.json); a keyed request answers exactly what the same
server without keys answers; limits per key or per client address with their headers."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from pydantic import SecretStr

from inference.api.app import create_app
from inference.api.request_context import CANCELLED
from inference.api.route_table import route_table
from tests.conftest import make_settings

KEY = "sk-test-0123456789abcdef"
BODY = {"input": ["hello world", "a second text"]}
# Routes whose bodies are not an embeddings body: the tokenizer routes (TEI's /tokenize and /decode, the segmenter).
ROUTE_BODIES = {"/tokenize": {"inputs": "hello world"}, "/decode": {"ids": [1, 2]},
                "/v1/segment": {"content": "hello world"}, "/segment": {"content": "hello world"},
                "/v1/classify": {"input": ["hello world"], "labels": ["greeting", "question"]},  # zero-shot
                "/v2/embed": {"texts": ["hello world"], "input_type": "search_document"},
                "/v2/rerank": {"query": "hello", "documents": ["hello world"]},
                "/embed_sparse": {"inputs": "hello world"}}  # fmt: skip


def app_with(**settings: object):
    return create_app(make_settings(handler="fake", log_level="WARNING", **settings), load_in_background=False)


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def concrete(path: str) -> str:
    return path.replace("<name>", "my-endpoint")


def test_every_route_needs_the_key_except_the_open_ones() -> None:
    settings = {"api_key": SecretStr(KEY), "vertex_health_route": "/vh", "vertex_predict_route": "/v1/x:predict"}
    client = app_with(**settings).test_client()
    routes = route_table(make_settings(**settings))
    opened = {route.path for route in routes if route.open}
    assert opened == {"/ping", "/health/ready", "/health/live", "/vh", "/metrics", "/openapi.json", "/info"}
    for route in routes:
        body = json.dumps(ROUTE_BODIES.get(route.path, BODY)) if route.method == "POST" else None
        bare = client.open(concrete(route.path), method=route.method, data=body, content_type="application/json")
        keyed = client.open(concrete(route.path), method=route.method, data=body, content_type="application/json",
                            headers=auth())  # fmt: skip
        if route.open:
            assert bare.status_code == 200 and "WWW-Authenticate" not in bare.headers, route.path
        else:
            assert bare.status_code == 401, route.path
            assert bare.json["error"]["type"] == "authentication_error"
            assert bare.headers["WWW-Authenticate"] == 'Bearer realm="embeddings"'
            assert bare.headers["Content-Type"] == "application/json"
            # past the key: answered (a rerank route, to this embedding model, says so)
            assert keyed.status_code == 200 or keyed.json["error"]["type"] == "wrong_model_kind", route.path


def test_a_keyed_answer_is_the_unkeyed_servers_answer() -> None:
    keyed = app_with(api_key=SecretStr(KEY)).test_client().post("/v1/embeddings", json=BODY, headers=auth())
    open_ = app_with().test_client().post("/v1/embeddings", json=BODY)
    assert keyed.status_code == open_.status_code == 200
    assert keyed.json == open_.json
    wrong = app_with(api_key=SecretStr(KEY)).test_client().post("/v1/embeddings", json=BODY, headers=auth("sk-no"))
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]


def test_unknown_paths_stay_404_with_keys_on() -> None:
    client = app_with(api_key=SecretStr(KEY)).test_client()
    assert client.get("/nope").status_code == 404
    assert client.get("/v1/embeddings").status_code == 405


def test_several_keys_from_a_file_and_each_their_own_limit(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [{"name": "one", "key": "sk-one-111111", "rpm": 1},
                                         {"name": "two", "key": "sk-two-222222"}]}))  # fmt: skip
    client = app_with(api_keys_file=path, rate_limit_rpm=2).test_client()
    assert client.post("/v1/embeddings", json=BODY, headers=auth("sk-one-111111")).status_code == 200
    limited = client.post("/v1/embeddings", json=BODY, headers=auth("sk-one-111111"))
    assert limited.status_code == 429 and limited.json["error"]["type"] == "rate_limit_exceeded"
    assert limited.headers["Retry-After"] == "60" and limited.headers["X-RateLimit-Limit-Requests"] == "1"
    for remaining in ("1", "0"):  # key two: the server's default, 2 per minute
        ok = client.post("/v1/embeddings", json=BODY, headers=auth("sk-two-222222"))
        assert ok.status_code == 200 and ok.headers["X-RateLimit-Remaining-Requests"] == remaining
    assert client.post("/v1/embeddings", json=BODY, headers=auth("sk-two-222222")).status_code == 429
    assert client.post("/v1/embeddings", json=BODY, headers=auth("sk-three")).status_code == 401
    assert client.get("/ping").status_code == 200  # probes are neither keyed nor limited
    assert client.get("/v1/models", headers=auth("sk-one-111111")).status_code == 200  # only model work is limited


def test_without_keys_limits_apply_per_client_address() -> None:
    client = app_with(rate_limit_rpm=2).test_client()
    here = {"REMOTE_ADDR": "10.1.1.1"}
    statuses = [client.post("/v1/embeddings", json=BODY, environ_base=here).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert client.post("/v1/embeddings", json=BODY, environ_base={"REMOTE_ADDR": "10.1.1.2"}).status_code == 200


def test_tokens_per_minute_reserve_the_estimate_and_charge_the_usage() -> None:
    """BODY has 5 words: 5 tokens reserved before it runs; the fake model uses 9 (2 special tokens per text)."""
    client = app_with(rate_limit_tpm=20).test_client()
    first = client.post("/v1/embeddings", json=BODY)
    assert first.status_code == 200 and first.json["usage"]["total_tokens"] == 9
    assert first.headers["X-RateLimit-Remaining-Tokens"] == "11"  # charged the usage, not the estimate
    second = client.post("/v1/embeddings", json=BODY)  # 11 left cover the estimate
    assert second.status_code == 200 and second.headers["X-RateLimit-Remaining-Tokens"] == "2"
    refused = client.post("/v1/embeddings", json=BODY)  # 2 left: a token is left, but not the 5 it needs
    assert refused.status_code == 429 and "20 tokens per minute" in refused.json["error"]["message"]
    assert "this request needs 5 tokens" in refused.json["error"]["message"]
    assert refused.headers["X-RateLimit-Remaining-Tokens"] == "2"
    assert int(refused.headers["Retry-After"]) in (8, 9)  # 3 tokens at 1 per 3 s (less what refilled meanwhile)
    small = client.post("/v1/embeddings", json={"input": "hi"})  # 1 word: covered
    assert small.status_code == 200 and small.headers["X-RateLimit-Remaining-Tokens"] == "0"  # 2 - 3: owed


def test_bad_requests_cost_a_request_but_no_tokens() -> None:
    client = app_with(rate_limit_rpm=5, rate_limit_tpm=1000).test_client()
    bad = client.post("/v1/embeddings", json={"input": []})
    assert bad.status_code == 400
    assert bad.headers["X-RateLimit-Remaining-Requests"] == "4"
    assert bad.headers["X-RateLimit-Remaining-Tokens"] == "1000"


def test_work_that_fails_after_admission_keeps_its_reservation() -> None:
    """Admitted work that fails (a 4xx the model found, a 499 or 5xx) costs its request and its reservation: late
    failures are not free."""
    client = app_with(rate_limit_rpm=5, rate_limit_tpm=1000).test_client()
    too_wide = client.post("/v1/embeddings", json={"input": "one two three", "dimensions": 100_000})
    assert too_wide.status_code == 400 and too_wide.json["error"]["param"] == "dimensions"
    assert too_wide.headers["X-RateLimit-Remaining-Tokens"] == "997"  # the 3 words reserved
    gone = threading.Event()
    gone.set()  # the client closed its connection: the queued work is dropped
    dropped = client.post("/v1/embeddings", json={"input": "four five six seven"}, environ_base={CANCELLED: gone})
    assert dropped.status_code == 499
    assert dropped.headers["X-RateLimit-Remaining-Tokens"] == "993"
    assert dropped.headers["X-RateLimit-Remaining-Requests"] == "3"


def test_a_refused_request_costs_nothing() -> None:
    client = app_with(rate_limit_rpm=100, rate_limit_tpm=10).test_client()
    assert client.post("/v1/embeddings", json={"input": " ".join(["word"] * 8)}).status_code == 200  # 10 used
    refused = client.post("/v1/embeddings", json=BODY)
    assert refused.status_code == 429 and refused.headers["X-RateLimit-Remaining-Requests"] == "99"


def test_a_record_body_counts_one_request_per_record() -> None:
    client = app_with(rate_limit_rpm=4).test_client()
    lines = b'"first text"\n{"text": "second"}\n{"id": "x", "input": "third one"}\n'
    ok = client.post("/invocations", data=lines, content_type="application/jsonlines")
    assert ok.status_code == 200 and len(ok.get_data().splitlines()) == 3
    assert ok.headers["X-RateLimit-Remaining-Requests"] == "1"
    refused = client.post("/invocations", data=lines, content_type="application/jsonlines")
    assert refused.status_code == 429 and "this request needs 3 requests" in refused.json["error"]["message"]
    assert int(refused.headers["Retry-After"]) in (29, 30)  # 2 requests more at one per 15 s
    assert client.post("/v1/embeddings", json=BODY).status_code == 200  # one JSON body is one request


@pytest.mark.parametrize("route", ["/v1/rerank", "/invocations"])
def test_rerank_routes_are_keyed_too(route: str) -> None:
    client = create_app(make_settings(handler="fake", log_level="WARNING", api_key=SecretStr(KEY)),
                        load_in_background=False).test_client()  # fmt: skip
    assert client.post(route, json={"query": "q", "documents": ["a"]}).status_code == 401


def test_the_web_pages_are_open_and_the_document_declares_the_bearer_scheme() -> None:
    client = app_with(api_key=SecretStr(KEY), playground="on").test_client()
    for path in ("/", "/docs", "/ui/playground.js", "/ui/swagger-ui-bundle.js", "/info"):
        assert client.get(path).status_code == 200, path
    assert client.get("/info").json["api_key_required"] is True
    spec = client.get("/openapi.json").json
    assert spec["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    assert spec["paths"]["/v1/embeddings"]["post"]["security"] == [{"bearer": []}]
    assert "401" in spec["paths"]["/v1/embeddings"]["post"]["responses"]
    assert "security" not in spec["paths"]["/ping"]["get"]
