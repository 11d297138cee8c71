"""API keys and rate limits through the Flask app: every route of the route table either needs the key or is
one of the open routes (health probes, /metrics, /openapi.json); a keyed request answers exactly what the same
server without keys answers; limits per key or per client address with their headers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from inference.api.app import create_app
from inference.api.route_table import route_table
from tests.conftest import make_settings

KEY = "sk-test-0123456789abcdef"
BODY = {"input": ["hello world", "a second text"]}


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
        body = json.dumps(BODY) if route.method == "POST" else None
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


def test_tokens_per_minute_count_the_usage_reported() -> None:
    client = app_with(rate_limit_tpm=20).test_client()
    first = client.post("/v1/embeddings", json=BODY)
    used = first.json["usage"]["total_tokens"]
    assert first.status_code == 200 and int(first.headers["X-RateLimit-Remaining-Tokens"]) == 20 - used
    statuses = [client.post("/v1/embeddings", json=BODY).status_code for _ in range(20 // used + 1)]
    assert statuses == [200] * (statuses.index(429)) + [429] * (len(statuses) - statuses.index(429))
    assert statuses.index(429) + 1 == -(-20 // used)  # admitted while any token was left
    refused = client.post("/v1/embeddings", json=BODY)
    assert refused.status_code == 429 and "20 tokens per minute" in refused.json["error"]["message"]
    assert refused.headers["X-RateLimit-Remaining-Tokens"] == "0" and int(refused.headers["Retry-After"]) >= 1


def test_bad_requests_cost_a_request_but_no_tokens() -> None:
    client = app_with(rate_limit_rpm=5, rate_limit_tpm=1000).test_client()
    bad = client.post("/v1/embeddings", json={"input": []})
    assert bad.status_code == 400
    assert bad.headers["X-RateLimit-Remaining-Requests"] == "4"
    assert bad.headers["X-RateLimit-Remaining-Tokens"] == "1000"


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
