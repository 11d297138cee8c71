"""Cohere's v2 dialect through the Flask app: ``/v2/embed`` (fake embedding model with tasks ``query`` and
``passage``) answers the vectors ``/v1/embeddings`` answers, by type, and ``/v2/rerank`` (a real tiny
cross-encoder) the scores ``/v1/rerank`` answers; strict fields, truncate modes and the input_type mapping."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inference.api.app import create_app
from inference.endpoints.embeddings.response import quantise
from tests.conftest import make_settings
from tests.tiny_rerankers import build_tiny_bert_reranker

TEXTS = ["hello world", "a second text", "search engines rank documents"]
LONG = "word " * 200  # over the fake model's 64 tokens


def post(client, path, body, **kwargs):
    return client.post(path, data=json.dumps(body), content_type="application/json", **kwargs)


def v1(client, texts, **options):
    reply = post(client, "/v1/embeddings", {"input": texts, **options})
    assert reply.status_code == 200, reply.get_json()
    return np.array([item["embedding"] for item in reply.get_json()["data"]], dtype=np.float32)


def v2(client, texts, input_type="search_document", **options):
    reply = post(client, "/v2/embed", {"model": "m", "texts": texts, "input_type": input_type, **options})
    assert reply.status_code == 200, reply.get_json()
    return reply.get_json()


def test_the_answer_has_cohere_s_shape(client):
    body = v2(client, TEXTS, embedding_types=["float", "int8"])
    assert set(body) == {"id", "embeddings", "texts", "meta", "response_type"}
    assert body["texts"] == TEXTS and body["response_type"] == "embeddings_by_type"
    assert set(body["embeddings"]) == {"float", "int8"} and len(body["embeddings"]["float"]) == 3
    assert body["meta"]["api_version"] == {"version": "2"} and body["meta"]["billed_units"]["input_tokens"] > 3
    assert set(v2(client, TEXTS[:1])["embeddings"]) == {"float"}  # the default type


@pytest.mark.parametrize(("input_type", "task"), [("search_document", "passage"), ("search_query", "query"),
                                                  ("classification", None), ("clustering", None)])  # fmt: skip
def test_vectors_equal_v1_s_with_the_input_type_s_task(client, input_type, task):
    ours = np.array(v2(client, TEXTS, input_type)["embeddings"]["float"], dtype=np.float32)
    np.testing.assert_array_equal(ours, v1(client, TEXTS, **({"task": task} if task else {})))
    assert not np.array_equal(ours, v1(client, TEXTS, task="query" if task != "query" else "passage"))


def test_every_type_equals_v1_s_and_int8_is_the_fixed_range_quantisation(client):
    types = ["float", "int8", "uint8", "binary", "ubinary", "base64"]
    ours = v2(client, TEXTS, embedding_types=types)["embeddings"]
    reply = post(client, "/v1/embeddings", {"input": TEXTS, "task": "passage", "embedding_type": types}).get_json()
    for kind in types:
        assert ours[kind] == [item["embedding"][kind] for item in reply["data"]], kind
    floats = np.array(ours["float"], dtype=np.float32)
    assert ours["int8"] == quantise(floats, "int8").tolist() and ours["uint8"] == quantise(floats, "uint8").tolist()


def test_output_dimension_and_inputs_form(client):
    cut = v2(client, TEXTS, output_dimension=8)["embeddings"]["float"]
    np.testing.assert_array_equal(np.array(cut, dtype=np.float32), v1(client, TEXTS, task="passage", dimensions=8))
    inputs = [{"content": [{"type": "text", "text": text}]} for text in TEXTS]
    reply = post(client, "/v2/embed", {"model": "m", "inputs": inputs, "input_type": "search_document"})
    assert reply.get_json()["embeddings"] == v2(client, TEXTS)["embeddings"]


def test_truncate_modes(client):
    reply = post(client, "/v2/embed", {"texts": [LONG], "input_type": "search_query", "truncate": "NONE"})
    assert reply.status_code == 400
    end = v2(client, [LONG + "tail"], "search_query", truncate="END")["embeddings"]["float"]
    np.testing.assert_array_equal(np.array(end, dtype=np.float32), v1(client, [LONG + "tail"], task="query"))
    start = v2(client, ["head " + LONG], "search_query", truncate="START")["embeddings"]["float"]
    tei = post(client, "/embed", {"inputs": ["head " + LONG], "truncate": True, "truncation_direction": "Left",
                                  "prompt_name": "query"}).get_json()  # fmt: skip
    np.testing.assert_array_equal(np.array(start, dtype=np.float32), np.array(tei, dtype=np.float32))
    assert start != end


@pytest.mark.parametrize(("body", "param"), [
    ({"texts": ["a"], "input_type": "search_query", "bogus": 1}, "bogus"),
    ({"texts": ["a"], "input_type": "search_query", "max_tokens": 10}, "max_tokens"),
    ({"texts": ["a"]}, "input_type"),
    ({"texts": ["a"], "input_type": "web"}, "input_type"),
    ({"texts": ["a"], "images": ["data:image/png;base64,AA=="], "input_type": "search_query"}, "texts"),
    ({"texts": ["a"], "input_type": "search_query", "truncate": "LEFT"}, "truncate"),
    ({"texts": ["a"], "input_type": "search_query", "embedding_types": ["int4"]}, "embedding_types"),
    ({"inputs": [{"content": [{"type": "text", "text": "a", "x": 1}]}], "input_type": "search_query"}, "inputs"),
])  # fmt: skip
def test_strict_fields(client, body, param):
    reply = post(client, "/v2/embed", body)
    assert reply.status_code == 400, reply.get_json()
    assert param in json.dumps(reply.get_json()["error"])


def test_json_only(client):
    reply = client.post("/v2/embed", data='{"text": "a"}\n', content_type="application/jsonlines")
    assert reply.status_code == 415


def test_openapi_describes_both_paths(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert paths["/v2/embed"]["post"]["operationId"] == "embed_cohere_v2"
    assert paths["/v2/rerank"]["post"]["operationId"] == "rerank_cohere_v2"


@pytest.fixture(scope="module")
def reranker(tmp_path_factory):
    folder = build_tiny_bert_reranker(tmp_path_factory.mktemp("bert"))
    settings = make_settings(model_dir=folder, handler="auto", device="cpu", log_level="WARNING", max_documents=8)
    return create_app(settings, load_in_background=False).test_client()


DOCS = ["paris is the capital of france", "the river", "hello world " * 30, "bonjour le monde"]


def test_v2_rerank_scores_equal_v1_s(reranker):
    body = {"model": "m", "query": "paris capital", "documents": DOCS}
    ours = post(reranker, "/v2/rerank", {**body, "top_n": 3}).get_json()
    theirs = post(reranker, "/v1/rerank", body).get_json()
    assert set(ours) == {"id", "results", "meta"} and len(ours["results"]) == 3
    assert ours["results"] == [{"index": r["index"], "relevance_score": r["relevance_score"]}
                               for r in theirs["results"][:3]]  # fmt: skip
    assert ours["meta"]["api_version"] == {"version": "2"}


@pytest.mark.parametrize(("extra", "param"), [({"return_documents": True}, "return_documents"),
                                              ({"max_tokens_per_doc": 100}, "max_tokens_per_doc"),
                                              ({"top_n": 0}, "top_n")])  # fmt: skip
def test_v2_rerank_strict_fields(reranker, extra, param):
    reply = post(reranker, "/v2/rerank", {"model": "m", "query": "q", "documents": ["a"], **extra})
    assert reply.status_code == 400 and param in json.dumps(reply.get_json()["error"])


def test_each_path_serves_its_kind(client, reranker):
    assert post(client, "/v2/rerank", {"query": "q", "documents": ["a"]}).status_code == 400
    assert post(reranker, "/v2/embed", {"texts": ["a"], "input_type": "search_query"}).status_code == 400


INVOKE_PATHS = ["/invocations", "/endpoints/my-endpoint/invocations", "/score"]


@pytest.mark.parametrize("path", INVOKE_PATHS)
def test_invocations_read_cohere_s_embed_body(client, path):
    """The platform paths answer Cohere's body in Cohere's shape, with /v2/embed's vectors; the other bodies
    keep their own answers."""
    body = {"texts": TEXTS, "input_type": "search_query", "embedding_types": ["float", "int8"]}
    ours = post(client, path, body)
    assert ours.status_code == 200, ours.get_json()
    theirs = post(client, "/v2/embed", body).get_json()
    answer = ours.get_json()
    assert answer["response_type"] == "embeddings_by_type" and answer["texts"] == TEXTS
    assert answer["embeddings"]["int8"] == theirs["embeddings"]["int8"]
    np.testing.assert_allclose(answer["embeddings"]["float"], theirs["embeddings"]["float"], atol=1e-6)
    parts = {"input_type": "search_document", "inputs": [{"content": [{"type": "text", "text": t}]} for t in TEXTS]}
    np.testing.assert_allclose(post(client, path, parts).get_json()["embeddings"]["float"],
                               v1(client, TEXTS, task="passage"), atol=1e-6)  # fmt: skip
    assert isinstance(post(client, path, {"inputs": TEXTS}).get_json(), list)  # TEI's body, TEI's answer
    assert post(client, path, {"input": TEXTS}).get_json()["object"] == "list"


@pytest.mark.parametrize(("body", "param"), [({"texts": ["a"]}, "input_type"),
                                             ({"texts": ["a"], "input_type": "web"}, "input_type"),
                                             ({"texts": ["a"], "input_type": "search_query", "max_tokens": 5},
                                              "max_tokens")])  # fmt: skip
def test_invocations_judge_a_cohere_body_by_cohere_s_schema(client, body, param):
    reply = post(client, "/invocations", body)
    assert reply.status_code == 400 and param in json.dumps(reply.get_json()["error"])
    # a Jina body with an unknown input_type field stays Jina's (400 naming it), not Cohere's
    reply = post(client, "/invocations", {"input": ["a"], "input_type": "search_query"})
    assert reply.status_code == 400 and "input_type" in json.dumps(reply.get_json()["error"])


def test_openapi_invocations_mention_cohere(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert "Cohere" in paths["/invocations"]["post"]["description"]


@pytest.mark.parametrize("marker", [{"priority": 0}, {"api_version": 2}, {"max_tokens_per_doc": None}])
def test_invocations_read_cohere_s_rerank_body(reranker, marker):
    body = {"model": "m", "query": "paris capital", "documents": DOCS}
    ours = post(reranker, "/invocations", {**body, "top_n": 2, **marker})
    assert ours.status_code == 200, ours.get_json()
    cohere = post(reranker, "/v2/rerank", {**body, "top_n": 2}).get_json()
    assert set(ours.get_json()) == {"id", "results", "meta"}
    assert ours.get_json()["results"] == cohere["results"]
    jina = post(reranker, "/invocations", body).get_json()  # the ambiguous body: Jina's answer
    assert "usage" in jina and [r["index"] for r in jina["results"][:2]] == [r["index"] for r in cohere["results"]]
