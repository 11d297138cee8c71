"""Batch Transform against a real server process (gunicorn, embedded model): jsonlines and CSV files go through
SageMaker's data plane as ``marketplace.local_transform`` reproduces it, MultiRecord and SingleRecord, and every
output line is the embedding of its input line, in order."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import requests
from sentence_transformers import SentenceTransformer

from marketplace.local_server import local_server
from marketplace.local_transform import MB, TransformSpec, execution_parameters, run_file

TEXTS = [
    "How is the weather today?",
    "Wie ist das Wetter heute?",
    "comma, inside",
    'a "quoted" word',
    "ünïcödé ✓ 東京",
    "a somewhat longer sentence about search " * 20,
] + [f"record number {i}" for i in range(14)]


@pytest.fixture(scope="module")
def server():
    # A deadline long enough that MaxPayloadInMB is the body limit, not what the deadline allows on this CPU
    # (tests/api/test_batch_transform.py checks that part).
    env = {"SAGEMAKER_MAX_PAYLOAD_IN_MB": "2", "EMB_THREADS": "8", "EMB_REQUEST_DEADLINE_S": "3600"}
    with local_server(env) as url:
        yield url


@pytest.fixture(scope="module")
def reference(minilm_dir):
    return SentenceTransformer(str(minilm_dir), device="cpu").encode(TEXTS, normalize_embeddings=True)


def jsonl_file() -> bytes:
    # All record forms a line may take.
    forms = [lambda t: t, lambda t: {"text": t}, lambda t: {"input": t}, lambda t: {"input": [t]}]
    return "".join(json.dumps(forms[i % 4](t)) + "\n" for i, t in enumerate(TEXTS)).encode()


def csv_file() -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([t] for t in TEXTS)
    return out.getvalue().encode()


@pytest.mark.parametrize(("content_type", "make"), [("application/jsonlines", jsonl_file), ("text/csv", csv_file)])
@pytest.mark.parametrize(
    ("strategy", "max_payload"), [("MultiRecord", None), ("MultiRecord", 1000), ("SingleRecord", None)]
)
def test_file_round_trips_in_order(server, reference, content_type, make, strategy, max_payload):
    spec = TransformSpec(content_type, strategy=strategy, max_payload_bytes=max_payload)
    lines = run_file(server, make(), spec).decode().splitlines()
    assert len(lines) == len(TEXTS)
    got = np.array([json.loads(line)["embedding"] for line in lines], dtype=np.float32)
    assert (got * reference).sum(axis=1).min() >= 0.9999  # line i is the embedding of text i


def test_execution_parameters_follow_the_transform_jobs_payload_limit(server):
    assert execution_parameters(server) == ("MultiRecord", 2 * MB)
    big = b'"' + b"x" * (2 * MB) + b'"'
    response = requests.post(
        f"{server}/invocations", data=big, headers={"Content-Type": "application/jsonlines"}, timeout=60
    )
    assert response.status_code == 413


def test_metering_header_and_content_type_over_http(server):
    response = requests.post(f"{server}/invocations", data=csv_file(), headers={"Content-Type": "text/csv"}, timeout=60)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/jsonlines")
    assert json.loads(response.headers["X-Amzn-Inference-Metering"]) == {
        "Dimension": "inference.count",
        "ConsumedUnits": len(TEXTS),
    }
    bad = requests.post(f"{server}/invocations", data=b'"ok"\n[1]', headers={"Content-Type": "application/jsonlines"})
    assert bad.status_code == 400 and "X-Amzn-Inference-Metering" not in bad.headers
    assert bad.json()["error"]["message"].startswith("line 2:")
