"""The batch transform job that ``infra.sagemaker`` creates, played against the real server.

``marketplace.local_transform`` does what the transform data plane does with the job's settings (split
lines, pack ``MaxPayloadInMB``, POST with ``ContentType``/``Accept``, assemble); the server runs with the
job's ``Environment``. Every input line must come back as one output line, in input order, with the record
options applied: line i must hold exactly the embedding of input line i, computed here in-process by the same
deterministic fake model (one text per JSON request, with the job's record options).
"""

from __future__ import annotations

import json
import os

import pytest
from client_testing import start_server

from inference.api.app import create_app
from infra.sagemaker.transform import TransformConfig, transform_job_call
from marketplace.local_transform import MB, TransformSpec, run_file
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def job() -> dict:
    cfg = TransformConfig(job_name="j", model_name="m", input_s3="s3://in/", output_s3="s3://out/",
                          record_options={"dimensions": 8, "embedding_type": "ubinary"}, max_payload_mb=1)  # fmt: skip
    return transform_job_call(cfg).params


@pytest.fixture(scope="module")
def job_server(job: dict):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMB_", "SAGEMAKER_", "MODEL_DIR", "AZUREML"))}
    proc, url = start_server({**env, "EMB_HANDLER": "fake", **job["Environment"]})
    yield url
    proc.kill()
    proc.wait()


def expected_embeddings(texts: list[str], options: dict) -> list:
    """Each text alone in a JSON request, with ``options``, to an in-process app on the same fake model."""
    client = create_app(make_settings(handler="fake", log_level="WARNING"), load_in_background=False).test_client()
    replies = [client.post("/invocations", json={"input": text, **options}) for text in texts]
    assert all(reply.status_code == 200 for reply in replies)
    return [reply.get_json()["data"][0]["embedding"] for reply in replies]


def test_every_line_comes_back_once_in_order_with_the_record_options(job: dict, job_server: str) -> None:
    # Words of their own per line (the fake model embeds a text as the mean of its word vectors), so that lines
    # get different embeddings even in 8 sign bits. 1.2 MB: two requests.
    texts = [f"document {i} " + " ".join(f"w{i}.{k}" for k in range(150 + i % 200)) for i in range(600)]
    lines = [json.dumps(text) for text in texts]
    spec = TransformSpec(
        content_type=job["TransformInput"]["ContentType"],
        accept=job["TransformOutput"]["Accept"],
        strategy=job["BatchStrategy"],
        max_payload_bytes=job["MaxPayloadInMB"] * MB,
    )
    assert job["TransformInput"]["SplitType"] == "Line" and job["TransformOutput"]["AssembleWith"] == "Line"
    output = run_file(job_server, ("\n".join(lines) + "\n").encode(), spec).decode().splitlines()
    assert len(output) == len(lines)
    records = [json.loads(line) for line in output]
    assert all(len(record["embedding"]) == 1 for record in records)  # 8 dimensions, packed into one byte
    assert records[0]["index"] == 0 and any(record["index"] == 0 for record in records[1:])  # new request
    options = json.loads(job["Environment"]["EMB_RECORD_OPTIONS"])
    assert options == {"dimensions": 8, "embedding_type": "ubinary"}
    expected = expected_embeddings(texts, options)
    assert len({tuple(embedding) for embedding in expected}) > 64  # lines differ, so a reordering shows
    mismatched = [i for i, record in enumerate(records) if record["embedding"] != expected[i]]
    assert not mismatched, f"{len(mismatched)} lines differ from their input's embedding, first: {mismatched[:5]}"
