"""``EmbeddingClient.rerank`` against the real server serving a tiny random cross-encoder, over real boto3
``sagemaker-runtime`` (SageMaker's ``/invocations``), plain HTTP (``/invocations``, ``/v1/rerank``) and an Azure-style
scoring route; scores compared with sentence-transformers' ``CrossEncoder.predict`` on the same folder (run by
the server's interpreter: the client's venv has no torch). Then splitting, retries and request bodies against the
scripted server, and the argument checks."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import numpy as np
import pytest
import requests
from scripted import Reply, Scripted, text_score
from server_process import cross_encoder_predict

from embedding_client import EmbeddingClient, EmbeddingServiceError, RerankResponse, RerankResult

QUERY = "paris capital"
DOCS = [
    "paris is the capital of france",
    "the river",
    "hello world " * 30,  # far beyond the model's 24 tokens: the document is cut
    "search engine vector query document rank " * 3,
    "bonjour le monde",
    "the city of paris on the river",
    "hola mundo",
    "best answer for the query",
    "le monde",
    "a document about the capital city",
    "vector search",
    "paris",
    "france",
]  # 13 documents: more than the server's limit of 8 per request (EMB_MAX_DOCUMENTS=8)
ATOL = 1e-5


@pytest.fixture(scope="module")
def reference(reranker_folder: Path) -> dict[str, np.ndarray]:
    predicted = cross_encoder_predict(reranker_folder, QUERY, DOCS)
    return {name: np.array(values, dtype=np.float64) for name, values in predicted.items()}


def expected_order(scores: np.ndarray) -> list[int]:
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


def check_against(response: RerankResponse, scores: np.ndarray, texts: list[str] | None = DOCS) -> None:
    """Every score within 1e-5 of CrossEncoder.predict, results best first, texts attached."""
    assert isinstance(response, RerankResponse) and all(isinstance(r, RerankResult) for r in response)
    np.testing.assert_allclose(response.scores, scores, atol=ATOL, rtol=0)
    got = [r.relevance_score for r in response]
    assert got == sorted(got, reverse=True) and sorted(response.indices) == list(range(len(scores)))
    assert response.indices == expected_order(response.scores)
    for result in response:
        assert result.relevance_score == response.scores[result.index]
        assert result.document == (texts[result.index] if texts is not None else None)
    assert response.total_tokens > 0 and response.model


def test_scores_over_boto3_sagemaker_equal_cross_encoder_predict(
    reranker_server: str, reference: dict[str, np.ndarray], fake_aws: None
) -> None:
    client = EmbeddingClient("my-reranker", "us-east-1", endpoint_url=reranker_server, batch_size=8)
    response = client.rerank(QUERY, DOCS)  # 13 documents: two requests of at most 8
    check_against(response, reference["scores"])
    assert len(response) == len(DOCS) and response[0].index == int(np.argmax(reference["scores"]))


def test_scores_over_http_routes_equal_cross_encoder_predict(
    reranker_server: str, reference: dict[str, np.ndarray]
) -> None:
    for url in (reranker_server, f"{reranker_server}/invocations", f"{reranker_server}/v1/rerank",
                f"{reranker_server}/score"):  # fmt: skip
        client = EmbeddingClient.local(url, batch_size=5, concurrency=3)
        check_against(client.rerank(QUERY, DOCS), reference["scores"])
    azure = EmbeddingClient.azure(f"{reranker_server}/score", "key", deployment="blue", batch_size=8)
    check_against(azure.rerank({"text": QUERY}, [{"text": d} for d in DOCS]), reference["scores"])


def test_split_requests_give_the_same_answer_as_one(reranker_server: str, reference: dict[str, np.ndarray]) -> None:
    docs = DOCS[:8]  # fits one request
    whole = EmbeddingClient.local(reranker_server).rerank(QUERY, docs)
    for client in (EmbeddingClient.local(reranker_server, batch_size=1, concurrency=4),
                   EmbeddingClient.local(reranker_server, max_body_bytes=480)):  # fmt: skip
        split = client.rerank(QUERY, docs)  # other batches, other padding: float32 noise, the same ranking
        assert split.indices == whole.indices and split.total_tokens == whole.total_tokens
        assert [r.document for r in split] == [r.document for r in whole]
        np.testing.assert_allclose(split.scores, whole.scores, atol=1e-6, rtol=0)
    check_against(whole, reference["scores"][:8], docs)


def test_top_n_return_documents_and_raw_scores(reranker_server: str, reference: dict[str, np.ndarray]) -> None:
    client = EmbeddingClient.local(reranker_server, batch_size=4)
    top = client.rerank(QUERY, DOCS, top_n=3, return_documents=False)
    assert top.indices == expected_order(reference["scores"])[:3]  # the best 3 of all 4 requests
    assert all(r.document is None for r in top) and len(top.scores) == len(DOCS)
    np.testing.assert_allclose(top.scores, reference["scores"], atol=ATOL, rtol=0)
    raw = client.rerank(QUERY, DOCS, raw_scores=True, top_n=100)
    check_against(raw, reference["logits"])
    np.testing.assert_allclose(1 / (1 + np.exp(-raw.scores)), reference["scores"], atol=ATOL, rtol=0)


def test_truncate_false_and_too_many_documents_are_400s(reranker_server: str) -> None:
    client = EmbeddingClient.local(reranker_server, max_retries=0)
    with pytest.raises(EmbeddingServiceError) as raised:
        client.rerank(QUERY, DOCS[:3], truncate=False)
    assert raised.value.status == 400 and not raised.value.retryable
    assert "documents[2]" in raised.value.message and "more than the model's maximum" in raised.value.message
    with pytest.raises(EmbeddingServiceError) as raised:
        EmbeddingClient.local(reranker_server, max_retries=0, batch_size=9).rerank(QUERY, DOCS)
    assert raised.value.status == 400 and "more than the limit of 8" in raised.value.message


def test_unchanged_boto3_rerank_body_reaches_the_reranker(
    reranker_server: str, reference: dict[str, np.ndarray], fake_aws: None
) -> None:
    runtime = boto3.client("sagemaker-runtime", region_name="us-east-1", endpoint_url=reranker_server)
    response = runtime.invoke_endpoint(
        EndpointName="my-reranker", ContentType="application/json", Accept="application/json",
        Body=json.dumps({"query": QUERY, "documents": DOCS[:4], "top_n": 2}),
    )  # fmt: skip
    body = json.loads(response["Body"].read())
    assert [r["index"] for r in body["results"]] == expected_order(reference["scores"][:4])[:2]
    assert [r["document"]["text"] for r in body["results"]] == [DOCS[r["index"]] for r in body["results"]]
    direct = requests.post(f"{reranker_server}/v1/rerank", json={"query": QUERY, "documents": DOCS[:4]}, timeout=30)
    assert direct.status_code == 200 and direct.json()["results"][:2] == body["results"]


def test_rerank_on_an_embedding_endpoint_says_which_model_is_loaded(local_server: str) -> None:
    for url in (local_server, f"{local_server}/v1/rerank"):
        with pytest.raises(EmbeddingServiceError) as raised:
            EmbeddingClient.local(url, max_retries=0).rerank("q", ["a"])
        assert raised.value.status == 400 and not raised.value.retryable
        assert "embedding model" in raised.value.message
    assert raised.value.code == "wrong_model_kind"  # /v1/rerank's type (/invocations: invalid_request_error)


# -- scripted server: request bodies, merging and retries -------------------------------------------------
SCRIPTED_DOCS = ["ccc", "a", "bb", "dddd", "e", "ff"]  # scripted scores: 1 / len, so "a" and "e" tie


def test_the_request_body_and_the_merge_across_requests(scripted: Scripted) -> None:
    client = EmbeddingClient.local(scripted.url, model="reranker-v2", batch_size=4)
    response = client.rerank("what", SCRIPTED_DOCS, top_n=4)
    assert [body["body"] for body in scripted.seen] == [
        {"query": "what", "return_documents": False, "truncate": True, "raw_scores": False, "model": "reranker-v2",
         "documents": SCRIPTED_DOCS[:4]},
        {"query": "what", "return_documents": False, "truncate": True, "raw_scores": False, "model": "reranker-v2",
         "documents": SCRIPTED_DOCS[4:]},
    ]  # fmt: skip
    assert response.indices == [1, 4, 2, 5]  # ties ("a", "e") in input order across the two requests
    assert [r.document for r in response] == ["a", "e", "bb", "ff"]
    np.testing.assert_array_equal(response.scores, [text_score(d) for d in SCRIPTED_DOCS])
    assert response.model == "scripted-reranker" and response.total_tokens == len(SCRIPTED_DOCS) * 2
    client.rerank({"text": "q"}, ["x"], truncate=False, raw_scores=True, model="other")
    assert scripted.seen[-1]["body"] == {"query": "q", "return_documents": False, "truncate": False,
                                         "raw_scores": True, "model": "other", "documents": ["x"]}  # fmt: skip


def test_rerank_retries_like_embed(scripted: Scripted, fake_aws: None) -> None:
    scripted.queue += [
        Reply(503, {"error": {"type": "overloaded", "message": "queue full"}}, {"Retry-After": "1"}),
        Reply(400, {"message": "Rate exceeded"}, {"x-amzn-ErrorType": "ThrottlingException"}),
    ]
    client = EmbeddingClient("rr", "us-east-1", endpoint_url=scripted.url)
    sleeps: list[float] = []
    client._sleep, client._random = sleeps.append, lambda: 0.5
    assert client.rerank("q", SCRIPTED_DOCS).indices == [1, 4, 2, 5, 0, 3]
    assert sleeps == [1.0, 0.5] and len(scripted.seen) == 3
    assert scripted.seen[-1]["path"] == "/endpoints/rr/invocations"


def test_a_short_or_missing_answer_is_an_error(scripted: Scripted) -> None:
    scripted.queue.append(Reply(200, {"results": [{"index": 0, "relevance_score": 0.5}]}))
    with pytest.raises(EmbeddingServiceError, match=r"sent 2 documents, got scores for indices \[0\]"):
        EmbeddingClient.local(scripted.url).rerank("q", ["a", "b"])
    scripted.queue.append(Reply(200, {"data": []}))
    with pytest.raises(EmbeddingServiceError, match="no rerank results"):
        EmbeddingClient.local(scripted.url).rerank("q", ["a"])


class Refuse:
    """A transport that must not be reached: the arguments are checked before anything is sent."""

    def post(self, body: bytes) -> bytes:
        raise AssertionError("not expected to be called")


@pytest.mark.parametrize(
    ("query", "documents", "kwargs", "error", "message"),
    [
        ("q", [], {}, ValueError, "documents must not be empty"),
        ("q", "one document", {}, TypeError, "documents must be a list"),
        ("q", ["a", 3], {}, TypeError, r"documents\[1\] must be str"),
        ("q", [{"text": "a", "id": 1}], {}, TypeError, r"documents\[0\] must be str"),
        (b"q", ["a"], {}, TypeError, "query must be str"),
        ("q", ["a"], {"top_n": 0}, ValueError, "top_n must be a positive int"),
        ("q", ["a"], {"top_n": True}, ValueError, "top_n must be a positive int"),
        ("q", ["a", "x" * 500], {}, ValueError, r"documents\[1\] alone makes a \d+-byte body"),
    ],
)
def test_argument_checks(query: object, documents: object, kwargs: dict, error: type, message: str) -> None:
    client = EmbeddingClient(transport=Refuse(), max_body_bytes=300)
    with pytest.raises(error, match=message):
        client.rerank(query, documents, **kwargs)  # type: ignore[arg-type]
