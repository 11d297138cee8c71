"""Request ids from hostile headers on a real server: an ``X-Request-Id`` / ``X-Amzn-RequestId`` that is not
printable ASCII (a latin-1 byte, a control character) or is too long is replaced by a fresh id, in the app's
answers and in the front's own; never an unhandled error, never echoed into a response header or the log."""

from __future__ import annotations

import re
import socket

import pytest

from tests.reliability.harness import HOST

FRESH_ID = re.compile(r"[0-9a-f]{32}")
HOSTILE = [b"caf\xe9-1", b"\xff\xfe", b"ok\x7fdel", b"x" * 300]


def exchange(port: int, head: bytes, body: bytes = b"") -> tuple[int, dict[bytes, bytes]]:
    """Send one raw request; the answer's status and headers (names lower-cased)."""
    with socket.create_connection((HOST, port), timeout=30) as sock:
        sock.sendall(head + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed without an answer: {answer!r}"
            answer += chunk
    lines = answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    status = int(lines[0].split()[1])
    return status, {k.strip().lower(): v.strip() for k, v in (line.split(b":", 1) for line in lines[1:])}


@pytest.mark.parametrize("header", [b"X-Request-Id", b"X-Amzn-RequestId"])
@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_request_id_is_replaced(minilm_server, header: bytes, value: bytes) -> None:
    body = b'{"input": "hello"}'
    head = (b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n%s: %s\r\nConnection: close\r\n\r\n" % (len(body), header, value))  # fmt: skip
    status, headers = exchange(minilm_server.port, head, body)
    assert status == 200 and FRESH_ID.fullmatch(headers[b"x-request-id"].decode()), headers
    # the front's own answer, from the head alone: a body far over any limit is refused before it is read
    head = (b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 999999999999\r\n%s: %s\r\n\r\n" % (header, value))  # fmt: skip
    status, headers = exchange(minilm_server.port, head)
    assert status in (413, 503) and FRESH_ID.fullmatch(headers[b"x-request-id"].decode()), headers
    assert minilm_server.alive()
    assert value.decode("latin-1") not in {record.get("id") for record in minilm_server.log_records()}


def test_a_printable_request_id_is_kept(minilm_server) -> None:
    head = b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Request-Id: job-42/part.7:retry=1\r\nConnection: close\r\n\r\n"
    status, headers = exchange(minilm_server.port, head)
    assert status == 200 and headers[b"x-request-id"] == b"job-42/part.7:retry=1"
