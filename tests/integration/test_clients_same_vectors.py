"""Each client gets the same vectors: a real server process (``python -m inference serve``, the embedded
all-MiniLM-L6-v2) answers the ``openai`` package (``/v1/embeddings``), boto3's ``sagemaker-runtime``
``invoke_endpoint`` (``/endpoints/<name>/invocations``) with each body it reads (OpenAI/Jina ``input``, Jina
SageMaker ``data``, TEI ``inputs``, Cohere v2 ``texts``), raw HTTP to TEI's ``/embed`` and the ``cohere``
package (``/v2/embed``) with the same float vectors (1e-6), equal to sentence-transformers' normalised
``encode`` (1e-5). On a tiny reranker, Cohere's rerank body through boto3 gets ``/v1/rerank``'s scores."""

from __future__ import annotations

import json
from typing import Any

import boto3
import cohere
import numpy as np
import openai
import pytest
import requests
from sentence_transformers import SentenceTransformer

from inference.model_dir import embedded_model_dir
from marketplace.local_server import local_server
from tests.tiny_rerankers import build_tiny_bert_reranker

TEXTS = ["hello world", "Bonjour le monde", "Ein Satz.", "a somewhat longer sentence about search engines " * 3]
MODEL = "all-MiniLM-L6-v2"
INVOKE_BODIES = {
    "openai-jina": ({"input": TEXTS}, lambda answer: [item["embedding"] for item in answer["data"]]),
    "jina-sagemaker": ({"data": [{"text": text} for text in TEXTS], "parameters": {"embedding_type": "float"}},
                       lambda answer: [item["embedding"] for item in answer["data"]]),
    "tei": ({"inputs": TEXTS}, lambda answer: answer),
    "cohere-v2": ({"texts": TEXTS, "input_type": "search_document", "embedding_types": ["float"]},
                  lambda answer: answer["embeddings"]["float"]),
}  # fmt: skip


def runtime(url: str) -> Any:
    return boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip


def invoke(url: str, body: dict[str, Any], name: str) -> Any:
    reply = runtime(url).invoke_endpoint(EndpointName=name, ContentType="application/json", Body=json.dumps(body))
    return json.loads(reply["Body"].read())


@pytest.fixture(scope="module")
def server():
    with local_server({"EMB_WORKERS": "1"}) as url:
        yield url


@pytest.fixture(scope="module")
def reference():
    return SentenceTransformer(str(embedded_model_dir()), device="cpu").encode(TEXTS, normalize_embeddings=True)


@pytest.fixture(scope="module")
def openai_vectors(server):
    client = openai.OpenAI(api_key="unused", base_url=f"{server}/v1", max_retries=0, timeout=60)
    answer = client.embeddings.create(input=TEXTS, model=MODEL, encoding_format="float")
    return np.array([item.embedding for item in sorted(answer.data, key=lambda item: item.index)])


def test_openai_client_equals_sentence_transformers(openai_vectors, reference):
    np.testing.assert_allclose(openai_vectors, reference, atol=1e-5)


@pytest.mark.parametrize("shape", list(INVOKE_BODIES))
def test_boto3_invoke_endpoint_with_each_body(server, openai_vectors, reference, shape):
    body, vectors = INVOKE_BODIES[shape]
    ours = np.array(vectors(invoke(server, body, "my-endpoint")))
    np.testing.assert_allclose(ours, openai_vectors, atol=1e-6)
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_tei_embed_over_raw_http(server, openai_vectors):
    reply = requests.post(f"{server}/embed", json={"inputs": TEXTS}, timeout=60)
    assert reply.status_code == 200, reply.text
    np.testing.assert_allclose(np.array(reply.json()), openai_vectors, atol=1e-6)


def test_cohere_client(server, openai_vectors, reference):
    co = cohere.ClientV2(base_url=server, api_key="x", timeout=60)
    answer = co.embed(model=MODEL, texts=TEXTS, input_type="search_document", embedding_types=["float"])
    ours = np.array(answer.embeddings.float_)
    np.testing.assert_allclose(ours, openai_vectors, atol=1e-6)
    np.testing.assert_allclose(ours, reference, atol=1e-5)


QUERY = "best search engine"
DOCUMENTS = ["the best search engine ranks the document", "a river in france", "hello world", "paris, france"]


@pytest.fixture(scope="module")
def reranker(tmp_path_factory):
    folder = build_tiny_bert_reranker(tmp_path_factory.mktemp("reranker"))
    with local_server({"MODEL_DIR": str(folder), "EMB_WORKERS": "1"}) as url:
        yield url


def test_cohere_rerank_body_through_boto3_equals_v1_rerank(reranker):
    v1 = requests.post(f"{reranker}/v1/rerank", json={"query": QUERY, "documents": DOCUMENTS}, timeout=60)
    assert v1.status_code == 200, v1.text
    expected = [(r["index"], r["relevance_score"]) for r in v1.json()["results"]]
    answer = invoke(reranker, {"query": QUERY, "documents": DOCUMENTS, "top_n": 4, "api_version": 2}, "reranker")
    assert set(answer) == {"id", "results", "meta"}  # Cohere's shape (Bedrock's api_version marks the body)
    got = [(r["index"], r["relevance_score"]) for r in answer["results"]]
    assert [index for index, _ in got] == [index for index, _ in expected]
    np.testing.assert_allclose([score for _, score in got], [score for _, score in expected], atol=1e-6)
