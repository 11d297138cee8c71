"""Several models in one server (MODEL_DIR holding model folders, or a models.json manifest): every route serves
the models of its kind and picks one by the request's ``model`` (or ``X-Model``), each answer equal to the
single-model server's; an unknown name is a 404 naming the served ones; one model's full queue never refuses
another's requests."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from inference.api.app import ENGINE, create_app
from inference.core.memory_plan import DeviceShare, current_share
from inference.handlers import load_handler
from inference.model_dir import embedded_model_dir
from inference.model_set import ModelSetError, served_models, weight_bytes
from tests.conftest import make_settings
from tests.tiny_rerankers import build_tiny_bert_reranker

TEXTS = ["hello world", "a longer sentence about search engines and their vectors"]
QUERY, DOCS = "paris capital", ["paris is the capital of france", "the river", "bonjour"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("model-set")
    (root / "embedder").symlink_to(embedded_model_dir(), target_is_directory=True)
    build_tiny_bert_reranker(root / "reranker")
    return root


def _client(**overrides):
    settings = make_settings(handler="auto", device="cpu", log_level="WARNING", **overrides)
    return create_app(settings, load_in_background=False).test_client()


@pytest.fixture(scope="module")
def both(root):
    return _client(model_dir=root)


@pytest.fixture(scope="module")
def singles(root):
    return {name: _client(model_dir=root / name) for name in ("embedder", "reranker")}


def post(client, path, body, **headers):
    return client.post(path, data=json.dumps(body), content_type="application/json", headers=headers)


def _vectors(reply):
    assert reply.status_code == 200, reply.get_data(as_text=True)
    return np.array([d["embedding"] for d in reply.get_json()["data"]])


def _scores(reply):
    assert reply.status_code == 200, reply.get_data(as_text=True)
    return {r["index"]: r["relevance_score"] for r in reply.get_json()["results"]}


def test_the_folders_are_the_served_models(root, both):
    assert [m.name for m in served_models(make_settings(model_dir=root))] == ["embedder", "reranker"]
    listed = both.get("/v1/models").get_json()["data"]
    assert [(m["id"], m["kind"]) for m in listed] == [("embedder", "embed"), ("reranker", "rerank")]
    assert [m["model"] for m in both.get("/info").get_json()["models"]] == ["embedder", "reranker"]
    assert both.get("/ping").status_code == 200


@pytest.mark.parametrize("model", [None, "embedder"])
def test_embeddings_equal_the_single_model_server(both, singles, model):
    body = {"input": TEXTS, **({"model": model} if model else {})}
    expected = _vectors(post(singles["embedder"], "/v1/embeddings", {"input": TEXTS}))
    np.testing.assert_allclose(_vectors(post(both, "/v1/embeddings", body)), expected, atol=1e-6)
    np.testing.assert_allclose(_vectors(post(both, "/invocations", body)), expected, atol=1e-6)


@pytest.mark.parametrize("path", ["/v1/rerank", "/invocations", "/v2/rerank"])
def test_rerank_equals_the_single_model_server(both, singles, path):
    expected = _scores(post(singles["reranker"], "/v1/rerank", {"query": QUERY, "documents": DOCS}))
    got = _scores(post(both, path, {"model": "reranker", "query": QUERY, "documents": DOCS}))
    assert got == pytest.approx(expected, abs=1e-6)
    unnamed = _scores(post(both, "/v1/rerank" if path == "/v2/rerank" else path, {"query": QUERY, "documents": DOCS}))
    assert unnamed == pytest.approx(expected, abs=1e-6)


def test_a_header_names_the_model_of_a_body_without_one(both, singles):
    expected = singles["reranker"].post("/rerank", json={"query": QUERY, "texts": DOCS}).get_json()
    reply = both.post("/rerank", json={"query": QUERY, "texts": DOCS}, headers={"X-Model": "reranker"})
    assert reply.get_json() == expected


def test_tokenizer_routes_use_the_named_models_tokenizer(both, singles):
    for name in ("embedder", "reranker"):
        expected = singles[name].post("/tokenize", json={"inputs": "hello world"}).get_json()
        assert both.post("/tokenize", json={"inputs": "hello world"}, headers={"X-Model": name}).get_json() == expected
    assert both.post("/v1/segment", json={"content": "One. Two."}).status_code == 200


def test_unknown_and_wrong_kind_models(both):
    reply = post(both, "/v1/embeddings", {"input": TEXTS, "model": "nope"})
    assert reply.status_code == 404
    message = reply.get_json()["error"]["message"]
    assert "'nope'" in message and "embedder (embed)" in message and "reranker (rerank)" in message
    reply = post(both, "/v1/embeddings", {"input": TEXTS, "model": "reranker"})
    assert reply.status_code == 400 and "reranker" in reply.get_json()["error"]["message"]


def test_a_manifest_names_and_orders_the_models(root, tmp_path):
    (tmp_path / "a").symlink_to(root / "reranker", target_is_directory=True)
    (tmp_path / "b").symlink_to(root / "embedder", target_is_directory=True)
    (tmp_path / "models.json").write_text(json.dumps({"models": [{"name": "my-reranker", "path": "a"},
                                                                  {"name": "my-embedder", "path": "b"}]}))
    assert [(m.name, m.folder.name) for m in served_models(make_settings(model_dir=tmp_path))] == [
        ("my-reranker", "a"), ("my-embedder", "b")]
    client = _client(model_dir=tmp_path)
    assert [m["id"] for m in client.get("/v1/models").get_json()["data"]] == ["my-reranker", "my-embedder"]
    (tmp_path / "models.json").write_text(json.dumps({"models": [{"name": "x", "path": "missing"}]}))
    with pytest.raises(ModelSetError, match="'x' path 'missing' is not a model folder"):
        served_models(make_settings(model_dir=tmp_path))
    (tmp_path / "models.json").write_text(json.dumps({"models": [{"name": "x", "path": "../b"}]}))
    with pytest.raises(ModelSetError, match="not a model folder under"):
        served_models(make_settings(model_dir=tmp_path))
    reply = _client(model_dir=tmp_path).get("/ping")  # the server stays up and says why it is not ready
    assert reply.status_code == 503 and "'../b' is not a model folder" in reply.get_json()["error"]["message"]


def test_one_models_full_queue_leaves_the_other_answering(root):
    client = _client(model_dir=root, max_queue_inputs=2, batch_wait_ms=0)
    group = client.application.extensions[ENGINE]
    embedder = group.slots[0].engine.handler
    forward, entered, release = embedder.forward, threading.Event(), threading.Event()

    def held(batch, task):
        entered.set()
        release.wait(30)
        return forward(batch, task)

    embedder.forward = held
    try:
        with ThreadPoolExecutor(4) as pool:
            first = pool.submit(post, client, "/v1/embeddings", {"input": TEXTS})
            assert entered.wait(30)  # the embedder is busy with the first request, its queue full behind it
            refused = [post(client, "/v1/embeddings", {"input": TEXTS}).status_code for _ in range(3)]
            assert refused == [503] * 3
            reply = post(client, "/v1/rerank", {"query": QUERY, "documents": DOCS})
            assert reply.status_code == 200  # the reranker's own queue takes it at once
            release.set()
            assert first.result().status_code == 200
    finally:
        release.set()
        del embedder.forward


def test_each_model_loads_with_its_share_of_the_device(root):
    """The models load in turn; each plans its device memory with the later models' weights kept free and the
    rest split between the two (the handlers read the share: handlers/memory.py)."""
    shares = {}

    def loader(settings):
        shares[settings.served_model_name] = current_share()
        return load_handler(settings)

    settings = make_settings(handler="auto", device="cpu", log_level="WARNING", model_dir=root)
    create_app(settings, loader=loader, load_in_background=False)
    assert shares == {"embedder": DeviceShare(weight_bytes(root / "reranker"), 2), "reranker": DeviceShare(0, 2)}
    assert weight_bytes(root / "reranker") > 0 and current_share() == DeviceShare()
