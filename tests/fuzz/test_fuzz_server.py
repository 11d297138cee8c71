"""A short fuzz run against a real gunicorn server (fake model, so it starts in seconds): hostile bytes on
the wire (truncated bodies, broken request lines and headers, lying Content-Length, bad chunking) and
generated bodies over real HTTP. Each wire case states its answer: a malformed request gets exactly one JSON
error of a known 4xx status, a valid one its full, correct 200, and only a request whose head never completed
gets no answer (the connection closed); afterwards the same worker still serves."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ
from tests.fuzz.strategies import CONTENT_TYPES, encode_json, shaped_bodies
from tests.reliability.harness import HOST, Server, clean_env, post_json, request

THREADS = 4
STALLED_MESSAGE = "request body not received within 3 s"


@pytest.fixture(scope="module")
def fake_server():
    env = clean_env(EMB_HANDLER="fake", EMB_THREADS=str(THREADS), EMB_MAX_BODY_MB="1", EMB_BODY_TIMEOUT_S="3",
                    EMB_HEADER_TIMEOUT_S="3")  # fmt: skip
    with Server(env) as server:
        server.wait_ready(60)
        server.first_workers = server.workers()
        yield server
        assert server.alive() and server.workers() == server.first_workers, "a worker died or was replaced"
        assert server.ping() == 200
        assert post_json(server.port, {"input": ["after the fuzz run"]}).status == 200


def raw_exchange(port: int, payload: bytes, timeout: float = 10, half_close: bool = True) -> bytes:
    """Send raw bytes and half-close; return everything the server sends before it closes the connection. A
    server that neither answers nor closes within ``timeout`` fails the test (TimeoutError). A half-close
    while a request runs counts as the client leaving (its model work is dropped, as nginx does): a case
    that needs the model's answer keeps the connection open (``half_close=False``; the request says
    ``Connection: close``)."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(payload)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass  # closed with a reset: what came before still counts
        return b"".join(chunks)


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes


def parse_responses(raw: bytes) -> list[Response]:
    """Split a raw HTTP/1.1 stream into its responses; each must be complete (Content-Length, whole body) and
    nothing may trail the last one."""
    responses = []
    while raw:
        head, separator, raw = raw.partition(b"\r\n\r\n")
        assert separator, f"incomplete response head: {head[:300]!r}"
        status_line, *lines = head.decode("latin-1").split("\r\n")
        version, status, _ = status_line.split(" ", 2)
        headers = dict(line.split(": ", 1) for line in lines)
        headers = {name.lower(): value for name, value in headers.items()}
        length = 0 if status.startswith("1") else int(headers["content-length"])
        assert version == "HTTP/1.1" and len(raw) >= length, f"truncated response: {head[:300]!r}"
        responses.append(Response(int(status), headers, raw[:length]))
        raw = raw[length:]
    return responses


@dataclass(frozen=True)
class Refused:
    """A malformed request: exactly one answer, a JSON error of this status (the HTTP front's own refusals of
    malformed HTTP included: runtime/front.py)."""

    status: int

    def check(self, raw: bytes, oracle, port: int) -> None:
        responses = parse_responses(raw)
        assert len(responses) == 1, f"expected one {self.status} answer, got {len(responses)}: {raw[:300]!r}"
        response = responses[0]
        assert response.status == self.status, (response, raw[:300])
        oracle.check(response.status, response.headers.get("content-type"), response.body, raw[:300])
        assert "location" not in response.headers, response.headers


class Closed:
    """The client half-closed before its request head was complete: there is nothing to answer, and the server
    closes the connection without a word. Only these cases may get an empty reply."""

    def check(self, raw: bytes, oracle, port: int) -> None:
        assert raw == b"", f"answered a request that never completed: {raw[:300]!r}"


class Pinged:
    """Valid pipelined GET /ping requests: full 200 answers."""

    def __init__(self, count: int = 1) -> None:
        self.count = count

    def check(self, raw: bytes, oracle, port: int) -> None:
        responses = parse_responses(raw)
        assert [r.status for r in responses] == [200] * self.count, f"not {self.count} full 200s: {raw[:300]!r}"
        for response in responses:
            health = json.loads(response.body)
            assert {k: health[k] for k in ("status", "model", "queued_tokens")} == {
                "status": "ready", "model": "fake", "queued_tokens": 0}


class EmbeddedOk:
    """A valid POST with ``Expect: 100-continue``: 100, then the full 200 that the same request gets plainly."""

    half_close = False

    def check(self, raw: bytes, oracle, port: int) -> None:
        responses = parse_responses(raw)
        assert [r.status for r in responses] == [100, 200], f"not 100 then a full 200: {raw[:300]!r}"
        got = oracle.check(200, responses[1].headers.get("content-type"), responses[1].body, raw[:300])
        plain = post_json(port, {"input": "ok"})
        assert plain.status == 200 and got == plain.json()
        assert got["model"] == "fake" and got["usage"]["prompt_tokens"] == 3  # [CLS] ok [SEP]


POST = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
PING = b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"
WIRE_CASES = {
    "truncated body": (POST + b"Content-Length: 100\r\n\r\n" + b'{"input": "trunc', Refused(400)),
    "body longer than content-length": (POST + b"Content-Length: 5\r\n\r\n" + b'{"input": "long body"}', Refused(400)),
    "negative content-length": (POST + b"Content-Length: -1\r\n\r\n{}", Refused(400)),
    "huge content-length": (POST + b"Content-Length: 99999999999999999999\r\n\r\n{}", Refused(413)),
    "two content-lengths": (POST + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", Refused(400)),
    "bad chunk size": (POST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", Refused(400)),
    "truncated chunked": (POST + b"Transfer-Encoding: chunked\r\n\r\n10\r\n{\"inp", Refused(400)),
    "chunked and content-length": (
        POST + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", Refused(400)),
    "garbage request line": (b"\x00\xff\xfe GARBAGE\r\n\r\n", Refused(400)),
    "empty request line": (b"\r\n\r\n", Refused(400)),
    "http/0.9": (b"GET /ping\r\n", Closed()),  # no HTTP/1.x head ever completes
    "header without colon": (b"GET /ping HTTP/1.1\r\nHost x\r\n\r\n", Refused(400)),
    "huge header": (b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", Refused(431)),
    "many headers": (b"GET /ping HTTP/1.1\r\nHost: x\r\n" + b"X-H: 1\r\n" * 500 + b"\r\n", Refused(431)),
    "non-latin path": ("GET /\u00e9\u6771 HTTP/1.1\r\nHost: x\r\n\r\n".encode(), Refused(400)),
    "double slash path": (
        b"POST //invocations HTTP/1.1\r\nHost: evil.example\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2\r\n\r\n{}", Refused(400)),
    "absolute uri": (b"GET http://169.254.169.254/latest/meta-data HTTP/1.1\r\nHost: x\r\n\r\n", Refused(404)),
    "utf-16 body": (POST + b"Content-Length: 32\r\n\r\n" + '{"input": "x"}'.encode("utf-16")[:32], Refused(400)),
    "nothing sent": (b"", Closed()),
    "partial request line": (b"GET /pi", Closed()),
    "unterminated headers": (POST + b"Content-Length: 2\r\n", Closed()),
    "no host http/1.1": (b"GET /ping HTTP/1.1\r\n\r\n", Refused(400)),  # RFC 9112 3.2: MUST be 400
    "pipelined pings": (PING + PING, Pinged(count=2)),
    "expect continue": (
        POST + b"Expect: 100-continue\r\nConnection: close\r\nContent-Length: 15\r\n\r\n" + b'{"input": "ok"}',
        EmbeddedOk()),
}


@pytest.mark.parametrize("name", list(WIRE_CASES))
def test_hostile_bytes_on_the_wire(fake_server, oracle, name):
    payload, expected = WIRE_CASES[name]
    raw = raw_exchange(fake_server.port, payload, half_close=getattr(expected, "half_close", True))
    expected.check(raw, oracle, fake_server.port)
    assert fake_server.ping() == 200


@FUZZ
@given(body=shaped_bodies(), content_type=st.sampled_from(CONTENT_TYPES), ensure_ascii=st.booleans())
def test_generated_bodies_over_real_http(fake_server, oracle, body, content_type, ensure_ascii):
    headers = {"Content-Type": content_type} if content_type is not None else {}
    reply = request(fake_server.port, "POST", "/invocations", encode_json(body, ensure_ascii), headers)
    oracle.check(reply.status, reply.headers.get("content-type"), reply.body, (content_type, body))


def test_schema_valid_request_is_correct_over_real_http(fake_server, oracle):
    reply = post_json(fake_server.port, {"input": ["a b", "c"], "embedding_type": ["float", "base64"]})
    payload = oracle.check(reply.status, reply.headers.get("content-type"), reply.body)
    assert reply.status == 200 and [d["index"] for d in payload["data"]] == [0, 1]
    assert json.loads(reply.body)["model"] == "fake"


def test_clients_that_stop_sending_their_body_do_not_hold_request_threads(fake_server, oracle):
    """Found by fuzzing: a body that never arrives held a request thread forever (gunicorn reads without a
    timeout); EMB_THREADS such clients stalled every later request. Now bodies are read by the event-loop front,
    which never holds a thread for them, and times them out (408, EMB_BODY_TIMEOUT_S)."""
    heads = [b"Content-Length: 100\r\n\r\n{\"in", b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"inp"]
    stalled = []
    for n in range(THREADS + 1):
        sock = socket.create_connection((HOST, fake_server.port), timeout=30)
        sock.sendall(POST + heads[n % 2])
        stalled.append(sock)
    started = time.monotonic()
    reply = post_json(fake_server.port, {"input": ["not starved"]}, timeout=30)
    assert reply.status == 200 and time.monotonic() - started < 2
    for sock in stalled:
        with sock:
            raw = b""
            while chunk := sock.recv(65536):
                raw += chunk
        (response,) = parse_responses(raw)
        error = oracle.check(response.status, response.headers.get("content-type"), response.body, "stalled")["error"]
        assert response.status == 408 and error["message"] == STALLED_MESSAGE, raw[-300:]
    assert post_json(fake_server.port, {"input": ["served again"]}).status == 200
