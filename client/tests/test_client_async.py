"""Async inference (S3 + InvokeEndpointAsync) and the per-mode body limits.

The round trip: the client uploads to moto's S3 (in-process ``mock_aws``: moto's server mode needs Flask, which
the client-only venv must not hold), calls ``InvokeEndpointAsync`` on ``async_runtime.FakeAsyncRuntime`` (real
HTTP, botocore's own serialization), which runs the request on the real local server (or the scripted one) and
writes the answer or the error to S3, where the client polls for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import numpy as np
import pytest
from async_runtime import FakeAsyncRuntime, serve
from moto import mock_aws
from scripted import Scripted, text_score, text_vector

from embedding_client import (
    AsyncInferenceError,
    AsyncInferenceTimeout,
    AsyncInvocation,
    AsyncJob,
    EmbeddingClient,
    EmbeddingServiceError,
)
from embedding_client.asynchronous import (
    DEFAULT_INVOCATION_TIMEOUT_S,
    INVOCATION_TIMEOUT_RANGE_S,
    REQUEST_TTL_RANGE_S,
    S3Objects,
)

TEXTS = [f"async document {i} about {'retrieval ' * (i % 4)}vectors" for i in range(19)]
INPUT_URI = "s3://async-in/requests"
Factory = Callable[..., FakeAsyncRuntime]


@pytest.fixture
def s3(fake_aws: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        for bucket in ("async-in", "async-out"):
            client.create_bucket(Bucket=bucket)
        yield client


@pytest.fixture
def runtime(s3: Any) -> Iterator[Factory]:
    """Start fakes of InvokeEndpointAsync in front of a target URL; all stopped at the end."""
    started: list[tuple[FakeAsyncRuntime, Any]] = []

    def start(target: str, **settings: Any) -> FakeAsyncRuntime:
        fake = FakeAsyncRuntime(target, s3, **settings)
        started.append((fake, serve(fake)))
        return fake

    yield start
    for fake, server in started:
        fake.release()
        fake.join()
        server.shutdown()
        server.server_close()


def async_client(fake: FakeAsyncRuntime, s3: Any, **kwargs: Any) -> EmbeddingClient:
    client = EmbeddingClient(
        "my-async-endpoint", "us-east-1", endpoint_url=fake.url, s3_client=s3, s3_input_uri=INPUT_URI, **kwargs
    )
    client.poll_initial_s = 0.02  # the fake answers in milliseconds
    return client


def test_async_round_trip_matches_the_real_time_call(runtime: Factory, s3: Any, local_server: str) -> None:
    fake = runtime(local_server)
    client = async_client(fake, s3)
    realtime = EmbeddingClient("my-endpoint", "us-east-1", endpoint_url=local_server)
    for options in ({}, {"task": "query", "dimensions": 16, "normalized": False}):
        vectors = client.embed_async(TEXTS, **options)
        assert vectors.dtype == np.float32 and vectors.shape[0] == len(TEXTS)
        np.testing.assert_allclose(vectors, realtime.embed(TEXTS, **options), rtol=0, atol=1e-7)
    several = client.embed_async(TEXTS[:4], embedding_type=["float", "ubinary"], invocation_timeout_s=120)
    expected = realtime.embed(TEXTS[:4], embedding_type=["float", "ubinary"])
    np.testing.assert_array_equal(several["ubinary"], expected["ubinary"])
    np.testing.assert_allclose(several["float"], expected["float"], rtol=0, atol=1e-7)
    assert client.embed_async("one text").shape == (32,)

    request = fake.requests[-2]  # the embedding_type list call: what botocore sent
    assert request["endpoint"] == "my-async-endpoint" and request["content-type"] == "application/json"
    assert request["invocationtimeoutseconds"] == "120"
    assert request["inputlocation"] == f"{INPUT_URI}/{request['inference_id']}.json"
    assert len(fake.requests) == 4 and all("inputlocation" in seen for seen in fake.requests)  # one request each


def test_the_handle_names_the_locations_and_waits_later(runtime: Factory, s3: Any, local_server: str) -> None:
    fake = runtime(local_server, hold=True)
    client = async_client(fake, s3)
    job = client.submit_embed_async(TEXTS[:3], inference_id="job-1", s3_uri="s3://async-in/elsewhere/")
    assert job.inference_ids == ["job-1"]
    assert job.output_locations == ["s3://async-out/results/job-1.out"]
    assert job.failure_locations == ["s3://async-out/failures/job-1-error.out"]
    assert job.invocations[0].input_location == "s3://async-in/elsewhere/job-1.json"
    assert not job.done()
    fake.release()
    vectors = job.wait(timeout_s=30)
    assert job.done()
    np.testing.assert_allclose(vectors, EmbeddingClient.local(local_server).embed(TEXTS[:3]), rtol=0, atol=1e-7)


def test_a_failure_object_raises_with_the_servers_error(runtime: Factory, s3: Any, local_server: str) -> None:
    client = async_client(runtime(local_server), s3)
    with pytest.raises(AsyncInferenceError) as raised:
        client.embed_async(["fine", "   "], inference_id="bad-1")
    error = raised.value
    assert isinstance(error, EmbeddingServiceError) and not error.retryable
    assert error.code == "invalid_request_error" and "input[1] is empty" in error.message
    assert error.payload["error"]["type"] == "invalid_request_error"  # the server's JSON, as written to S3
    assert error.invocation.failure_location == "s3://async-out/failures/bad-1-error.out"
    assert "bad-1-error.out" in str(error)


def test_waiting_past_the_deadline_is_a_clear_timeout(runtime: Factory, s3: Any, local_server: str) -> None:
    client = async_client(runtime(local_server, hold=True), s3, async_timeout_s=0.3)
    with pytest.raises(AsyncInferenceTimeout) as raised:
        client.embed_async(["never answered"], inference_id="slow-1")
    assert raised.value.code == "async_timeout" and "not answered after 0.3 s" in raised.value.message
    assert "s3://async-out/results/slow-1.out" in raised.value.message
    assert [invocation.inference_id for invocation in raised.value.pending] == ["slow-1"]


def test_without_a_failure_path_a_failure_is_a_timeout(runtime: Factory, s3: Any, local_server: str) -> None:
    client = async_client(runtime(local_server, failure_uri=None), s3)
    job = client.submit_embed_async(["fine", "   "])
    assert job.failure_locations == [None]
    with pytest.raises(AsyncInferenceTimeout):
        job.wait(timeout_s=0.5)


def test_async_bodies_are_not_cut_at_6_mb_but_at_the_async_limit(runtime: Factory, s3: Any, scripted: Scripted) -> None:
    texts = [chr(ord("a") + i % 26) + "x" * 99_999 for i in range(70)]  # 7 MB of inputs
    expected = np.stack([text_vector(text) for text in texts])
    client = async_client(runtime(scripted.url), s3)
    np.testing.assert_array_equal(client.embed_async(texts, inference_id="big"), expected)
    assert [seen["size"] for seen in scripted.seen] == [s3.head_object(Bucket="async-in", Key="requests/big.json")
                                                        ["ContentLength"]]  # fmt: skip
    assert scripted.seen[0]["size"] > 7_000_000 and len(scripted.seen[0]["body"]["input"]) == 70

    scripted.seen.clear()
    capped = async_client(runtime(scripted.url), s3, max_async_body_bytes=2_000_000)
    job = capped.submit_embed_async(texts, inference_id="capped")
    assert job.inference_ids == [f"capped-{n}" for n in range(4)]
    np.testing.assert_array_equal(job.wait(timeout_s=30), expected)
    assert sorted(seen["size"] for seen in scripted.seen) == sorted(
        s3.head_object(Bucket="async-in", Key=f"requests/capped-{n}.json")["ContentLength"] for n in range(4)
    )
    assert all(seen["size"] <= 2_000_000 for seen in scripted.seen)


def test_async_batches_follow_async_batch_size(runtime: Factory, s3: Any, scripted: Scripted) -> None:
    client = async_client(runtime(scripted.url), s3, async_batch_size=4)
    texts = [f"text {i}" for i in range(10)]
    np.testing.assert_array_equal(client.embed_async(texts), np.stack([text_vector(t) for t in texts]))
    assert sorted(len(seen["body"]["input"]) for seen in scripted.seen) == [2, 4, 4]
    with pytest.raises(ValueError, match="late_chunking needs one request"):
        client.submit_embed_async(texts, late_chunking=True)


def test_rerank_async_matches_the_real_time_rerank(runtime: Factory, s3: Any, scripted: Scripted) -> None:
    documents = ["a short one", "tiny", "a much longer document about ranking", "mid size doc", "x"]
    client = async_client(runtime(scripted.url), s3, async_batch_size=2)
    answer = client.rerank_async("query", documents, top_n=3)
    realtime = EmbeddingClient("rr", "us-east-1", endpoint_url=scripted.url, batch_size=2).rerank("query", documents,
                                                                                                  top_n=3)  # fmt: skip
    assert answer.results == realtime.results and answer.total_tokens == realtime.total_tokens
    np.testing.assert_array_equal(answer.scores, [text_score(document) for document in documents])
    assert answer.indices[0] == 4 and answer[0].document == "x"


def test_mode_async_sends_embed_and_rerank_through_s3(runtime: Factory, s3: Any, scripted: Scripted) -> None:
    fake = runtime(scripted.url)
    client = async_client(fake, s3, mode="async")
    expected = np.stack([text_vector("alpha"), text_vector("beta")])
    np.testing.assert_array_equal(client.embed(["alpha", "beta"]), expected)
    assert client.rerank("q", ["bb", "a"]).indices == [1, 0]
    assert len(fake.requests) == 2 and all(seen["path"] == "/invocations" for seen in scripted.seen)


def test_multivector_and_classify_through_async_inference(
    runtime: Factory, s3: Any, colbert_server: str, classifier_server: str
) -> None:
    """Token vectors and classifications through S3 equal the real-time calls; ``mode="async"`` sends them so."""
    texts = [f"late interaction text {i} " * (1 + i % 4) for i in range(9)]
    colbert = runtime(colbert_server)
    realtime = EmbeddingClient.local(colbert_server)
    job = async_client(colbert, s3, async_batch_size=4).submit_embed_multivector_async(
        texts, input_type="query", embedding_type=["float", "binary"], inference_id="mv")  # fmt: skip
    assert job.inference_ids == ["mv-0", "mv-1", "mv-2"]
    vectors = job.wait(timeout_s=30)
    expected = realtime.embed_multivector(texts, input_type="query", embedding_type=["float", "binary"])
    assert isinstance(vectors.embeddings, dict) and vectors.total_tokens == expected.total_tokens
    for kind in ("float", "binary"):
        for mine, theirs in zip(vectors.embeddings[kind], expected.embeddings[kind], strict=True):  # type: ignore[index]
            np.testing.assert_allclose(mine, theirs, atol=1e-6, rtol=0)
    documents = async_client(colbert, s3, mode="async").embed_multivector(texts[:3])
    for mine, theirs in zip(documents, realtime.embed_multivector(texts[:3]), strict=True):
        np.testing.assert_allclose(mine, theirs, atol=1e-6, rtol=0)

    classifier = runtime(classifier_server)
    answered = async_client(classifier, s3, async_batch_size=4).classify_async(texts, ["travel", "science"])
    local = EmbeddingClient.local(classifier_server).classify(texts, ["travel", "science"])
    assert answered.predictions == local.predictions and answered.labels == ("travel", "science")
    np.testing.assert_allclose(answered.scores, local.scores, atol=1e-6, rtol=0)
    assert [result.index for result in answered] == list(range(len(texts)))
    assert async_client(classifier, s3, mode="async").classify(texts[:2]).labels == (
        "sports", "politics", "science", "travel")  # fmt: skip
    with pytest.raises(TypeError, match="needs POST /tokenize"):
        async_client(classifier, s3, mode="async").tokenize("a")


def test_every_request_carries_the_containers_deadline_as_its_invocation_timeout(
    runtime: Factory, s3: Any, scripted: Scripted
) -> None:
    """SageMaker expires an async request after 900 s unless InvocationTimeoutSeconds says otherwise, while the
    container gives async requests 3600 s: the client sends 3600 (its ``invocation_timeout_s``), a caller may say
    otherwise per client or per call, and values outside the API's ranges are refused before anything is sent."""
    fake = runtime(scripted.url)
    client = async_client(fake, s3)
    client.embed_async(["a"])
    client.rerank_async("q", ["b"], invocation_timeout_s=120, request_ttl_s=600)
    async_client(fake, s3, invocation_timeout_s=None, request_ttl_s=7200).embed_async(["c"])
    sent = [(seen.get("invocationtimeoutseconds"), seen.get("requestttlseconds")) for seen in fake.requests]
    assert sent == [("3600", None), ("120", "600"), (None, "7200")]  # None: not sent, SageMaker's own default
    model = boto3.session.Session().client("sagemaker-runtime", region_name="us-east-1").meta.service_model
    members = model.operation_model("InvokeEndpointAsync").input_shape.members
    for name, bounds in (("InvocationTimeoutSeconds", INVOCATION_TIMEOUT_RANGE_S),
                         ("RequestTTLSeconds", REQUEST_TTL_RANGE_S)):  # fmt: skip
        assert (members[name].metadata["min"], members[name].metadata["max"]) == bounds
    assert INVOCATION_TIMEOUT_RANGE_S[1] == DEFAULT_INVOCATION_TIMEOUT_S == client.async_limits.invocation_timeout_s
    for bad in ({"invocation_timeout_s": 3601}, {"invocation_timeout_s": 0}, {"request_ttl_s": 59},
                {"request_ttl_s": 21601}, {"invocation_timeout_s": 1.5}):  # fmt: skip
        with pytest.raises(ValueError, match="InvokeEndpointAsync"):
            client.embed_async(["d"], inference_id="refused", **bad)
        with pytest.raises(ValueError, match="InvokeEndpointAsync"):
            async_client(fake, s3, **bad)
    assert len(fake.requests) == 3
    assert s3.list_objects_v2(Bucket="async-in", Prefix="requests/refused").get("KeyCount") == 0


def test_async_needs_sagemaker_and_an_s3_location(fake_aws: None, local_server: str) -> None:
    with pytest.raises(TypeError, match="async inference is SageMaker's"):
        EmbeddingClient.local(local_server).embed_async(["a"], s3_uri=INPUT_URI)
    with pytest.raises(ValueError, match="needs s3_uri"):
        EmbeddingClient("e", "us-east-1", endpoint_url=local_server).embed_async(["a"])
    with pytest.raises(ValueError, match='mode="async" needs s3_input_uri'):
        EmbeddingClient("e", "us-east-1", mode="async")
    with pytest.raises(ValueError, match="not an s3://bucket/key URI"):
        EmbeddingClient("e", "us-east-1", s3_input_uri="https://bucket/prefix")
    with pytest.raises(ValueError, match="mode must be one of"):
        EmbeddingClient("e", "us-east-1", mode="batch")  # type: ignore[arg-type]


class Store(S3Objects):
    """S3 stand-in for the polling schedule: answers ``output`` after ``ready`` looks."""

    def __init__(self, ready: int) -> None:
        self.looks, self.ready = 0, ready

    def get(self, uri: str) -> bytes | None:
        if uri.endswith("/id.out"):
            self.looks += 1
            return b"answer" if self.looks > self.ready else None
        return None


def test_polling_backs_off_exponentially_up_to_the_cap_and_the_deadline() -> None:
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    invocation = AsyncInvocation("id", "s3://b/in.json", "s3://b/id.out", "s3://b/id-error.out", range(1))
    job = AsyncJob([invocation], Store(ready=6), lambda answers: answers, poll_initial_s=0.5, poll_max_s=4,
                   sleep=sleep, clock=lambda: now[0])  # fmt: skip
    assert job.wait(timeout_s=100) == [b"answer"]
    assert sleeps == [0.5, 1, 2, 4, 4, 4]
    sleeps.clear()
    now[0] = 0.0
    late = AsyncJob([invocation], Store(ready=99), lambda answers: answers, poll_initial_s=0.5, poll_max_s=4,
                    sleep=sleep, clock=lambda: now[0])  # fmt: skip
    with pytest.raises(AsyncInferenceTimeout, match="not answered after 5.0 s"):
        late.wait(timeout_s=5)
    assert sleeps == [0.5, 1, 2, 1.5]  # the last sleep ends at the deadline


def test_serverless_mode_keeps_every_request_within_4_mb(scripted: Scripted, fake_aws: None) -> None:
    texts = [chr(ord("a") + i % 26) + "y" * 249_999 for i in range(40)]  # 10 MB of inputs
    expected = np.stack([text_vector(text) for text in texts])
    serverless = EmbeddingClient("emb", "us-east-1", endpoint_url=scripted.url, mode="serverless", batch_size=1000)
    assert serverless.max_body_bytes == 4_000_000
    np.testing.assert_array_equal(serverless.embed(texts), expected)
    sizes = [seen["size"] for seen in scripted.seen]
    assert len(sizes) == 3 and max(sizes) <= 4_000_000 and max(sizes) > 3_500_000
    assert all(seen["path"] == "/endpoints/emb/invocations" for seen in scripted.seen)

    scripted.seen.clear()
    realtime = EmbeddingClient("emb", "us-east-1", endpoint_url=scripted.url, batch_size=1000)
    np.testing.assert_array_equal(realtime.embed(texts), expected)
    sizes = [seen["size"] for seen in scripted.seen]
    assert len(sizes) == 2 and 4_000_000 < max(sizes) <= 6_000_000
    explicit = EmbeddingClient("emb", "us-east-1", endpoint_url=scripted.url, mode="serverless", max_body_bytes=1000)
    assert explicit.max_body_bytes == 1000  # an explicit limit wins over the mode's
