"""Reranking over real HTTP: a real server process (gunicorn, `python -m inference serve`) on a tiny random
cross-encoder folder, scores against sentence-transformers' CrossEncoder.predict on the same folder (1e-5),
including pairs longer than the model's max length; and boto3's sagemaker-runtime client against it."""

from __future__ import annotations

import json

import boto3
import numpy as np
import pytest
import requests
from sentence_transformers import CrossEncoder

from marketplace.local_server import local_server
from tests.tiny_rerankers import build_tiny_bert_reranker

QUERY = "best search engine"
DOCUMENTS = [
    "the best search engine ranks the document",
    "a river in france",
    "query " + "vector document rank " * 20,  # over the max length: the document is cut
    "hello world",
    "paris is the capital of france",
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_tiny_bert_reranker(tmp_path_factory.mktemp("reranker"))


@pytest.fixture(scope="module")
def server(folder):
    with local_server({"MODEL_DIR": str(folder), "EMB_WORKERS": "2"}) as url:
        yield url


@pytest.fixture(scope="module")
def expected(folder):
    return CrossEncoder(str(folder), device="cpu").predict([(QUERY, doc) for doc in DOCUMENTS])


def by_index(results, key):
    return np.array([r[key] for r in sorted(results, key=lambda r: r["index"])])


def test_v1_rerank_matches_cross_encoder_predict(server, expected):
    reply = requests.post(f"{server}/v1/rerank", json={"query": QUERY, "documents": DOCUMENTS, "top_n": 5}, timeout=60)
    assert reply.status_code == 200, reply.text
    results = reply.json()["results"]
    np.testing.assert_allclose(by_index(results, "relevance_score"), expected, atol=1e-5)
    assert [r["index"] for r in results] == list(np.argsort(-np.asarray(expected), kind="stable"))


def test_tei_rerank_and_invocations_agree(server, expected):
    tei = requests.post(f"{server}/rerank", json={"query": QUERY, "texts": DOCUMENTS, "truncate": True}, timeout=60)
    assert tei.status_code == 200, tei.text
    np.testing.assert_allclose(by_index(tei.json(), "score"), expected, atol=1e-5)
    invoked = requests.post(f"{server}/invocations", json={"query": QUERY, "documents": DOCUMENTS}, timeout=60)
    np.testing.assert_allclose(by_index(invoked.json()["results"], "relevance_score"), expected, atol=1e-5)
    assert invoked.headers["X-Amzn-Inference-Metering"] == '{"Dimension": "inference.count", "ConsumedUnits": 5}'


def test_boto3_invoke_endpoint_reranks(server, expected):
    runtime = boto3.client("sagemaker-runtime", endpoint_url=server, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    reply = runtime.invoke_endpoint(
        EndpointName="reranker", ContentType="application/json",
        Body=json.dumps({"query": QUERY, "documents": DOCUMENTS, "return_documents": False}),
    )  # fmt: skip
    results = json.loads(reply["Body"].read())["results"]
    np.testing.assert_allclose(by_index(results, "relevance_score"), expected, atol=1e-5)
    assert all("document" not in r for r in results)


def test_bad_input_is_a_400_and_the_server_lives_on(server):
    bad = requests.post(f"{server}/v1/rerank", json={"query": QUERY, "documents": [], "topn": 1}, timeout=60)
    assert bad.status_code == 400 and "topn" in bad.json()["error"]["message"]
    assert requests.get(f"{server}/ping", timeout=10).status_code == 200
