"""Vertex AI bodies to a reranker (tiny cross-encoder, ``EMB_MAX_DOCUMENTS=4``): ``parameters`` holds only the
options the instances share, never a query or documents (which it used to lend to every instance: one list of
documents scored once per instance); and the instances' documents together are within the document limit,
checked before any instance is parsed (each instance used to be checked alone: N instances, N x the limit)."""

from __future__ import annotations

import json

import pytest

from inference.api.app import create_app
from tests.conftest import make_settings
from tests.tiny_rerankers import build_tiny_bert_reranker

PREDICT = "/v1/endpoints/1/deployedModels/2:predict"
VERTEX = {"vertex_health_route": "/v1/endpoints/1/deployedModels/2", "vertex_predict_route": PREDICT}


def post(client, body):
    return client.post(PREDICT, data=json.dumps(body), content_type="application/json")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = build_tiny_bert_reranker(tmp_path_factory.mktemp("rr"))
    settings = make_settings(model_dir=folder, handler="auto", device="cpu", log_level="WARNING", max_documents=4,
                             **VERTEX)  # fmt: skip
    return create_app(settings, load_in_background=False).test_client()


def error_of(reply):
    assert reply.status_code == 400, reply.get_data(as_text=True)
    return reply.get_json()["error"]


@pytest.mark.parametrize(
    "parameters",
    [{"query": "paris"}, {"documents": ["the river"]}, {"texts": ["the river"]}, {"top_n": 1, "documents": ["a"]}],
)
def test_parameters_may_not_carry_a_query_or_documents(client, parameters):
    instances = [{"query": "paris capital", "documents": ["paris is the capital of france"]}, {"query": "the river"}]
    error = error_of(post(client, {"instances": instances, "parameters": parameters}))
    field = next(name for name in ("query", "documents", "texts") if name in parameters)
    assert error["param"] == f"parameters.{field}"
    assert f"'parameters' may not carry '{field}'" in error["message"]


def test_the_documents_of_all_instances_together_are_within_the_limit(client):
    instances = [{"query": "paris", "documents": ["a", "b", "c"]}, {"query": "river", "texts": ["d", "e"]}]
    error = error_of(post(client, {"instances": instances}))
    assert error["param"] == "instances"
    assert "5 documents, more than the limit of 4" in error["message"] and "EMB_MAX_DOCUMENTS" in error["message"]


def test_the_limit_is_checked_before_any_instance_is_parsed(client):
    instances = [{"query": "paris", "documents": ["a", "b", "c"], "bogus": 1}, {"query": "r", "documents": ["d", "e"]}]
    assert "more than the limit of 4" in error_of(post(client, {"instances": instances}))["message"]
    many = [{"bogus": index} for index in range(5)]  # no documents: each instance still counts
    assert "5 instances, more than the limit of 4" in error_of(post(client, {"instances": many}))["message"]


def test_instances_within_the_limit_are_ranked(client):
    instances = [{"query": "paris capital", "documents": ["paris is the capital of france", "the river"]},
                 {"query": "hello", "documents": ["hello world", "bonjour le monde"]}]  # fmt: skip
    reply = post(client, {"instances": instances, "parameters": {"top_n": 1, "return_documents": False}})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    predictions = reply.get_json()["predictions"]
    assert [len(prediction) for prediction in predictions] == [1, 1]
    assert reply.headers["X-Amzn-Inference-Metering"].endswith("4}")


def test_an_instance_in_teis_form_gets_teis_list_as_its_prediction(client):
    """``{"query", "texts"}`` is TEI's rerank body: its prediction is TEI's list (it was a 500)."""
    instances = [{"query": "paris capital", "texts": ["the river", "paris is the capital"]},
                 {"query": "paris capital", "documents": ["the river", "paris is the capital"]}]  # fmt: skip
    reply = post(client, {"instances": instances})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    tei, jina = reply.get_json()["predictions"]
    assert sorted(item["index"] for item in tei) == [0, 1]
    assert [(t["index"], t["score"]) for t in tei] == [(j["index"], j["relevance_score"]) for j in jina]
