"""``EmbeddingClient.vertex`` against the scripted HTTP server playing a Vertex AI endpoint: the URL, the
``:predict`` bodies (``instances``/``parameters``) and ``:rawPredict`` (native bodies), bearer tokens from
google-auth-style credentials (refreshed when expired), requests cut at 1.5 MB, retries and Google's error JSON."""

from __future__ import annotations

import base64
import sys
from typing import Any

import numpy as np
import pytest
from scripted import VERTEX_FIELDS, Reply, Scripted, expected, recording, text_score

from embedding_client import (
    VERTEX_DEDICATED_MAX_BODY_BYTES,
    VERTEX_MAX_BODY_BYTES,
    EmbeddingClient,
    EmbeddingServiceError,
)
from embedding_client.vertex import vertex_url
from embedding_client.wire import dumps

PROJECT, REGION, ENDPOINT = "my-project", "us-central1", "1234567890"
PREDICT = f"/v1/projects/{PROJECT}/locations/{REGION}/endpoints/{ENDPOINT}:predict"
RAW_PREDICT = f"/v1/projects/{PROJECT}/locations/{REGION}/endpoints/{ENDPOINT}:rawPredict"
TEXTS = ["alpha", "beta gamma", "delta", "epsilon zeta eta", "theta", "iota kappa"]
DEFAULTS = {"embedding_type": ["base64"], "normalized": True, "truncate": True}


class FakeCredentials:
    """google-auth's ``Credentials`` interface: ``token``, ``valid``, ``expired`` and ``refresh(request)``."""

    def __init__(self, token: str | None = None, expired: bool = True) -> None:
        self.token, self.expired = token, expired
        self.refreshed_with: list[Any] = []

    @property
    def valid(self) -> bool:
        return self.token is not None and not self.expired

    def refresh(self, request: Any) -> None:
        self.refreshed_with.append(request)
        self.token, self.expired = f"ya29.token-{len(self.refreshed_with)}", False


def vertex(scripted: Scripted, credentials: Any = None, **kwargs: Any) -> EmbeddingClient:
    credentials = credentials or FakeCredentials("ya29.fixed", expired=False)
    return EmbeddingClient.vertex(PROJECT, REGION, ENDPOINT, credentials=credentials, api_endpoint=scripted.url,
                                  **kwargs)  # fmt: skip




def test_the_url_is_vertex_aiplatforms() -> None:
    host = "https://us-central1-aiplatform.googleapis.com"
    assert vertex_url(PROJECT, REGION, ENDPOINT) == host + PREDICT
    assert vertex_url(PROJECT, REGION, ENDPOINT, raw=True) == host + RAW_PREDICT
    dedicated = "1234567890.us-central1-42.prediction.vertexai.goog"
    assert vertex_url(PROJECT, REGION, ENDPOINT, api_endpoint=dedicated) == f"https://{dedicated}{PREDICT}"
    assert vertex_url(PROJECT, REGION, ENDPOINT, api_endpoint="http://127.0.0.1:9/") == "http://127.0.0.1:9" + PREDICT


def test_a_dedicated_endpoint_is_called_on_its_own_dns_name_with_10_mb_requests(
    scripted: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("embedding_client.vertex.API_HOST", scripted.url)  # the regional API: the scripted server
    endpoint = f"/v1/projects/{PROJECT}/locations/{REGION}/endpoints/{ENDPOINT}"
    scripted.queue.append(Reply(200, {"name": endpoint[4:], "dedicatedEndpointEnabled": True,
                                      "dedicatedEndpointDns": scripted.url}))  # fmt: skip
    client = EmbeddingClient.vertex(PROJECT, REGION, ENDPOINT, credentials=FakeCredentials("ya29.d", expired=False),
                                    dedicated=True)  # fmt: skip
    assert client.max_body_bytes == VERTEX_DEDICATED_MAX_BODY_BYTES == 10_000_000
    texts = ["a" * 2_000_000, "b" * 2_000_000, "c" * 2_000_000]  # over 1.5 MB each: one request on a dedicated one
    np.testing.assert_array_equal(client.embed(texts), expected(texts))
    lookup, predict = scripted.seen
    assert (lookup["path"], lookup["body"], lookup["headers"]["authorization"]) == (endpoint, None, "Bearer ya29.d")
    assert predict["path"] == PREDICT and predict["body"]["instances"] == texts and predict["size"] > 6_000_000
    scripted.seen.clear()  # the host given: no lookup
    vertex(scripted, dedicated=True, raw=True).embed("x")
    assert [request["path"] for request in scripted.seen] == [RAW_PREDICT]


def test_a_shared_endpoint_asked_for_as_dedicated_is_an_error(
    scripted: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("embedding_client.vertex.API_HOST", scripted.url)
    scripted.queue.append(Reply(200, {"name": f"projects/{PROJECT}/locations/{REGION}/endpoints/{ENDPOINT}"}))
    credentials = FakeCredentials("ya29.d", expired=False)
    with pytest.raises(ValueError, match="not a dedicated endpoint"):
        EmbeddingClient.vertex(PROJECT, REGION, ENDPOINT, credentials=credentials, dedicated=True)
    scripted.queue.append(Reply(403, {"error": {"code": 403, "message": "Permission 'aiplatform.endpoints.get' "
                                                "denied", "status": "PERMISSION_DENIED"}}))  # fmt: skip
    with pytest.raises(EmbeddingServiceError, match="403 PERMISSION_DENIED"):
        EmbeddingClient.vertex(PROJECT, REGION, ENDPOINT, credentials=credentials, dedicated=True)


def test_predict_sends_instances_and_parameters_and_decodes_the_predictions(scripted: Scripted) -> None:
    client = vertex(scripted, batch_size=4, concurrency=1)
    np.testing.assert_array_equal(client.embed(TEXTS), expected(TEXTS))
    assert [request["path"] for request in scripted.seen] == [PREDICT, PREDICT]
    assert [request["body"] for request in scripted.seen] == [
        {"instances": TEXTS[:4], "parameters": DEFAULTS}, {"instances": TEXTS[4:], "parameters": DEFAULTS},
    ]  # fmt: skip
    for request in scripted.seen:
        assert request["headers"]["authorization"] == "Bearer ya29.fixed"
        assert request["headers"]["content-type"] == "application/json"


def test_predict_carries_the_options_as_parameters(scripted: Scripted) -> None:
    client = vertex(scripted, model="jina-v3")
    result = client.embed(TEXTS[:2], task="retrieval.query", dimensions=8, embedding_type=["float", "binary"],
                          normalized=False, truncate=False)  # fmt: skip
    np.testing.assert_array_equal(result["float"], expected(TEXTS[:2]))
    binary = (np.packbits(expected(TEXTS[:2]) > 0, axis=1) - 128).astype(np.int8)
    np.testing.assert_array_equal(result["binary"], binary)
    assert scripted.seen[0]["body"] == {
        "instances": TEXTS[:2],
        "parameters": {"embedding_type": ["base64", "binary"], "normalized": False, "truncate": False,
                       "model": "jina-v3", "task": "retrieval.query", "dimensions": 8},
    }  # fmt: skip


def test_text_and_image_instances_and_bare_predictions(scripted: Scripted) -> None:
    vectors = expected(["ab", "cde"])
    scripted.queue.append(Reply(200, {"predictions": [base64.b64encode(v.astype("<f4").tobytes()).decode()
                                                      for v in vectors], **VERTEX_FIELDS}))  # fmt: skip
    got = vertex(scripted).embed([{"text": "ab"}, b"\x89PNG"])
    np.testing.assert_array_equal(got, vectors)  # a bare value for a one-type request is that type's value
    assert scripted.seen[0]["body"]["instances"] == [{"text": "ab"}, {"image": base64.b64encode(b"\x89PNG").decode()}]


def test_raw_predict_posts_the_native_body(scripted: Scripted) -> None:
    client = vertex(scripted, raw=True, batch_size=4)
    np.testing.assert_array_equal(client.embed(TEXTS), expected(TEXTS))
    assert [request["path"] for request in scripted.seen] == [RAW_PREDICT, RAW_PREDICT]
    assert scripted.seen[0]["body"] == {**DEFAULTS, "input": TEXTS[:4]}
    assert scripted.seen[0]["headers"]["authorization"] == "Bearer ya29.fixed"


def test_rerank_through_predict_and_raw_predict(scripted: Scripted) -> None:
    documents = ["a long document", "short", "mid doc", "tiny", "x"]
    scores = np.array([text_score(d) for d in documents])
    for raw in (False, True):
        scripted.seen.clear()
        response = vertex(scripted, raw=raw, batch_size=2).rerank("query?", documents, top_n=3)
        np.testing.assert_array_equal(response.scores, scores)
        assert response.indices == sorted(range(5), key=lambda i: (-scores[i], i))[:3]
        assert [r.document for r in response] == [documents[i] for i in response.indices]
        assert len(scripted.seen) == 3
    predicted = vertex(scripted).rerank("query?", documents[:2])
    assert predicted.model == "scripted-vertex" and predicted.total_tokens == 0
    scripted.seen.clear()
    vertex(scripted, model="jina-reranker").rerank({"text": "q"}, ["doc one", "doc"], raw_scores=True)
    assert scripted.seen[0]["path"] == PREDICT and scripted.seen[0]["body"] == {
        "instances": [{"query": "q", "documents": ["doc one", "doc"]}],
        "parameters": {"return_documents": False, "truncate": True, "raw_scores": True, "model": "jina-reranker"},
    }  # fmt: skip


def test_requests_are_cut_at_one_and_a_half_megabytes(scripted: Scripted) -> None:
    texts = [chr(ord("a") + i % 26) * (100_000 + 7_919 * i) for i in range(24)]  # about 3.9 MB of inputs
    client = vertex(scripted, concurrency=3)
    assert client.max_body_bytes == VERTEX_MAX_BODY_BYTES == 1_500_000
    np.testing.assert_array_equal(client.embed(texts), expected(texts))
    sent = sorted(scripted.seen, key=lambda request: texts.index(request["body"]["instances"][0]))
    assert len(sent) >= 3 and all(request["size"] <= 1_500_000 for request in sent)
    assert [text for request in sent for text in request["body"]["instances"]] == texts
    for this, after in zip(sent, sent[1:], strict=False):  # greedy: the next input did not fit
        merged = {"instances": [*this["body"]["instances"], after["body"]["instances"][0]], "parameters": DEFAULTS}
        assert len(dumps(merged)) > 1_500_000 and this["size"] == len(dumps(this["body"]))


def test_the_limit_counts_the_vertex_envelope_to_the_byte(scripted: Scripted) -> None:
    def fill(total: int) -> list[str]:  # two inputs whose :predict body is exactly ``total`` bytes
        base = len(dumps({"instances": ["", ""], "parameters": DEFAULTS}))
        return ["a" * ((total - base) // 2), "b" * (total - base - (total - base) // 2)]

    for raw in (False, True):
        for total, requests in ((1_500_000, 1), (1_500_001, 2)):
            scripted.seen.clear()
            texts = fill(total)
            if raw:  # :rawPredict sends the native body, a few bytes shorter: make that one ``total`` bytes
                texts = fill(total + total - len(dumps({**DEFAULTS, "input": texts})))
                assert len(dumps({**DEFAULTS, "input": texts})) == total
            np.testing.assert_array_equal(vertex(scripted, raw=raw).embed(texts), expected(texts))
            assert len(scripted.seen) == requests
            assert requests == 2 or scripted.seen[0]["size"] == total
    with pytest.raises(ValueError, match=r"input\[0\] alone"):
        vertex(scripted).embed("x" * 1_500_000)


def test_429_and_503_are_retried_honouring_retry_after(scripted: Scripted) -> None:
    scripted.queue += [
        Reply(429, {"error": {"code": 429, "message": "Quota exceeded for online_prediction_requests_per_base_model",
                              "status": "RESOURCE_EXHAUSTED"}}, {"Retry-After": "3"}),
        Reply(503, {"error": {"code": 503, "message": "The service is currently unavailable.",
                              "status": "UNAVAILABLE"}}),
    ]  # fmt: skip
    client = vertex(scripted)
    sleeps = recording(client)
    np.testing.assert_array_equal(client.embed(TEXTS), expected(TEXTS))
    assert sleeps == [3.0, 0.5] and len(scripted.seen) == 3
    assert scripted.seen[0]["body"] == scripted.seen[2]["body"]


def test_google_error_json_is_the_exceptions_status_code_and_message(scripted: Scripted) -> None:
    scripted.queue.append(Reply(400, {"error": {"code": 400, "message": "unknown field 'dimension' in parameters",
                                                "status": "INVALID_ARGUMENT"}}))  # fmt: skip
    client = vertex(scripted)
    sleeps = recording(client)
    with pytest.raises(EmbeddingServiceError) as raised:
        client.embed("x")
    error = raised.value
    assert (error.status, error.code, error.retryable) == (400, "INVALID_ARGUMENT", False)
    assert error.message == "unknown field 'dimension' in parameters" and sleeps == [] and len(scripted.seen) == 1
    scripted.queue += [Reply(503, {"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}})] * 2
    client = vertex(scripted, max_retries=1)
    recording(client)
    with pytest.raises(EmbeddingServiceError, match="503 UNAVAILABLE: busy"):
        client.embed("x")


def test_a_short_or_shapeless_answer_is_an_error(scripted: Scripted) -> None:
    scripted.queue.append(Reply(200, {"predictions": [{"base64": ""}], **VERTEX_FIELDS}))
    with pytest.raises(EmbeddingServiceError, match="sent 2 inputs, got 1 embeddings"):
        vertex(scripted).embed(["a", "b"])
    scripted.queue.append(Reply(200, {"outputs": []}))
    with pytest.raises(EmbeddingServiceError, match="no predictions"):
        vertex(scripted).embed("a")


def test_expired_credentials_are_refreshed_before_the_request() -> None:
    pytest.importorskip("google.auth.transport.requests")
    from google.auth.transport.requests import Request

    from embedding_client.vertex import google_token

    credentials = FakeCredentials()  # no token yet: google.auth.default() hands back such credentials
    token = google_token(credentials)
    assert token() == "ya29.token-1" and token() == "ya29.token-1"
    credentials.expired = True
    assert token() == "ya29.token-2"
    assert len(credentials.refreshed_with) == 2 and all(isinstance(r, Request) for r in credentials.refreshed_with)


def test_each_request_carries_the_current_token(scripted: Scripted) -> None:
    pytest.importorskip("google.auth.transport.requests")
    credentials = FakeCredentials()
    client = vertex(scripted, credentials, batch_size=2)
    client.embed(TEXTS[:4])
    credentials.expired = True
    client.embed(TEXTS[:2])
    assert [r["headers"]["authorization"] for r in scripted.seen] == ["Bearer ya29.token-1"] * 2 + [
        "Bearer ya29.token-2"
    ]


def test_without_google_auth_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("google", "google.auth", "google.auth.transport", "google.auth.transport.requests"):
        monkeypatch.setitem(sys.modules, name, None)  # importing any of them raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'jina-class-embedding-client\[vertex\]'"):
        EmbeddingClient.vertex(PROJECT, REGION, ENDPOINT)
    with pytest.raises(ImportError, match="google-auth"):
        EmbeddingClient.vertex(PROJECT, REGION, ENDPOINT, credentials=FakeCredentials()).embed("x")
