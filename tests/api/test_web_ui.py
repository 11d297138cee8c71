"""The web pages (EMB_PLAYGROUND) and GET /info through the Flask app: served from the package under a strict
CSP, a fixed list of files (nothing else of the file system), off by default where only the platform's routes are
reachable; the real browser tests are tests/browser/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from inference.api.app import create_app
from inference.api.web_ui import ASSETS, CSP
from tests.conftest import make_settings

PAGES = ("/", "/docs")


def client(**settings: object):
    return create_app(make_settings(handler="fake", log_level="WARNING", **settings),
                      load_in_background=False).test_client()  # fmt: skip


def test_pages_and_files_are_served_with_the_security_headers() -> None:
    web = client()
    for path in [*PAGES, *(f"/ui/{name}" for name in ASSETS)]:
        reply = web.get(path)
        assert reply.status_code == 200 and reply.data, path
        assert reply.headers["Content-Security-Policy"] == CSP
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert reply.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self';" in CSP and "unsafe" not in CSP and "default-src 'none'" in CSP
    assert web.get("/").headers["Content-Type"] == "text/html; charset=utf-8"
    assert web.get("/ui/docs.js").headers["Content-Type"].startswith("text/javascript")


def test_a_cached_file_is_answered_304() -> None:
    web = client()
    etag = web.get("/ui/swagger-ui.css").headers["ETag"]
    assert web.get("/ui/swagger-ui.css", headers={"If-None-Match": etag}).status_code == 304


@pytest.mark.parametrize("name", ["../settings.py", "..%2Fsettings.py", "playground.html", "swagger-editor.js",
                                  "LICENSE", "%2e%2e/%2e%2e/etc/passwd", ""])  # fmt: skip
def test_only_the_listed_files(name: str) -> None:
    reply = client().get(f"/ui/{name}")
    assert reply.status_code == 404 and reply.json["error"]["type"] == "not_found"


def test_the_pages_load_nothing_from_another_host() -> None:
    static = Path(__file__).resolve().parents[2] / "inference" / "api" / "static"
    for page in static.iterdir():
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), page.name
        assert "<script>" not in text and " style=" not in text, page.name  # nothing inline: the CSP forbids it


def test_the_playground_calls_only_routes_the_server_has() -> None:
    """Every path the playground's script requests (GET /info, POST the rest) is a route of the app: a renamed or
    removed route fails here, not only in the browser tests (tests/browser/)."""
    script = (Path(__file__).resolve().parents[2] / "inference" / "api" / "static" / "playground.js").read_text()
    paths = set(re.findall(r'"(/[a-z0-9/.-]+)"', script))
    assert paths == {"/info", "/v1/embeddings", "/v1/rerank", "/v1/multi-vector", "/v1/classify", "/tokenize",
                     "/decode", "/v1/segment"}  # fmt: skip
    app = create_app(make_settings(handler="fake", log_level="WARNING"), load_in_background=False)
    methods = {rule.rule: rule.methods or set() for rule in app.url_map.iter_rules()}
    for path in paths:
        assert ("GET" if path == "/info" else "POST") in methods.get(path, set()), path


@pytest.mark.parametrize(("settings", "on"), [
    ({}, True),
    ({"playground": "off"}, False),
    ({"vertex_predict_route": "/v1/endpoints/1/deployedModels/2:predict", "vertex_health_route": "/h"}, False),
    ({"azureml_model_dir": Path("/var/azureml-app/azureml-models")}, False),
    ({"azureml_model_dir": Path("/var/azureml-app/azureml-models"), "playground": "on"}, True),
])  # fmt: skip
def test_on_by_default_off_on_azure_and_vertex(settings: dict[str, object], on: bool) -> None:
    web = client(**settings)
    assert [web.get(path).status_code for path in (*PAGES, "/ui/playground.js")] == [200 if on else 404] * 3
    assert web.get("/info").status_code == 200  # the API's own route, either way


def test_info_describes_the_served_model() -> None:
    info = client(max_inputs=7).get("/info").json
    assert info.pop("models") == [{key: value for key, value in info.items()}]  # one model: itself
    assert info == {"model": "fake", "kind": "embed", "dimensions": 32, "max_length": 64,
                    "tasks": ["query", "passage"], "modalities": ["text"], "late_chunking": True, "pooling": "mean",
                    "device": "cpu", "dtype": "float32", "backend": "torch", "embedding_types": ["float", "base64",
                    "binary", "ubinary", "int8", "uint8"], "max_inputs": 7, "max_documents": 1024,
                    "api_key_required": False, "dimension_options": [32], "query_length": None,
                    "labels": []}  # fmt: skip
    assert client().get("/v1/embeddings", json={"input": "x"}).status_code == 405


def test_info_is_503_until_the_model_is_loaded(gated_app) -> None:
    app, gate = gated_app
    reply = app.test_client().get("/info")
    assert reply.status_code == 503 and reply.json["error"]["type"] == "model_not_ready"
    gate.set()
