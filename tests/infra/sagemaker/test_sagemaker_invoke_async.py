"""`invoke --async-input-s3`: the CLI uploads the request to S3 (moto, in-process), calls InvokeEndpointAsync on the
client tests' HTTP fake of sagemaker-runtime (botocore's real serialisation), which runs it on a scripted container
and writes the answer to S3, and prints the vectors; `--serverless` with it is refused. Each request carries
InvocationTimeoutSeconds 3600 (the container's async deadline) unless told otherwise, checked against the model."""

from __future__ import annotations

import json
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import boto3
import numpy as np
import pytest
from moto import mock_aws
from sagemaker_shapes import assert_valid, input_shape

from embedding_client.asynchronous import DEFAULT_INVOCATION_TIMEOUT_S, INVOCATION_TIMEOUT_RANGE_S, REQUEST_TTL_RANGE_S
from inference.settings import MODE_DEFAULTS
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


def test_invoke_async_sends_the_containers_deadline_as_the_invocation_timeout(async_endpoint, capsys):
    """InvokeEndpointAsync expires a request after 900 s unless told otherwise, while the container gives async
    requests 3600 s: the CLI sends InvocationTimeoutSeconds 3600 (or --invocation-timeout) and --request-ttl."""
    fake, _ = async_endpoint
    sent: list[dict] = []
    session = boto3.Session(region_name="us-east-1")
    session.events.register("before-parameter-build.sagemaker-runtime.InvokeEndpointAsync",
                            lambda params, **_: sent.append(dict(params)))  # fmt: skip
    base = ["invoke", "--endpoint-name", "emb", "--region", "us-east-1", "--endpoint-url", fake.url,
            "--async-input-s3", "s3://async-in/requests", "--text", "first text"]  # fmt: skip
    assert main(base, session) == 0
    assert main([*base, "--invocation-timeout", "600", "--request-ttl", "7200"], session) == 0
    capsys.readouterr()
    headers = [(seen.get("invocationtimeoutseconds"), seen.get("requestttlseconds")) for seen in fake.requests]
    assert headers == [("3600", None), ("600", "7200")]  # what reached the endpoint, as botocore serialised it
    limits = [(params.get("InvocationTimeoutSeconds"), params.get("RequestTTLSeconds")) for params in sent]
    assert limits == [(3600, None), (600, 7200)]
    for params in sent:
        assert_valid("sagemaker-runtime", "InvokeEndpointAsync", params)
    assert DEFAULT_INVOCATION_TIMEOUT_S == MODE_DEFAULTS["request_deadline_s"]["async"]  # the container's deadline
    shape = input_shape("sagemaker-runtime", "InvokeEndpointAsync").members
    for name, bounds in (("InvocationTimeoutSeconds", INVOCATION_TIMEOUT_RANGE_S),
                         ("RequestTTLSeconds", REQUEST_TTL_RANGE_S)):  # fmt: skip
        assert (shape[name].metadata["min"], shape[name].metadata["max"]) == bounds


@pytest.mark.parametrize(
    ("extra", "refused"),
    [
        (["--async-input-s3", "s3://async-in/requests", "--invocation-timeout", "7200"], "1-3600"),
        (["--async-input-s3", "s3://async-in/requests", "--request-ttl", "30"], "60-21600"),
        (["--request-ttl", "600"], "--request-ttl is for async endpoints"),
    ],
)
def test_timeouts_outside_the_api_are_refused_before_any_call(extra, refused, capsys, monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    sent: list[str] = []
    session = boto3.Session(region_name="us-east-1")
    session.events.register("before-call", lambda model, **_: sent.append(model.name))
    code = main(["invoke", "--endpoint-name", "emb", "--region", "us-east-1", "--text", "x", *extra], session)
    assert code == 2 and refused in capsys.readouterr().err
    assert sent == []
