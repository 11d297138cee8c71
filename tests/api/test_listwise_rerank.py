"""The rerank API with a tiny random jina-reranker-v3-style listwise reranker: ``/v1/rerank``, TEI's ``/rerank``,
Cohere's ``/v2/rerank`` and ``/invocations`` answer the model card's scores best first; concurrent requests share
forward passes but never a block, so each gets the answer it gets alone."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from inference.api.app import ENGINE, create_app
from tests.conftest import make_settings
from tests.tiny_listwise import build_tiny_listwise_reranker, reference_scores
from tests.tiny_rerankers import WORDS

QUERY = "paris capital"
RNG = np.random.default_rng(11)
DOCS = [" ".join(RNG.choice(WORDS, size=int(RNG.integers(20, 90)))) for _ in range(10)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_tiny_listwise_reranker(tmp_path_factory.mktemp("listwise-api"))


@pytest.fixture(scope="module")
def expected(folder):
    return reference_scores(folder, QUERY, DOCS)


@pytest.fixture(scope="module")
def client(folder):
    settings = make_settings(model_dir=folder, handler="auto", device="cpu", log_level="WARNING", batch_wait_ms=50)
    return create_app(settings, load_in_background=False).test_client()


def post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def _by_index(results, key):
    return np.array([r[key] for r in sorted(results, key=lambda r: r["index"])])


@pytest.mark.parametrize("path", ["/v1/rerank", "/invocations", "/v2/rerank"])
def test_scores_equal_the_model_card_code_best_first(client, expected, path):
    reply = post(client, path, {"model": "m", "query": QUERY, "documents": DOCS, "top_n": 4})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    results = reply.get_json()["results"]
    assert [r["index"] for r in results] == list(np.argsort(-expected, kind="stable")[:4])
    np.testing.assert_allclose([r["relevance_score"] for r in results], np.sort(expected)[::-1][:4], atol=1e-5)


def test_tei_rerank_body_and_raw_scores(client, expected):
    items = post(client, "/rerank", {"query": QUERY, "texts": DOCS, "raw_scores": True}).get_json()
    np.testing.assert_allclose(_by_index(items, "score"), expected, atol=1e-5)  # cosines: raw or not


def test_info_says_listwise(client):
    info = client.get("/info").get_json()
    assert info["pooling"] == "listwise", info


def test_concurrent_requests_get_their_own_answers(client, folder):
    queries = ["paris capital", "river", "search engine vector"]
    requests = [(queries[i % 3], DOCS[i % 4 : i % 4 + 5]) for i in range(12)]
    alone = {query: {} for query in queries}
    for query, docs in requests:
        body = post(client, "/v1/rerank", {"query": query, "documents": docs}).get_json()
        alone[query][tuple(docs)] = _by_index(body["results"], "relevance_score")
    handler = client.application.extensions[ENGINE].reranker
    forward, batches = handler.forward_blocks, []

    def spy(batch):
        batches.append(len(batch))
        return forward(batch)

    handler.forward_blocks = spy
    try:
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda job: post(client, "/v1/rerank", {"query": job[0], "documents": job[1]}),
                                    requests))  # fmt: skip
    finally:
        del handler.forward_blocks
    assert max(batches) > 1  # blocks of different requests shared forward passes
    for (query, docs), reply in zip(requests, answers, strict=True):
        got = _by_index(reply.get_json()["results"], "relevance_score")
        np.testing.assert_allclose(got, alone[query][tuple(docs)], atol=1e-5)
    np.testing.assert_allclose(alone["paris capital"][tuple(DOCS[0:5])], reference_scores(folder, QUERY, DOCS[0:5]),
                               atol=1e-5)  # fmt: skip
