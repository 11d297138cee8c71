"""`invoke --async-input-s3`: the CLI uploads the request to S3 (moto, in-process), calls InvokeEndpointAsync on the
client tests' HTTP fake of sagemaker-runtime (botocore's real serialisation), which runs it on a scripted container
and writes the answer to S3, and prints the vectors; `--serverless` with it is refused."""

from __future__ import annotations

import json
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import boto3
import numpy as np
import pytest
from moto import mock_aws

from infra.sagemaker.cli import main

CLIENT_TESTS = Path(__file__).resolve().parents[3] / "client" / "tests"


@pytest.fixture
def async_endpoint(monkeypatch):
    monkeypatch.syspath_prepend(str(CLIENT_TESTS))
    from async_runtime import FakeAsyncRuntime, serve
    from scripted import Scripted, handler_for

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in ("async-in", "async-out"):
            s3.create_bucket(Bucket=bucket)
        container = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state := Scripted("")))
        state.url = f"http://127.0.0.1:{container.server_port}"
        threading.Thread(target=container.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        fake = FakeAsyncRuntime(state.url, s3)
        runtime = serve(fake)
        try:
            yield fake, state
        finally:
            fake.release()
            fake.join()
            for server in (runtime, container):
                server.shutdown()
                server.server_close()


def test_invoke_async_round_trip(async_endpoint, capsys):
    from scripted import text_vector

    fake, container = async_endpoint
    code = main(["invoke", "--endpoint-name", "emb", "--region", "us-east-1", "--endpoint-url", fake.url,
                 "--async-input-s3", "s3://async-in/requests", "--text", "first text", "--text", "second"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    vectors = np.asarray(json.loads(out)["embeddings"], dtype=np.float32)
    np.testing.assert_allclose(vectors, [text_vector("first text"), text_vector("second")], rtol=1e-6)
    assert len(fake.requests) == 1 and fake.requests[0]["endpoint"] == "emb"
    assert fake.requests[0]["inputlocation"].startswith("s3://async-in/requests")
    assert len(container.seen) == 1  # one request, run by the container behind the async endpoint


def test_serverless_and_async_together_are_refused(capsys):
    code = main(["invoke", "--endpoint-name", "emb", "--region", "us-east-1", "--serverless",
                 "--async-input-s3", "s3://b/p", "--text", "x"])  # fmt: skip
    assert code == 2 and "give one" in capsys.readouterr().err
