"""A real server (gunicorn, one worker, the embedded all-MiniLM-L6-v2 on CPU) and answers SageMaker could not return.

2048 short texts with ``float`` output used to be embedded in full and answered 200 with a 9.74 MB body, which
SageMaker real-time (6 MB) drops after all the model work. Now a plain ``invoke_endpoint`` (``POST /invocations``,
``application/json``) of 2048 texts gets 413 ``response_too_large`` at once, naming how many inputs fit, and the
model never runs (the ``embed_batch_size`` histogram, one sample per forward pass, does not move); base64, or the
number of inputs the message names, is answered 200 within 6 MB.
"""

from __future__ import annotations

import json

import boto3
import botocore.exceptions
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.reliability.harness import post_json, request

TEXTS = [f"the quick brown fox {i} jumps over the lazy dog" for i in range(2048)]
LIMIT = 6_000_000
SECONDS = 1.0


def forward_passes(port: int) -> float:
    reply = request(port, "GET", "/metrics")
    families = {family.name: family for family in text_string_to_metric_families(reply.body.decode())}
    return sum(s.value for s in families["embed_batch_size"].samples if s.name == "embed_batch_size_count")


def test_2048_floats_are_refused_at_once_before_any_model_work(minilm_server):
    port = minilm_server.port
    before = forward_passes(port)
    reply = post_json(port, {"input": TEXTS})
    assert reply.status == 413, reply.body[:300]
    error = reply.json()["error"]
    assert error["type"] == "response_too_large"
    assert "2048 inputs (384-dimension float embeddings)" in error["message"]
    assert "At most 912 such inputs fit in one request" in error["message"]
    assert '"embedding_type": "base64" (little-endian float32: 2048 of these inputs fit)' in error["message"]
    assert reply.seconds < SECONDS, reply.seconds
    assert forward_passes(port) == before  # no forward pass ran for it
    logged = [r for r in minilm_server.log_records() if r.get("status") == 413 and r.get("path") == "/invocations"]
    assert logged and logged[-1]["inputs"] == 2048


@pytest.mark.parametrize(("body", "count"), [({"input": TEXTS, "embedding_type": "base64"}, 2048),
                                             ({"input": TEXTS[:912]}, 912)])  # fmt: skip
def test_what_the_message_names_is_answered_within_6_mb(minilm_server, body, count):
    reply = post_json(minilm_server.port, body, timeout=120)
    assert reply.status == 200, reply.body[:300]
    assert len(reply.json()["data"]) == count and len(reply.body) <= LIMIT


def test_boto3_invoke_endpoint_gets_the_reason(minilm_server):
    runtime = boto3.client("sagemaker-runtime", endpoint_url=minilm_server.url, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        runtime.invoke_endpoint(EndpointName="emb", ContentType="application/json", Body=json.dumps({"input": TEXTS}))
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
