"""The rerank API through the Flask app with a tiny random bge-reranker-v2-gemma-style decoder reranker: ``/v1/rerank``
answers the sigmoid of the model card code's ``Yes`` logit (FlagLLMReranker's ``normalize=True``), best first, and
``raw_scores`` the logit itself (FlagLLMReranker's default)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inference.api.app import create_app
from tests.conftest import make_settings
from tests.tiny_flag_rerankers import build_tiny_gemma_reranker, reference_scores, template_length

MAX_LENGTH = 80
QUERY = "paris capital"
DOCS = ["paris is the capital of france", "the river", "hello world " * 40, "search engine vector query", "bonjour"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_tiny_gemma_reranker(tmp_path_factory.mktemp("gemma-reranker"), "gemma", MAX_LENGTH)


@pytest.fixture(scope="module")
def expected(folder):
    return np.asarray(reference_scores(folder, QUERY, DOCS, MAX_LENGTH - template_length(folder)))


@pytest.fixture(scope="module")
def client(folder):
    settings = make_settings(model_dir=folder, handler="auto", device="cpu", log_level="WARNING", max_documents=8)
    return create_app(settings, load_in_background=False).test_client()


def rerank(client, body):
    reply = client.post("/v1/rerank", data=json.dumps(body), content_type="application/json")
    assert reply.status_code == 200, reply.get_data(as_text=True)
    results = reply.get_json()["results"]
    return [r["index"] for r in results], np.array(
        [r["relevance_score"] for r in sorted(results, key=lambda r: r["index"])]
    )


def test_scores_are_the_sigmoid_of_the_model_card_yes_logit_best_first(client, expected):
    order, got = rerank(client, {"query": QUERY, "documents": DOCS})
    assert order == sorted(range(len(DOCS)), key=lambda i: -expected[i])
    np.testing.assert_allclose(got, 1 / (1 + np.exp(-expected)), atol=1e-5)


def test_raw_scores_are_the_yes_logit(client, expected):
    _, got = rerank(client, {"query": QUERY, "documents": DOCS, "raw_scores": True})
    np.testing.assert_allclose(got, expected, atol=1e-5)
