"""The rerank API through the Flask app with a tiny random Qwen3-Reranker-style decoder reranker: ``/v1/rerank``,
``/rerank`` (TEI) and ``/invocations`` answer the scores of Qwen3-Reranker's model card code on the same folder,
best first; ``raw_scores`` answers ``logit(yes) - logit(no)``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inference.api.app import create_app
from tests.conftest import make_settings
from tests.tiny_llm_rerankers import build_tiny_qwen3_reranker, reference_scores

MAX_LENGTH = 80
QUERY = "paris capital"
DOCS = ["paris is the capital of france", "the river", "hello world " * 40, "search engine vector query", "bonjour"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_tiny_qwen3_reranker(tmp_path_factory.mktemp("qwen3-reranker"), MAX_LENGTH)


@pytest.fixture(scope="module")
def expected(folder):
    return np.asarray(reference_scores(folder, QUERY, DOCS, MAX_LENGTH))


@pytest.fixture(scope="module")
def client(folder):
    settings = make_settings(model_dir=folder, handler="auto", device="cpu", log_level="WARNING", max_documents=8)
    return create_app(settings, load_in_background=False).test_client()


def post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("path", ["/v1/rerank", "/invocations"])
def test_scores_equal_the_model_card_code_best_first(client, expected, path):
    reply = post(client, path, {"query": QUERY, "documents": DOCS})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    results = reply.get_json()["results"]
    assert [r["index"] for r in results] == sorted(range(len(DOCS)), key=lambda i: -expected[i])
    got = np.array([r["relevance_score"] for r in sorted(results, key=lambda r: r["index"])])
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_tei_rerank_body(client, expected):
    for path in ("/rerank", "/invocations"):
        reply = post(client, path, {"query": QUERY, "texts": DOCS, "truncate": True})
        assert reply.status_code == 200, reply.get_data(as_text=True)
        items = reply.get_json()
        assert [i["index"] for i in items] == list(np.argsort(-expected, kind="stable"))
        np.testing.assert_allclose([i["score"] for i in sorted(items, key=lambda i: i["index"])], expected, atol=1e-5)


def test_raw_scores_are_the_yes_no_logit_difference(client, expected):
    body = post(client, "/v1/rerank", {"query": QUERY, "documents": DOCS, "raw_scores": True}).get_json()
    raw = np.array([r["relevance_score"] for r in sorted(body["results"], key=lambda r: r["index"])])
    np.testing.assert_allclose(1 / (1 + np.exp(-raw)), expected, atol=1e-5)


def test_a_document_over_the_limit_without_truncation_is_a_400(client):
    reply = post(client, "/v1/rerank", {"query": QUERY, "documents": ["hello world " * 40], "truncate": False})
    assert reply.status_code == 400 and "more than the model's maximum" in reply.get_json()["error"]["message"]
