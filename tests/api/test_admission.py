"""Admission by work and deadline through the app (fake model, in process): 413 for a request too large for the
deadline, 503 + Retry-After when the queued work would make it miss its deadline, the HTTP front's deadline and
cancellation taken from the WSGI environ, and /ping's work fields back to 0 afterwards.

The throughput is set by hand (``budget.calibrate``) so the arithmetic is exact; the model's forward pass can be
held on an Event so a queue builds up deterministically.
"""

import threading
import time

import numpy as np
import pytest

from inference.api.app import ENGINE, create_app
from inference.api.request_context import CANCELLED, DEADLINE
from inference.endpoints.embeddings.endpoint import EmbeddingsEndpoint
from inference.endpoints.embeddings.types import EmbedResult
from inference.handlers.fake import FAKE_MAX_LENGTH, FakeEmbeddingHandler
from tests.conftest import make_settings

WAIT_S = 10
LONG = " ".join(f"word{i}" for i in range(100))  # cut to the fake model's 64 tokens


class HeldFake(FakeEmbeddingHandler):
    """The fake model, whose forward passes hold on ``hold`` once a test sets it, and which records its inputs."""

    def __init__(self, settings):
        super().__init__(settings)
        self.hold: threading.Event | None = None
        self.entered = threading.Event()
        self.seen: list[list[int]] = []

    def forward(self, batch, task):
        if self.hold is not None:
            self.entered.set()
            assert self.hold.wait(WAIT_S)
        self.seen.extend(list(ids) for ids in batch)
        return super().forward(batch, task)


def app_at(tokens_per_s: float, deadline_s: float):
    handlers = []

    def loader(settings):
        handlers.append(HeldFake(settings))
        return handlers[0]

    settings = make_settings(handler="fake", log_level="WARNING", request_deadline_s=deadline_s)
    app = create_app(settings, loader, load_in_background=False)
    app.extensions[ENGINE].budget.calibrate(int(tokens_per_s), 1.0)
    handlers[0].seen.clear()  # the warm-up and calibration passes
    return app, handlers[0]


def work(client) -> tuple[int, int]:
    body = client.get("/ping").get_json()
    return body["queued_tokens"], body["queued_requests"]


def until(condition):
    pause = threading.Event()
    for _ in range(WAIT_S * 1000):
        if condition():
            return
        pause.wait(0.001)
    raise AssertionError("condition never held")


def test_ping_reports_the_workers_queued_work_and_throughput():
    app = create_app(make_settings(handler="fake", log_level="WARNING"), load_in_background=False)
    body = app.test_client().get("/ping").get_json()
    assert body["status"] == "ready" and body["model"] == "fake"
    assert body["queued_tokens"] == 0 and body["queued_requests"] == 0
    assert body["tokens_per_s"] > 0  # calibrated at load, after the warm-up


def test_a_request_too_large_for_the_deadline_is_413_saying_how_to_split_it():
    app, model = app_at(tokens_per_s=100, deadline_s=1.0)
    client = app.test_client()
    response = client.post("/invocations", json={"input": [LONG] * 5})  # 5 x 64 tokens: 3.2 s at 100 tokens/s
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["type"] == "request_too_large"
    assert "needs about 3.2 s of model time" in error["message"] and "1 s request deadline" in error["message"]
    assert "split it: about 1 of these inputs per request would fit" in error["message"]
    assert model.seen == [] and work(client) == (0, 0)
    assert client.post("/invocations", json={"input": [LONG]}).status_code == 200  # one input fits: 0.64 s


def test_late_chunking_is_admitted_by_work_too():
    app, model = app_at(tokens_per_s=100, deadline_s=0.5)
    client = app.test_client()
    body = {"input": [" ".join(f"a{i}" for i in range(40))] * 2, "late_chunking": True}  # joined: 64 tokens
    response = client.post("/invocations", json=body)
    assert response.status_code == 413 and response.get_json()["error"]["type"] == "request_too_large"
    assert work(client) == (0, 0)
    app.extensions[ENGINE].budget.calibrate(10_000, 1.0)
    assert client.post("/invocations", json=body).status_code == 200
    assert work(client) == (0, 0)


def test_503_with_retry_after_when_the_queue_cannot_make_the_deadline_then_nothing_is_left():
    app, model = app_at(tokens_per_s=100, deadline_s=5.0)
    client = app.test_client()
    model.hold = threading.Event()
    body = {"input": [LONG] * 5}  # 320 tokens: 3.2 s at 100 tokens/s
    result: dict[str, object] = {}
    first = threading.Thread(target=lambda: result.update(response=app.test_client().post("/invocations", json=body)))
    first.start()
    assert model.entered.wait(WAIT_S)
    assert work(client) == (5 * FAKE_MAX_LENGTH, 1)
    response = client.post("/invocations", json=body)  # 3.2 s queued + 3.2 s > 5 s
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["type"] == "overloaded" and "would miss its deadline" in error["message"]  # shed before queueing
    assert response.headers["Retry-After"] == "4"  # the queued 3.2 s, rounded up
    model.hold.set()
    first.join(WAIT_S)
    assert result["response"].status_code == 200
    assert len(model.seen) == 5  # the shed request never reached the model
    assert work(client) == (0, 0)


def test_a_request_that_cannot_make_it_is_refused_before_it_is_tokenised():
    """Under overload most requests are refused: tokenising each first (as costly as serving it on the request
    threads) would take the CPU from the model. A lower bound of the cost, from the text lengths, decides first."""
    app, model = app_at(tokens_per_s=100, deadline_s=5.0)
    client = app.test_client()
    model.hold = threading.Event()
    body = {"input": [LONG] * 5}
    first = threading.Thread(target=lambda: app.test_client().post("/invocations", json=body))
    first.start()
    assert model.entered.wait(WAIT_S)
    tokenised = []
    tokenize = model.tokenize
    model.tokenize = lambda texts, task, truncate: tokenised.append(len(texts)) or tokenize(texts, task, truncate)
    response = client.post("/invocations", json=body)
    assert response.status_code == 503 and tokenised == []  # refused from its length alone
    model.hold.set()
    first.join(WAIT_S)
    assert work(client) == (0, 0)


def test_the_lower_bound_never_exceeds_the_exact_count():
    from inference.endpoints.embeddings.service import least_tokens
    from inference.handlers.text import TextEmbeddingHandler
    from inference.model_dir import embedded_model_dir

    handler = TextEmbeddingHandler(embedded_model_dir(), make_settings(device="cpu"))
    texts = ["a", "hello world", LONG, "x" * 5000, "日本語のテキスト" * 40, "🙂" * 300, "a\x1cb c\u200b d\u0301",
             "~~ ... --- a\x0bb !!", "\x1f \x1e x",
             " ".join(["antidisestablishment"] * 80), "\u200b \u0301 ~~ ..."]  # fmt: skip
    exact = [len(ids) for ids in handler.tokenize(texts, None, truncate=True)]
    bounds = [least_tokens([text], handler.info.max_length) for text in texts]
    assert all(b <= e for b, e in zip(bounds, exact, strict=True)), list(zip(bounds, exact, strict=True))
    prose = "the quick brown fox jumps over the lazy dog " * 40  # cut at the limit: the bound is exact
    assert least_tokens([prose], 256) == len(handler.tokenize([prose], None, truncate=True)[0]) == 256


def test_the_deadline_from_the_http_front_is_used():
    app, model = app_at(tokens_per_s=100, deadline_s=45.0)
    client = app.test_client()
    passed = {DEADLINE: time.monotonic() - 0.001}
    response = client.post("/invocations", json={"input": "hello"}, environ_overrides=passed)
    assert response.status_code == 503 and "deadline passed" in response.get_json()["error"]["message"]
    tight = {DEADLINE: time.monotonic() + 0.5}  # 0.64 s of work would miss it
    response = client.post("/invocations", json={"input": [LONG]}, environ_overrides=tight)
    assert response.status_code == 503 and "would miss its deadline" in response.get_json()["error"]["message"]
    assert response.headers["Retry-After"] == "1"
    assert model.seen == [] and work(client) == (0, 0)
    roomy = {DEADLINE: time.monotonic() + 30}
    assert client.post("/invocations", json={"input": [LONG]}, environ_overrides=roomy).status_code == 200


def test_a_request_whose_client_left_never_reaches_the_model():
    app, model = app_at(tokens_per_s=100, deadline_s=45.0)
    client = app.test_client()
    gone = threading.Event()
    gone.set()
    response = client.post("/invocations", json={"input": ["hello", "world"]}, environ_overrides={CANCELLED: gone})
    assert response.status_code == 499 and response.get_json()["error"]["type"] == "client_closed_request"
    assert model.seen == [] and work(client) == (0, 0)


class RecordingService:
    def __init__(self) -> None:
        self.calls: list[tuple[float | None, threading.Event | None]] = []

    def default_deadline(self) -> float:
        return 1234.5

    def embed(self, request, deadline=None, cancelled=None):
        self.calls.append((deadline, cancelled))
        return EmbedResult(vectors=np.ones((len(request.inputs), 4), dtype=np.float32), prompt_tokens=1, model="m")


@pytest.mark.parametrize("deadline", [None, 99.0])
def test_records_share_one_deadline(deadline):
    """A Batch Transform body becomes several requests (one per option set); all have the request's deadline."""
    service = RecordingService()
    endpoint = EmbeddingsEndpoint(service, make_settings(max_inputs=2048, record_options={}))
    lines = b'"a"\n{"input": "b", "dimensions": 4}\n"c"\n{"input": "d", "normalized": false}'
    gone = threading.Event()
    endpoint.run(endpoint.parse(lines, "application/jsonlines", None), deadline=deadline, cancelled=gone)
    assert len(service.calls) == 3
    assert set(service.calls) == {(1234.5 if deadline is None else deadline, gone)}
