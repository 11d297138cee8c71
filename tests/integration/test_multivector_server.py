"""Late interaction over real HTTP: a real server process (gunicorn, what `make serve MODEL_DIR=...` runs, two
workers) on a tiny random PyLate-layout ColBERT folder answers /v1/multi-vector, /v1/embeddings with
return_multivector, /invocations and MaxSim /v1/rerank with sentence-transformers' MultiVectorEncoder's vectors and
scores (1e-5), its tokenizer routes with the tokenizer's own ids, and /metrics counts the multivector API."""

from __future__ import annotations

import numpy as np
import pytest
import requests
from sentence_transformers import MultiVectorEncoder
from transformers import AutoTokenizer

from marketplace.local_server import local_server
from tests.tiny_colbert import MATRYOSHKA, build_pylate_colbert

QUERY = "what is the capital of france?"
DOCS = ["Paris is the capital of France.", "Berlin, Germany: a city!", "the river " * 40]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_pylate_colbert(tmp_path_factory.mktemp("colbert") / "model", matryoshka=MATRYOSHKA)


@pytest.fixture(scope="module")
def server(folder):
    with local_server({"MODEL_DIR": str(folder), "EMB_WORKERS": "2"}) as url:
        yield url


@pytest.fixture(scope="module")
def reference(folder):
    return MultiVectorEncoder(str(folder), device="cpu")


def post(server, path, body):
    reply = requests.post(f"{server}{path}", json=body, timeout=60)
    assert reply.status_code == 200, reply.text
    return reply.json()


def vectors(answer):
    return [np.asarray(item["embeddings"], dtype=np.float32) for item in sorted(answer["data"],
                                                                              key=lambda item: item["index"])]


def test_token_vectors_equal_the_reference_on_every_path(server, reference):
    expected_docs = reference.encode_document(DOCS)
    expected_query = reference.encode_query([QUERY])
    for path, extra in (("/v1/multi-vector", {}), ("/v1/embeddings", {"return_multivector": True}),
                        ("/invocations", {})):  # fmt: skip
        got = vectors(post(server, path, {"input": DOCS, **extra}))
        for ours, theirs in zip(got, expected_docs, strict=True):
            np.testing.assert_allclose(ours, np.asarray(theirs), atol=1e-5)
        [query] = vectors(post(server, path, {"input": [QUERY], "input_type": "query", **extra}))
        np.testing.assert_allclose(query, np.asarray(expected_query[0]), atol=1e-5)


def test_rerank_is_maxsim(server, reference):
    expected = np.asarray(reference.similarity(reference.encode_query([QUERY]), reference.encode_document(DOCS)))[0]
    for path in ("/v1/rerank", "/invocations"):
        results = post(server, path, {"query": QUERY, "documents": DOCS})["results"]
        got = np.array([r["relevance_score"] for r in sorted(results, key=lambda r: r["index"])])
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
        assert [r["index"] for r in results] == list(np.argsort(-expected, kind="stable"))


def test_tokenize_and_info(server, folder):
    info = requests.get(f"{server}/info", timeout=10).json()
    assert info["kind"] == "multivector" and info["dimension_options"] == MATRYOSHKA
    [tokens] = post(server, "/tokenize", {"inputs": DOCS[0]})
    assert [t["id"] for t in tokens] == AutoTokenizer.from_pretrained(folder)(DOCS[0])["input_ids"]
    metrics = requests.get(f"{server}/metrics", timeout=10).text
    assert 'embed_inputs_total{api="multivector"}' in metrics
