"""Retries, backoff, auth headers and ordering against a real (scripted) HTTP server; sleeps are recorded."""

from __future__ import annotations

import socket
from typing import Any

import numpy as np
import pytest
from scripted import Reply, Scripted, expected, recording

from embedding_client import EmbeddingClient, EmbeddingServiceError

TEXTS = ["alpha", "beta gamma", "delta", "epsilon zeta eta", "theta", "iota kappa"]
SAGEMAKER_ERROR = "x-amzn-ErrorType"




def test_http_503_and_429_are_retried_honouring_retry_after(scripted: Scripted) -> None:
    scripted.queue += [
        Reply(503, {"error": {"type": "overloaded", "message": "queue full"}}, {"Retry-After": "2"}),
        Reply(429, {"error": {"type": "rate_limited", "message": "slow down"}}),
    ]
    client = EmbeddingClient.local(scripted.url)
    sleeps = recording(client)
    np.testing.assert_array_equal(client.embed(TEXTS), expected(TEXTS))
    assert sleeps == [2.0, 0.5]  # max(jitter 0.25, Retry-After 2); then 0.5 * min(20, 0.5 * 2**1)
    assert len(scripted.seen) == 3 and scripted.seen[0]["body"] == scripted.seen[2]["body"]
    assert scripted.seen[0]["path"] == "/invocations"


def test_sagemaker_throttling_and_model_error_503_are_retried(scripted: Scripted, fake_aws: None) -> None:
    scripted.queue += [
        Reply(400, {"message": "Rate exceeded"}, {SAGEMAKER_ERROR: "ThrottlingException"}),
        Reply(
            424,
            {
                "Message": "Received server error (503) from primary",
                "OriginalStatusCode": 503,
                "OriginalMessage": "model is loading",
            },
            {SAGEMAKER_ERROR: "ModelError"},
        ),  # fmt: skip
        Reply(429, {"message": "model not ready"}, {SAGEMAKER_ERROR: "ModelNotReadyException"}),
    ]
    client = EmbeddingClient("emb", "us-east-1", endpoint_url=scripted.url)
    sleeps = recording(client)
    np.testing.assert_array_equal(client.embed(TEXTS), expected(TEXTS))
    assert len(sleeps) == 3 and len(scripted.seen) == 4
    assert scripted.seen[0]["path"] == "/endpoints/emb/invocations"  # boto3 sagemaker-runtime's own request


def test_a_container_400_inside_model_error_is_not_retried(scripted: Scripted, fake_aws: None) -> None:
    scripted.queue.append(
        Reply(424, {"Message": "Received client error (400)", "OriginalStatusCode": 400,
                    "OriginalMessage": '{"error": {"message": "input[0] is empty"}}'}, {SAGEMAKER_ERROR: "ModelError"})
    )  # fmt: skip
    client = EmbeddingClient("emb", "us-east-1", endpoint_url=scripted.url)
    sleeps = recording(client)
    with pytest.raises(EmbeddingServiceError) as raised:
        client.embed(TEXTS)
    assert (raised.value.status, raised.value.code, raised.value.retryable) == (400, "ModelError", False)
    assert "input[0] is empty" in raised.value.message and sleeps == [] and len(scripted.seen) == 1


def test_retries_give_up_after_max_retries(scripted: Scripted) -> None:
    scripted.queue += [Reply(503, {"error": {"type": "overloaded", "message": "busy"}})] * 3
    client = EmbeddingClient.local(scripted.url, max_retries=2, backoff_max_s=0.75)
    sleeps = recording(client)
    with pytest.raises(EmbeddingServiceError, match="503 overloaded: busy"):
        client.embed(TEXTS)
    assert sleeps == [0.25, 0.375] and len(scripted.seen) == 3  # the second delay is capped by backoff_max_s


def test_connection_refused_is_retried_then_raised() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nothing listens there
    client = EmbeddingClient.local(f"http://127.0.0.1:{port}", max_retries=1)
    sleeps = recording(client)
    with pytest.raises(EmbeddingServiceError) as raised:
        client.embed("x")
    assert raised.value.status == 0 and raised.value.code == "connection_error" and len(sleeps) == 1


def test_azure_sends_the_key_and_deployment_and_splits_in_order(scripted: Scripted) -> None:
    client = EmbeddingClient.azure(f"{scripted.url}/score", "secret-key", deployment="blue", batch_size=2,
                                   concurrency=3)  # fmt: skip
    np.testing.assert_array_equal(client.embed(TEXTS), expected(TEXTS))
    assert len(scripted.seen) == 3
    for request in scripted.seen:
        assert request["path"] == "/score"
        assert request["headers"]["authorization"] == "Bearer secret-key"
        assert request["headers"]["azureml-model-deployment"] == "blue"
    assert sorted(text for r in scripted.seen for text in r["body"]["input"]) == sorted(TEXTS)


def test_float_is_fetched_as_base64_and_options_are_sent(scripted: Scripted) -> None:
    client = EmbeddingClient.local(scripted.url, model="jina-v3")
    result = client.embed(TEXTS[:2], task="retrieval.query", dimensions=8, embedding_type=["float", "binary"])
    np.testing.assert_array_equal(result["float"], expected(TEXTS[:2]))
    np.testing.assert_array_equal(
        result["binary"], (np.packbits(expected(TEXTS[:2]) > 0, axis=1) - 128).astype(np.int8)
    )
    assert scripted.seen[0]["body"] == {
        "embedding_type": ["base64", "binary"], "normalized": True, "truncate": True, "model": "jina-v3",
        "task": "retrieval.query", "dimensions": 8, "input": TEXTS[:2],
    }  # fmt: skip


def test_a_short_answer_is_an_error(scripted: Scripted) -> None:
    scripted.queue.append(Reply(200, {"data": [{"index": 0, "embedding": {"base64": ""}}]}))
    with pytest.raises(EmbeddingServiceError, match="sent 2 inputs, got 1 embeddings"):
        EmbeddingClient.local(scripted.url).embed(["a", "b"])


# --- Azure ML wraps the container's non-200 answers in HTTP 424 --------------------------------------------------
def azure_424(status: int, message: str, retry_after: str | None = None) -> Reply:
    headers = {"ms-azureml-model-error-statuscode": str(status), "ms-azureml-model-error-reason": "model_error"}
    if retry_after:
        headers["Retry-After"] = retry_after
    return Reply(424, {"error": {"type": "overloaded" if status == 503 else "invalid_request_error",
                                 "message": message}}, headers)  # fmt: skip


def test_azure_424_wrapping_a_503_is_retried_honouring_retry_after(scripted: Scripted) -> None:
    scripted.queue.append(azure_424(503, "worker at capacity", retry_after="2"))
    client = EmbeddingClient.azure(f"{scripted.url}/score", "k", max_retries=2)
    sleeps = recording(client)
    np.testing.assert_array_equal(client.embed(TEXTS[:2]), expected(TEXTS[:2]))
    assert len(scripted.seen) == 2 and len(sleeps) == 1 and sleeps[0] >= 2


def test_azure_424_wrapping_a_400_surfaces_the_containers_status_and_message(scripted: Scripted) -> None:
    scripted.queue.append(azure_424(400, "unknown field 'dimension'; did you mean 'dimensions'?"))
    client = EmbeddingClient.azure(f"{scripted.url}/score", "k", max_retries=2)
    sleeps = recording(client)
    with pytest.raises(EmbeddingServiceError) as raised:
        client.embed("x")
    assert raised.value.status == 400 and "did you mean 'dimensions'" in str(raised.value) and sleeps == []
    assert len(scripted.seen) == 1


def test_azure_credential_is_asked_for_a_token_before_every_request(scripted: Scripted) -> None:
    class Credential:  # the azure-identity TokenCredential interface: get_token(*scopes) -> AccessToken-like
        def __init__(self) -> None:
            self.calls: list[tuple[str, ...]] = []

        def get_token(self, *scopes: str) -> Any:
            self.calls.append(scopes)
            return type("AccessToken", (), {"token": f"token-{len(self.calls)}", "expires_on": 0})()

    credential = Credential()
    client = EmbeddingClient.azure(f"{scripted.url}/score", credential=credential, batch_size=2, concurrency=1)
    client.embed(TEXTS[:4])
    assert [r["headers"]["authorization"] for r in scripted.seen] == ["Bearer token-1", "Bearer token-2"]
    assert credential.calls == [("https://ml.azure.com/.default",)] * 2
    with pytest.raises(ValueError, match="one of them"):
        EmbeddingClient.azure(f"{scripted.url}/score")
