"""The OpenAPI document of a server of several models (model_set.py): ``info["x-models"]`` lists each model's name
and kind as ``/v1/models`` does, the description says how a request names its model, and every operation that runs
a model documents the ``X-Model`` header and the unknown name's 404. A single model's document has none of it."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate

from inference.api.app import create_app
from inference.api.openapi import openapi_spec, served_kinds
from inference.api.route_table import route_table
from inference.model_dir import embedded_model_dir
from tests.conftest import make_settings
from tests.tiny_rerankers import build_tiny_bert_reranker
from tests.tiny_sparse import build_tiny_splade


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("model-set")
    (root / "embedder").symlink_to(embedded_model_dir(), target_is_directory=True)
    build_tiny_bert_reranker(root / "reranker")
    splade = build_tiny_splade(tmp_path_factory.mktemp("tiny-splade") / "model")  # a sibling folder beside it
    (root / "splade").symlink_to(splade, target_is_directory=True)
    return root


def _worked(settings):
    """The (path, method) of every route that runs a model or its tokenizer."""
    return [(r.openapi_path, r.method.lower()) for r in route_table(settings) if r.model_work or r.tokenizer_only]


def test_the_document_lists_the_models_and_how_to_choose_one(root):
    settings = make_settings(model_dir=root)
    doc = openapi_spec(settings)
    validate(doc)
    models = [{"name": "embedder", "kind": "embed"}, {"name": "reranker", "kind": "rerank"},
              {"name": "splade", "kind": "sparse"}]  # fmt: skip
    assert doc["info"]["x-models"] == models == served_kinds(settings)
    description = doc["info"]["description"]
    assert "`embedder` (embed), `reranker` (rerank), `splade` (sparse)" in description
    assert "`model` field" in description and "`X-Model` header" in description
    worked = _worked(settings)
    assert ("/v1/embeddings", "post") in worked and ("/tokenize", "post") in worked and ("/info", "get") not in worked
    for path, method in worked:
        operation = doc["paths"][path][method]
        header = [p for p in operation["parameters"] if p["in"] == "header"]
        assert [(p["name"], p["required"], p["schema"]) for p in header] == [
            ("X-Model", False, {"type": "string", "enum": ["embedder", "reranker", "splade"]})], path  # fmt: skip
        assert "not_found" in operation["responses"]["404"]["description"], path
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if (path, method) not in worked:
                assert "parameters" not in operation or all(p["in"] == "path" for p in operation["parameters"])
    assert [p["name"] for p in doc["paths"]["/endpoints/{name}/invocations"]["post"]["parameters"]] == [
        "name",
        "X-Model",
    ]
    model = doc["components"]["schemas"]["EmbeddingsRequest"]["properties"]["model"]
    assert "`embedder`, `reranker`, `splade`" in model["description"]


def test_a_single_models_document_is_unchanged_by_the_set(root):
    single = openapi_spec(make_settings(model_dir=root / "embedder"))
    assert served_kinds(make_settings(model_dir=root / "embedder")) == []
    assert single["info"] == {"title": "Embedding service", "version": "1",
                              "description": "OpenAI/Jina/TEI-compatible embeddings and reranking"}  # fmt: skip
    assert "X-Model" not in json.dumps(single)
    assert "the container serves one model" in json.dumps(single["components"]["schemas"]["EmbeddingsRequest"])
    assert single == openapi_spec(make_settings())  # the set's document left the endpoint modules' schemas alone
    assert all("404" not in operation["responses"] for item in single["paths"].values() for operation in item.values())


def test_a_manifest_names_orders_and_sets_the_kinds(root, tmp_path):
    (tmp_path / "a").symlink_to(root / "reranker", target_is_directory=True)
    (tmp_path / "b").symlink_to(root / "embedder", target_is_directory=True)
    (tmp_path / "models.json").write_text(json.dumps({"models": [
        {"name": "my-reranker", "path": "a"}, {"name": "my-embedder", "path": "b"},
        {"name": "as-reranker", "path": "b", "handler": "rerank"}]}))  # fmt: skip
    assert openapi_spec(make_settings(model_dir=tmp_path))["info"]["x-models"] == [
        {"name": "my-reranker", "kind": "rerank"}, {"name": "my-embedder", "kind": "embed"},
        {"name": "as-reranker", "kind": "rerank"}]  # fmt: skip


def test_the_served_document_names_the_kinds_v1_models_reports(root):
    settings = make_settings(handler="auto", device="cpu", log_level="WARNING", model_dir=root)
    client = create_app(settings, load_in_background=False).test_client()
    listed = [{"name": m["id"], "kind": m["kind"]} for m in client.get("/v1/models").get_json()["data"]]
    doc = client.get("/openapi.json").get_json()
    assert doc["info"]["x-models"] == listed
    assert client.post("/embed_sparse", json={"inputs": "paris"}, headers={"X-Model": "splade"}).status_code == 200
    reply = client.post("/embed_sparse", json={"inputs": "paris"}, headers={"X-Model": "nope"})
    assert reply.status_code == 404 and reply.get_json()["error"]["type"] == "not_found"  # as documented


def test_a_bad_manifest_leaves_the_single_model_document(tmp_path):
    (tmp_path / "models.json").write_text(json.dumps({"models": [{"name": "x", "path": "missing"}]}))
    assert served_kinds(make_settings(model_dir=tmp_path)) == []
    assert "x-models" not in openapi_spec(make_settings(model_dir=tmp_path))["info"]
