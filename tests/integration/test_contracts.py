"""Contracts of the HTTP layer that hold for every route: the 500 ``internal_error`` and request ids.

- An unexpected exception becomes a 500 whose JSON body carries no internals, while the server log has
  the traceback (inference/api/errors.py, inference/api/request_log.py).
- ``X-Amzn-RequestId`` (SageMaker's) or else ``X-Request-Id`` is the request id: echoed in ``X-Request-Id``
  and logged as the access log line's ``id``; without either a fresh id is made. On a real server too,
  also for a request shed with 503 before it reaches the app (inference/admission.py).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator

import pytest

from inference.api.app import create_app
from inference.handlers.fake import FakeEmbeddingHandler
from tests.conftest import make_settings
from tests.reliability.gated_server import HOLD_WORD, GatedServer, gated_env
from tests.reliability.harness import Reply, poll, request

SECRET = "secret /path/to/weights.safetensors detail"
LEAKS = ("secret", "/path", "safetensors", "RuntimeError", "Traceback", ".py", 'File "')
FRESH_ID = re.compile(r"[0-9a-f]{32}")
THREADS = 2


class ExplodingHandler(FakeEmbeddingHandler):
    """Fails inside request handling: ``tokenize`` on the request thread, ``forward`` on the batcher thread."""

    def __init__(self, settings, where: str) -> None:
        super().__init__(settings)
        self._where = where

    def tokenize(self, texts, task, truncate):
        if self._where == "tokenize":
            raise RuntimeError(SECRET)
        return super().tokenize(texts, task, truncate)

    def forward(self, batch, task):
        if self._where == "forward":
            raise RuntimeError(SECRET)
        return super().forward(batch, task)


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    """create_app points the root logger at this test's captured stdout; put the old handlers back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def access_lines(records: list[dict], request_id: str) -> list[dict]:
    return [r for r in records if r.get("logger") == "inference.access" and r.get("id") == request_id]


def make_client(where: str | None = None):
    settings = make_settings(handler="fake", warmup=False, log_level="INFO")

    def loader(s):
        return ExplodingHandler(s, where) if where else FakeEmbeddingHandler(s)

    return create_app(settings, loader, load_in_background=False).test_client()


# -- 500 internal_error ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["tokenize", "forward"])
def test_unexpected_exception_is_a_bare_500_and_its_traceback_is_logged(capsys, where):
    client = make_client(where)
    response = client.post("/v1/embeddings", json={"input": ["boom"]}, headers={"X-Request-Id": f"boom-{where}"})

    assert response.status_code == 500 and response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}
    assert body["error"]["type"] == "internal_error" and body["error"]["message"]
    raw = response.get_data(as_text=True)
    assert not [leak for leak in LEAKS if leak in raw], raw
    assert "x-amzn-inference-metering" not in {k.lower() for k in response.headers.keys()}
    assert response.headers["X-Request-Id"] == f"boom-{where}"

    records = json_lines(capsys.readouterr().out)
    logged = [r for r in records if r["logger"] == "inference.api.errors" and r["level"] == "ERROR"]
    assert len(logged) == 1, records
    assert "Traceback" in logged[0]["exc"] and f"RuntimeError: {SECRET}" in logged[0]["exc"]
    (access,) = access_lines(records, f"boom-{where}")
    assert access["status"] == 500 and access["path"] == "/v1/embeddings"


# -- request ids, in-process -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Amzn-RequestId": "sm-1"}, "sm-1"),
        ({"X-Request-Id": "client-1"}, "client-1"),
        ({"X-Amzn-RequestId": "sm-2", "X-Request-Id": "client-2"}, "sm-2"),  # SageMaker's id wins
    ],
)
def test_request_id_header_is_echoed_and_logged(capsys, headers, expected):
    client = make_client()
    ok = client.post("/invocations", json={"input": ["hello"]}, headers=headers)
    bad = client.post("/invocations", json={"input": []}, headers=headers)
    assert (ok.status_code, bad.status_code) == (200, 400)
    assert ok.headers["X-Request-Id"] == expected and bad.headers["X-Request-Id"] == expected
    logged = access_lines(json_lines(capsys.readouterr().out), expected)
    assert [r["status"] for r in logged] == [200, 400]


def test_without_a_request_id_header_each_request_gets_a_fresh_id(capsys):
    client = make_client()
    ids = [client.post("/invocations", json={"input": ["hello"]}).headers["X-Request-Id"] for _ in range(2)]
    assert all(FRESH_ID.fullmatch(i) for i in ids) and ids[0] != ids[1]
    records = json_lines(capsys.readouterr().out)
    assert [r["id"] for r in records if r.get("logger") == "inference.access"] == ids


# -- request ids, real server (gunicorn), including the shed path ----------------------------------------------


@pytest.fixture(scope="module")
def gated_server(tmp_path_factory):
    """One worker with 2 request threads: at most 4 requests in (2 running, 2 waiting), the rest are shed."""
    gates = tmp_path_factory.mktemp("gates")
    with GatedServer(gates, gated_env(EMB_THREADS=str(THREADS))) as server:
        server.wait_ready(60)
        yield server


def post(port: int, text: str, headers: dict[str, str] | None = None) -> Reply:
    """One request on its own connection, closed by the server after the reply (an idle keep-alive connection's
    close briefly takes an admission slot)."""
    body = json.dumps({"input": [text]}).encode()
    headers = {"Content-Type": "application/json", "Connection": "close", **(headers or {})}
    return request(port, "POST", "/invocations", body, headers)


def logged(server: GatedServer, request_id: str) -> list[dict]:
    return access_lines(list(server.log_records()), request_id)


@pytest.mark.parametrize("header", ["X-Amzn-RequestId", "X-Request-Id"])
def test_real_server_echoes_and_logs_the_request_id(gated_server, header):
    request_id = f"real-{header.lower()}-7f3a"
    reply = post(gated_server.port, "hello", {header: request_id})
    assert reply.status == 200 and reply.headers["x-request-id"] == request_id
    (line,) = logged(gated_server, request_id)
    assert line["status"] == 200 and line["path"] == "/invocations" and line["inputs"] == 1


def test_real_server_makes_a_fresh_id_without_a_header(gated_server):
    ids = [post(gated_server.port, "hello").headers["x-request-id"] for _ in range(2)]
    assert all(FRESH_ID.fullmatch(i) for i in ids) and ids[0] != ids[1]
    for request_id in ids:
        (line,) = logged(gated_server, request_id)
        assert line["status"] == 200


class Call(threading.Thread):
    """One request on its own connection, in the background."""

    def __init__(self, port: int, text: str, headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.port, self.text, self.headers = port, text, headers
        self.reply: Reply | None = None

    def run(self) -> None:
        self.reply = post(self.port, self.text, self.headers)


def test_shed_requests_keep_their_request_ids(gated_server):
    server = gated_server
    held = Call(server.port, f"{HOLD_WORD} the batcher", {"X-Request-Id": "held-1"})
    held.start()
    server.wait_forward_held()
    # Every request admitted now waits for the held forward pass; past 2 x THREADS in, requests are shed at once.
    # So a reply that comes back while the forward pass is held is a shed one.
    calls = [Call(server.port, "hello", {"X-Amzn-RequestId": f"amzn-{n}"}) for n in range(2 * THREADS + 2)]
    for call in calls:
        call.start()
    early = poll(lambda: [c for c in calls if c.reply is not None], 20, "a shed reply")
    server.release_forward()
    for call in (held, *calls):
        call.join(30)

    assert all(call.reply.status == 503 for call in early), "only shed requests finish while the batcher is held"
    statuses = set()
    for call in (held, *calls):
        own_id = next(iter(call.headers.values()))
        assert call.reply.headers["x-request-id"] == own_id
        (line,) = logged(server, own_id)
        assert line["status"] == call.reply.status
        statuses.add(call.reply.status)
        if call.reply.status == 503:
            assert json.loads(call.reply.body)["error"]["type"] == "overloaded" and line["shed"] is True
    assert 503 in statuses and held.reply.status == 200
