"""A short fuzz run against a real gunicorn server (fake model, so it starts in seconds): hostile bytes on
the wire (truncated bodies, broken request lines and headers, lying Content-Length, bad chunking) and
generated bodies over real HTTP. Every answer is a 4xx JSON error or a correct 200, or the connection is
closed for a request that never completed; afterwards the same worker still serves."""

from __future__ import annotations

import json
import socket
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ
from tests.fuzz.strategies import CONTENT_TYPES, encode_json, shaped_bodies
from tests.reliability.harness import HOST, Server, clean_env, post_json, request

THREADS = 4


@pytest.fixture(scope="module")
def fake_server():
    env = clean_env(EMB_HANDLER="fake", EMB_THREADS=str(THREADS), EMB_MAX_BODY_MB="1", EMB_TIMEOUT="12")
    with Server(env) as server:  # EMB_TIMEOUT=12: request bodies time out after 3 s
        server.wait_ready(60)
        server.first_workers = server.workers()
        yield server
        assert server.alive() and server.workers() == server.first_workers, "a worker died or was replaced"
        assert server.ping() == 200
        assert post_json(server.port, {"input": ["after the fuzz run"]}).status == 200


def raw_exchange(port: int, payload: bytes, half_close: bool = True, timeout: float = 10) -> bytes:
    """Send raw bytes; return whatever comes back before the server closes (or ``timeout``)."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(payload)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
        return b"".join(chunks)


def assert_4xx_json_or_closed(raw: bytes, oracle, what: object) -> None:
    if not raw:
        return  # the server closed a request that never completed: nothing to answer
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split()[1])
    headers = dict(line.split(": ", 1) for line in header_lines if ": " in line)
    assert 400 <= status < 500 or status == 200, (status, raw[:300], what)
    if status != 200:  # also gunicorn's own refusals of malformed HTTP (AdmissionWorker.handle_error)
        oracle.check(status, headers.get("Content-Type"), body, what)


POST = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
WIRE_CASES = {
    "truncated body": POST + b"Content-Length: 100\r\n\r\n" + b'{"input": "trunc',
    "body longer than content-length": POST + b"Content-Length: 5\r\n\r\n" + b'{"input": "long body"}',
    "negative content-length": POST + b"Content-Length: -1\r\n\r\n{}",
    "huge content-length": POST + b"Content-Length: 99999999999999999999\r\n\r\n{}",
    "two content-lengths": POST + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "bad chunk size": POST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "truncated chunked": POST + b"Transfer-Encoding: chunked\r\n\r\n10\r\n{\"inp",
    "chunked and content-length": POST + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
    "garbage request line": b"\x00\xff\xfe GARBAGE\r\n\r\n",
    "http/0.9": b"GET /ping\r\n",
    "no host http/1.1": b"GET /ping HTTP/1.1\r\n\r\n",
    "header without colon": b"GET /ping HTTP/1.1\r\nHost x\r\n\r\n",
    "huge header": b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
    "many headers": b"GET /ping HTTP/1.1\r\nHost: x\r\n" + b"X-H: 1\r\n" * 500 + b"\r\n",
    "non-latin path": "GET /\u00e9\u6771 HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
    "double slash path": b"POST //invocations HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 2\r\n\r\n{}",
    "absolute uri": b"GET http://169.254.169.254/latest/meta-data HTTP/1.1\r\nHost: x\r\n\r\n",
    "expect continue": POST + b"Expect: 100-continue\r\nContent-Length: 15\r\n\r\n" + b'{"input": "ok"}',
    "utf-16 body": POST + b"Content-Length: 32\r\n\r\n" + '{"input": "x"}'.encode("utf-16")[:32],
}


@pytest.mark.parametrize("name", list(WIRE_CASES))
def test_hostile_bytes_on_the_wire(fake_server, oracle, name):
    raw = raw_exchange(fake_server.port, WIRE_CASES[name])
    first = raw.split(b"HTTP/1.1 ")[1:2] if raw.count(b"HTTP/1.1 ") > 1 else None
    if first and first[0].startswith(b"100"):  # Expect: 100-continue, then the real answer
        raw = b"HTTP/1.1 " + raw.split(b"HTTP/1.1 ", 2)[2]
    assert_4xx_json_or_closed(raw, oracle, name)
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
    timeout); EMB_THREADS such clients stalled every later request. Now the read times out (400)."""
    heads = [b"Content-Length: 100\r\n\r\n{\"in", b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"inp"]
    stalled = []
    for n in range(THREADS + 1):
        sock = socket.create_connection((HOST, fake_server.port), timeout=30)
        sock.sendall(POST + heads[n % 2])
        stalled.append(sock)
    started = time.monotonic()
    reply = post_json(fake_server.port, {"input": ["not starved"]}, timeout=30)
    assert reply.status in (200, 503) and time.monotonic() - started < 15
    for sock in stalled:
        with sock:
            raw = b""
            while chunk := sock.recv(65536):
                raw += chunk
        assert_4xx_json_or_closed(raw, oracle, "stalled body")
        assert b"request body not received within 3 s" in raw or b"could not understand" in raw, raw[-200:]
    assert post_json(fake_server.port, {"input": ["served again"]}).status == 200
