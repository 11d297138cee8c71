"""Vertex AI's container contract through the Flask app: routes from AIP_* settings (literal paths with a colon),
readiness on the health route, ``{"instances", "parameters"}`` -> ``{"predictions"}`` for an embedding model
(vectors equal the native API's) and a reranker (tiny cross-encoder), and native bodies on the predict route
(rawPredict)."""

from __future__ import annotations

import json
import threading

import pytest

from inference.api.app import ENGINE, create_app
from inference.handlers.fake import FakeEmbeddingHandler
from inference.settings import Settings
from tests.conftest import make_settings
from tests.tiny_rerankers import build_tiny_bert_reranker

HEALTH = "/v1/endpoints/123/deployedModels/456"
PREDICT = "/v1/endpoints/123/deployedModels/456:predict"
VERTEX = {"vertex_health_route": HEALTH, "vertex_predict_route": PREDICT}


def post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


@pytest.fixture(scope="module")
def client():
    settings = make_settings(handler="fake", log_level="WARNING", max_inputs=8, **VERTEX)
    return create_app(settings, load_in_background=False).test_client()


def test_aip_variables_name_port_and_routes(monkeypatch):
    for name, value in {"AIP_HTTP_PORT": "8085", "AIP_HEALTH_ROUTE": HEALTH, "AIP_PREDICT_ROUTE": PREDICT,
                        "EMB_PORT": "9000"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert (settings.port, settings.vertex_health_route, settings.vertex_predict_route) == (8085, HEALTH, PREDICT)
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", "8081")
    assert Settings().port == 8081  # SageMaker's variable first, then Vertex's, then the service's own


@pytest.fixture
def gated_vertex_app():
    gate = threading.Event()

    def loader(settings):
        gate.wait(10)
        return FakeEmbeddingHandler(settings)

    app = create_app(make_settings(handler="fake", log_level="WARNING", **VERTEX), loader)
    yield app, gate
    gate.set()


def test_health_route_is_readiness_and_predict_waits_for_the_model(gated_vertex_app):
    app, gate = gated_vertex_app
    client = app.test_client()
    first = client.get(HEALTH)
    assert first.status_code == 503 and first.get_json()["error"]["type"] == "model_not_ready"
    assert post(client, PREDICT, {"instances": ["a"]}).status_code == 503
    gate.set()
    app.extensions[ENGINE].wait_ready(10)
    ready = client.get(HEALTH)
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready"


def test_predictions_equal_native_vectors(client):
    instances = ["hello world", {"text": "bonjour"}, "hola"]
    native = post(client, "/v1/embeddings", {"input": ["hello world", "bonjour", "hola"], "dimensions": 16})
    reply = post(client, PREDICT, {"instances": instances, "parameters": {"dimensions": 16}})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    predictions = reply.get_json()["predictions"]
    assert list(reply.get_json()) == ["predictions"]
    assert predictions == [item["embedding"] for item in native.get_json()["data"]]
    assert all(len(vector) == 16 for vector in predictions)
    assert reply.headers["X-Amzn-Inference-Metering"].endswith("3}")


def test_parameters_are_honoured(client):
    plain = post(client, PREDICT, {"instances": ["a b"]}).get_json()["predictions"][0]
    raw = post(client, PREDICT, {"instances": ["a b"], "parameters": {"normalized": False}}).get_json()
    assert raw["predictions"][0] != plain
    encoded = post(client, PREDICT, {"instances": ["a b"], "parameters": {"embedding_type": "base64"}}).get_json()
    native = post(client, "/v1/embeddings", {"input": ["a b"], "embedding_type": "base64"}).get_json()
    assert encoded["predictions"] == [native["data"][0]["embedding"]] and isinstance(encoded["predictions"][0], str)
    both = post(client, PREDICT, {"instances": ["a b"], "parameters": {"embedding_type": ["float", "binary"]}})
    assert set(both.get_json()["predictions"][0]) == {"float", "binary"}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"instances": ["a"], "parameters": {"bogus": 1}}, "'bogus' in 'parameters'"),
        ({"instances": ["a"], "extra": 1}, "extra"),
        ({"instances": ["a"], "parameters": {"input": ["b"]}}, "'input' in 'parameters'"),
        ({"instances": ["a"], "parameters": []}, "parameters"),
        ({"instances": []}, "instances"),
        ({"instances": [{"txt": "a"}]}, None),
    ],
)
def test_bad_bodies_are_400_in_the_error_envelope(client, body, param):
    reply = post(client, PREDICT, body)
    assert reply.status_code == 400, reply.get_data(as_text=True)
    error = reply.get_json()["error"]
    assert error["type"] == "invalid_request_error"
    if param is not None:
        assert param in error["message"] + str(error.get("param"))


def test_native_bodies_pass_through_the_predict_route(client):
    """rawPredict: a body without ``instances`` is the native API, answered in its own shape."""
    reply = post(client, PREDICT, {"input": ["hello"], "dimensions": 8})
    assert reply.status_code == 200 and len(reply.get_json()["data"][0]["embedding"]) == 8
    tei = post(client, PREDICT, {"inputs": ["hello"]})
    assert tei.status_code == 200 and isinstance(tei.get_json()[0], list)


def test_routes_are_absent_without_the_variables():
    client = create_app(make_settings(handler="fake", log_level="WARNING"), load_in_background=False).test_client()
    assert post(client, PREDICT, {"instances": ["a"]}).status_code == 404


@pytest.fixture(scope="module")
def rerank_client(tmp_path_factory):
    folder = build_tiny_bert_reranker(tmp_path_factory.mktemp("rr"))
    settings = make_settings(model_dir=folder, handler="auto", device="cpu", log_level="WARNING", **VERTEX)
    return create_app(settings, load_in_background=False).test_client()


def test_rerank_instances_are_rerank_requests(rerank_client):
    first = {"query": "paris capital", "documents": ["paris is the capital of france", "the river", "hello"]}
    second = {"query": "search engine", "documents": ["vector query", "bonjour le monde"], "top_n": 1}
    reply = post(rerank_client, PREDICT, {"instances": [first, second], "parameters": {"return_documents": False}})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    predictions = reply.get_json()["predictions"]
    expected = [post(rerank_client, "/v1/rerank", {**body, "return_documents": False}).get_json()["results"]
                for body in (first, second)]  # fmt: skip
    assert predictions == expected and len(predictions[1]) == 1
    assert all("document" not in result for result in predictions[0])
    assert reply.headers["X-Amzn-Inference-Metering"].endswith("5}")


def test_rerank_bad_instances_and_native_body(rerank_client):
    assert post(rerank_client, PREDICT, {"instances": ["just text"]}).status_code == 400
    bogus = post(rerank_client, PREDICT, {"instances": [{"query": "q", "documents": ["d"], "bogus": 1}]})
    assert bogus.status_code == 400 and "bogus" in bogus.get_data(as_text=True)
    native = post(rerank_client, PREDICT, {"query": "q", "documents": ["d", "e"]})
    assert native.status_code == 200 and len(native.get_json()["results"]) == 2
