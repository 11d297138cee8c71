"""The client against the real server process, over real boto3 ``sagemaker-runtime`` and plain HTTP."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import numpy as np
import pytest
import requests

from embedding_client import EmbeddingClient, EmbeddingServiceError

TEXTS = [f"document number {i} about {'search ' * (i % 5)}embeddings" for i in range(23)]


def direct(url: str, **body: Any) -> list[Any]:
    """The server's own answer over plain HTTP (no client code involved)."""
    response = requests.post(f"{url}/invocations", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return [entry["embedding"] for entry in sorted(response.json()["data"], key=lambda e: e["index"])]


@pytest.fixture
def sagemaker(local_server: str, fake_aws: None) -> EmbeddingClient:
    return EmbeddingClient("my-endpoint", "us-east-1", endpoint_url=local_server)


def test_unchanged_boto3_code_reaches_the_local_server(local_server: str, fake_aws: None) -> None:
    runtime = boto3.client("sagemaker-runtime", region_name="us-east-1", endpoint_url=local_server)
    response = runtime.invoke_endpoint(
        EndpointName="my-endpoint", ContentType="application/json", Accept="application/json",
        Body=json.dumps({"input": ["hello world"]}),
    )  # fmt: skip
    assert response["ContentType"].startswith("application/json")
    assert json.loads(response["Body"].read())["data"][0]["embedding"] == direct(local_server, input=["hello world"])[0]


def test_sagemaker_client_round_trip_matches_the_server_exactly(sagemaker: EmbeddingClient, local_server: str) -> None:
    vectors = sagemaker.embed(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), 32)
    np.testing.assert_array_equal(vectors, np.array(direct(local_server, input=TEXTS), dtype=np.float32))


def test_every_embedding_type_decodes_to_the_servers_values(sagemaker: EmbeddingClient, local_server: str) -> None:
    for kind, dtype in (("binary", np.int8), ("ubinary", np.uint8)):
        packed = sagemaker.embed(TEXTS[:5], embedding_type=kind)
        assert packed.dtype == dtype and packed.shape == (5, 4)
        np.testing.assert_array_equal(packed, np.array(direct(local_server, input=TEXTS[:5], embedding_type=kind)))
    raw = direct(local_server, input=TEXTS[:5], embedding_type="base64")
    decoded = np.stack([np.frombuffer(base64.b64decode(value), "<f4") for value in raw])
    np.testing.assert_array_equal(sagemaker.embed(TEXTS[:5], embedding_type="base64"), decoded)
    several = sagemaker.embed(TEXTS[:5], embedding_type=["float", "ubinary"])
    assert set(several) == {"float", "ubinary"}
    np.testing.assert_array_equal(several["float"], decoded)
    np.testing.assert_array_equal(several["ubinary"], np.packbits(decoded > 0, axis=1))


def test_options_reach_the_model(sagemaker: EmbeddingClient, local_server: str) -> None:
    short = sagemaker.embed(TEXTS[:3], dimensions=8, task="query", normalized=False)
    expected = direct(local_server, input=TEXTS[:3], dimensions=8, task="query", normalized=False)
    np.testing.assert_array_equal(short, np.array(expected, dtype=np.float32))
    assert not np.array_equal(short, sagemaker.embed(TEXTS[:3], dimensions=8, normalized=False))  # task matters
    single = sagemaker.embed("just one")
    assert single.shape == (32,)


def test_split_requests_and_concurrency_keep_the_order(local_server: str, fake_aws: None) -> None:
    whole = EmbeddingClient("e", "us-east-1", endpoint_url=local_server).embed(TEXTS)
    by_count = EmbeddingClient("e", "us-east-1", endpoint_url=local_server, batch_size=4, concurrency=3)
    by_bytes = EmbeddingClient("e", "us-east-1", endpoint_url=local_server, max_body_bytes=300)
    np.testing.assert_array_equal(by_count.embed(TEXTS), whole)
    np.testing.assert_array_equal(by_bytes.embed(TEXTS), whole)


def test_more_inputs_than_the_server_accepts_are_split(local_server: str, fake_aws: None) -> None:
    texts = [f"text {i}" for i in range(150)]  # the server is started with EMB_MAX_INPUTS=64
    with pytest.raises(EmbeddingServiceError) as raised:
        EmbeddingClient("e", "us-east-1", endpoint_url=local_server, batch_size=150, max_retries=0).embed(texts)
    assert raised.value.status == 400 and not raised.value.retryable
    vectors = EmbeddingClient("e", "us-east-1", endpoint_url=local_server, batch_size=64).embed(texts)
    np.testing.assert_array_equal(vectors[100], EmbeddingClient.local(local_server).embed("text 100"))


def test_local_client_and_server_errors(local_server: str) -> None:
    client = EmbeddingClient.local(local_server)
    np.testing.assert_array_equal(client.embed(TEXTS[:2]), np.array(direct(local_server, input=TEXTS[:2]), np.float32))
    with pytest.raises(EmbeddingServiceError) as raised:
        client.embed(["fine", "   "])
    assert raised.value.status == 400 and raised.value.code == "invalid_request_error"
    assert "input[1] is empty" in raised.value.message
