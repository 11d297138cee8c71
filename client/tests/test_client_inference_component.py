"""``inference_component``: every InvokeEndpoint names the component (``InferenceComponentName``), checked with
botocore's Stubber (which validates the request against the sagemaker-runtime service model)."""

from __future__ import annotations

import base64
import io
import json

import boto3
import numpy as np
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from embedding_client import EmbeddingClient, SageMakerTransport


def runtime() -> object:
    return boto3.client("sagemaker-runtime", region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x", endpoint_url="http://127.0.0.1:9")  # fmt: skip


def answer(payload: object) -> dict[str, object]:
    raw = json.dumps(payload).encode()
    return {"Body": StreamingBody(io.BytesIO(raw), len(raw)), "ContentType": "application/json"}


def test_embed_targets_the_component() -> None:
    client = runtime()
    vector = base64.b64encode(np.array([1.0, 2.0], dtype="<f4").tobytes()).decode()
    row = {"object": "embedding", "index": 0, "embedding": {"base64": vector}}
    body = {"object": "list", "model": "m", "data": [row],
            "usage": {"prompt_tokens": 1, "total_tokens": 1}}  # fmt: skip
    with Stubber(client) as stub:
        stub.add_response("invoke_endpoint", answer(body), {
            "EndpointName": "search", "InferenceComponentName": "search-embedder", "Body": ANY,
            "ContentType": "application/json", "Accept": "application/json"})  # fmt: skip
        embedder = EmbeddingClient("search", boto_client=client, inference_component="search-embedder")
        vectors = embedder.embed(["hello"])
        stub.assert_no_pending_responses()
    assert np.asarray(vectors).tolist() == [[1.0, 2.0]]


def test_transport_sends_no_component_unless_given() -> None:
    client = runtime()
    with Stubber(client) as stub:
        stub.add_response("invoke_endpoint", answer({}), {"EndpointName": "emb", "Body": b"{}",
                                                          "ContentType": "application/json",
                                                          "Accept": "application/json"})  # fmt: skip
        assert SageMakerTransport("emb", boto_client=client).post(b"{}") == b"{}"
        stub.add_response("invoke_endpoint", answer({}), {"EndpointName": "emb", "Body": b"{}",
                                                          "InferenceComponentName": "emb-reranker",
                                                          "ContentType": "application/json",
                                                          "Accept": "application/json"})  # fmt: skip
        assert SageMakerTransport("emb", boto_client=client, inference_component="emb-reranker").post(b"{}") == b"{}"


def test_async_and_variants_cannot_take_a_component() -> None:
    with pytest.raises(ValueError, match="InvokeEndpointAsync cannot target"):
        SageMakerTransport("e", boto_client=runtime(), inference_component="c").invoke_async("s3://b/k")
    with pytest.raises(ValueError, match="not both"):
        SageMakerTransport("e", boto_client=runtime(), target_variant="v", inference_component="c")
    with pytest.raises(ValueError, match="real-time SageMaker endpoint"):
        EmbeddingClient("e", boto_client=runtime(), mode="async", s3_input_uri="s3://b/p", inference_component="c")

