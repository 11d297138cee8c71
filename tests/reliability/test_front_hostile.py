"""Hostile but legal connection patterns against the HTTP front (in-process, real sockets on 127.0.0.1): idle
connections that hold every slot, refusals from the head with the body left unread (and dropped without a reset),
pipelined probe floods, HEAD requests, bodies past the worker's memory budget. The same attacks against a whole
server (gunicorn, the app) are in test_reliability_hostile.py."""

from __future__ import annotations

import logging
import os
import resource
import socket
import subprocess
import sys
import threading
import time

from inference.errors import AuthenticationError, OverloadedError
from inference.runtime.limits import FrontLimits
from tests.reliability.front_harness import (
    HOST,
    closed_by_server,
    header,
    json_body,
    kept_alive,
    read_response,
    request_head,
    running_front,
    status_of,
)

LIMITS = FrontLimits(max_body_bytes=8 * 1024 * 1024, threads=2, max_waiting=2, header_timeout_s=5.0,
                     body_timeout_s=5.0, idle_timeout_s=30.0, max_connections=20)  # fmt: skip


def wait_until(condition, what: str, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.01)  # polling a condition with a deadline, not synchronisation by sleeping


def ping(port: int) -> tuple[int, float]:
    started = time.monotonic()
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(request_head("GET", "/ping", Connection="close"))
        return status_of(read_response(sock)), time.monotonic() - started


def test_at_the_connection_limit_the_longest_idle_connection_makes_room() -> None:
    with running_front(LIMITS) as running:
        idle = kept_alive(running.port, 20)  # every slot held by a connection that only waits
        assert ping(running.port)[0] == 200  # a new client is served ...
        assert closed_by_server(idle[0])  # ... in the place of the connection idle the longest
        assert not closed_by_server(idle[-1], timeout=0.2)
        assert running.call(lambda: running.front.slots.evicted) >= 1
        for sock in idle:
            sock.close()


def test_one_client_address_holds_at_most_its_share_and_only_its_own_idle_connection_is_closed() -> None:
    limits = FrontLimits(max_body_bytes=1000, threads=2, max_waiting=2, idle_timeout_s=30.0, max_connections=20,
                         max_connections_per_address=5)  # fmt: skip
    with running_front(limits) as running:
        idle = kept_alive(running.port, 5)
        newest = kept_alive(running.port, 1)  # the sixth from 127.0.0.1 closes that address's oldest
        assert closed_by_server(idle[0]) and not closed_by_server(idle[1], timeout=0.2)
        assert running.call(lambda: len(running.front.slots)) == 5
        for sock in idle + newest:
            sock.close()


def test_when_no_connection_is_idle_a_new_one_gets_a_fast_503() -> None:
    limits = FrontLimits(max_body_bytes=1000, threads=2, max_waiting=2, header_timeout_s=10.0, max_connections=5,
                         max_connections_per_address=5)
    with running_front(limits) as running:
        busy = []
        for _ in range(5):  # each sent half a head: reading it, not idle
            sock = socket.create_connection((HOST, running.port), timeout=10)
            sock.sendall(b"GET /ping HTTP/1.1\r\n")
            busy.append(sock)
        slots = running.front.slots
        wait_until(lambda: running.call(lambda: len(slots) == 5 and not slots.idle_connections()), "five heads")
        status, took = ping(running.port)
        assert status == 503 and took < 2
        for sock in busy:
            sock.close()


def test_above_the_watermark_kept_alive_connections_wait_the_short_idle_timeout() -> None:
    limits = FrontLimits(max_body_bytes=1000, threads=2, max_waiting=2, idle_timeout_s=30.0, max_connections=20,
                         busy_idle_timeout_s=0.5, busy_watermark=0.25)  # fmt: skip
    with running_front(limits) as running:
        few = kept_alive(running.port, 2)
        assert not closed_by_server(few[0], timeout=1.0)  # below the watermark: the long timeout
        many = kept_alive(running.port, 8)  # 10 > 5 open: each next wait is the short one
        started = time.monotonic()
        assert closed_by_server(many[-1], timeout=10) and time.monotonic() - started < 5
        for sock in few + many:
            sock.close()


def refusing_gate(method, path, headers, length):
    if headers.get("authorization") != "Bearer good":
        return AuthenticationError("an API key is required")
    return OverloadedError("full") if path == "/full" else None


def test_a_request_refused_from_its_head_is_answered_before_its_body_and_the_body_is_dropped() -> None:
    """401 arrives while the client has sent none of its 6 MiB body; the client may then send it all and still
    read the answer (no reset), and the body never reached the app."""
    seen = []

    def app(environ, start_response):
        seen.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    with running_front(LIMITS, refusing_gate, app) as running:
        with socket.create_connection((HOST, running.port), timeout=10) as sock:
            sock.sendall(request_head("POST", "/invocations", 6 * 1024 * 1024, Content_Type="application/json"))
            answer = read_response(sock)  # nothing of the body sent yet
            assert status_of(answer) == 401 and header(answer, "Connection") == "close"
            assert json_body(answer)["error"]["type"] == "authentication_error"
            sock.sendall(b"x" * (6 * 1024 * 1024))  # the client that ignores the early answer: no reset
            assert sock.recv(10) == b""
        assert seen == []


def test_a_shed_from_the_head_carries_retry_after_and_closes() -> None:
    with running_front(LIMITS, refusing_gate) as running:
        with socket.create_connection((HOST, running.port), timeout=10) as sock:
            sock.sendall(request_head("POST", "/full", 120_000, Authorization="Bearer good") + b"{" * 120_000)
            answer = read_response(sock)
            assert status_of(answer) == 503 and header(answer, "Retry-After") == "1"
            assert header(answer, "Connection") == "close" and sock.recv(10) == b""


def test_head_requests_get_the_fronts_own_answers_without_a_body() -> None:
    with running_front(LIMITS, refusing_gate) as running:
        with socket.create_connection((HOST, running.port), timeout=10) as sock:
            sock.sendall(request_head("HEAD", "/invocations"))
            answer = read_response(sock, head_only=True)
            assert status_of(answer) == 401 and answer.endswith(b"\r\n\r\n")
            assert int(header(answer, "Content-Length") or 0) > 0  # the length a GET's body would have
            assert sock.recv(10) == b""  # and nothing after the head
        with socket.create_connection((HOST, running.port), timeout=10) as sock:
            sock.sendall(request_head("HEAD", "/ping"))
            assert status_of(read_response(sock, head_only=True)) == 200
            sock.sendall(request_head("GET", "/live"))
            assert status_of(read_response(sock)) == 200  # the connection lives on after a HEAD


def test_a_pipelined_probe_flood_does_not_starve_other_connections() -> None:
    """One connection pipelines 40,000 /ping; another connection's /ping is answered within a second meanwhile."""
    flood = request_head("GET", "/ping") * 40_000
    with running_front(LIMITS) as running:
        attacker = socket.create_connection((HOST, running.port), timeout=30)
        answered = threading.Event()

        def drain() -> None:  # the attacker reads its answers, so the front never waits on a full socket
            total = 0
            try:
                while chunk := attacker.recv(1 << 20):
                    total += chunk.count(b"HTTP/1.1 200")
                    if total >= 40_000:
                        break
            except OSError:
                pass
            answered.set()

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        attacker.sendall(flood)
        latencies = [ping(running.port)[1] for _ in range(5)]
        assert max(latencies) < 1.0, latencies
        assert answered.wait(60)
        attacker.close()


def test_bodies_past_the_memory_budget_are_spooled_and_past_both_budgets_refused_unread() -> None:
    limits = FrontLimits(max_body_bytes=100_000, threads=2, max_waiting=2, body_memory_bytes=150_000,
                         spool_disk_bytes=150_000)  # fmt: skip
    with running_front(limits) as running:
        partial, budget = [], running.front.bodies
        for held in (1, 2, 3):  # 3 x 99,999 bytes held: 1 in memory, 1 spooled, the third has no room
            sock = socket.create_connection((HOST, running.port), timeout=10)
            sock.sendall(request_head("POST", "/echo", 100_000) + b"y" * 99_999)
            partial.append(sock)
            if held < 3:
                wait_until(lambda held=held: running.call(lambda: budget.memory + budget.disk) == held * 99_999,
                           "the body read")  # fmt: skip
        refused = read_response(partial[-1])
        assert status_of(refused) == 503 and "temporary space" in json_body(refused)["error"]["message"]
        assert running.call(lambda: (budget.memory, budget.disk)) == (99_999, 99_999)
        partial[0].sendall(b"y")
        assert json_body(read_response(partial[0])) == {"path": "/echo", "bytes": 100_000}
        with socket.create_connection((HOST, running.port), timeout=10) as sock:  # room again
            sock.sendall(request_head("POST", "/echo", 10, Connection="close") + b"z" * 10)
            assert status_of(read_response(sock)) == 200
        for sock in partial:
            sock.close()


CLIENT = """
import socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
held, served = [], 0
for _ in range(count):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /ping HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    try:
        served += sock.recv(100).startswith(b"HTTP/1.1 200")
    except OSError:
        pass
    held.append(sock)  # kept open: idle, kept alive
print(served)
"""


def test_out_of_file_descriptors_the_acceptor_closes_an_idle_connection_instead_of_spinning() -> None:
    """With the open-file limit 12 above what the process holds, 40 clients come one after another and stay
    connected: each is served (an idle one is closed for it), with a handful of warnings, not a loop of
    tracebacks."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("inference.runtime.acceptor")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)  # whatever level an earlier test's app configured
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limits = FrontLimits(max_body_bytes=1000, threads=2, max_waiting=2, max_connections=1000,
                         max_connections_per_address=1000)  # only the descriptors run out
    with running_front(limits) as running:
        resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 12, hard))
        try:
            out = subprocess.run([sys.executable, "-c", CLIENT, str(running.port), "40"], capture_output=True,
                                 text=True, timeout=120, check=True,  # the client itself has the usual limit
                                 preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard)))
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        assert out.stdout.strip() == "40"
        front = running.front
        assert running.call(lambda: (front.slots.evicted >= 1, front._acceptor.exhausted >= 1)) == (True, True)
    logger.removeHandler(handler)
    logger.setLevel(level)
    warnings = [r for r in records if "cannot accept a connection" in r.getMessage()]
    assert 1 <= len(warnings) <= 3 and not any(r.exc_info for r in records)


def test_a_client_that_does_not_read_its_response_is_dropped_after_the_write_timeout() -> None:
    big = b"x" * (64 * 1024 * 1024)  # far more than the socket buffers hold

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [big]

    limits = FrontLimits(max_body_bytes=1000, threads=2, max_waiting=2, write_timeout_s=1.0)
    with running_front(limits, app=app) as running:
        sock = socket.create_connection((HOST, running.port), timeout=10)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(request_head("GET", "/big"))
        wait_until(lambda: running.call(lambda: len(running.front.slots)) == 1, "the connection taken")
        started = time.monotonic()  # the answer is being written from about now
        wait_until(lambda: running.call(lambda: len(running.front.slots)) == 0, "the connection dropped", 10)
        assert 0.9 < time.monotonic() - started < 5
        sock.close()


def test_the_wait_bound_holds_for_a_body_that_arrives_after_the_pool_filled() -> None:
    """The head passed while threads were free; by the time its body arrived every thread and wait slot was taken:
    it gets the fast 503 (the bound is checked again once the body is read), not a place in an unbounded queue."""
    release = threading.Event()

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/hold":
            release.wait(20)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    limits = FrontLimits(max_body_bytes=1000, threads=1, max_waiting=1)
    with running_front(limits, app=app) as running:
        late = socket.create_connection((HOST, running.port), timeout=10)
        late.sendall(request_head("POST", "/late", 2))  # admitted from its head: nothing runs yet
        wait_until(lambda: running.call(lambda: len(running.front.slots)) == 1, "the late head read")
        held = [socket.create_connection((HOST, running.port), timeout=10) for _ in range(2)]
        for sock in held:
            sock.sendall(request_head("POST", "/hold", 2) + b"{}")
        wait_until(lambda: running.call(lambda: running.front._in_flight) == 2, "one running, one waiting")
        late.sendall(b"{}")
        answer = read_response(late)
        assert status_of(answer) == 503 and json_body(answer)["error"]["type"] == "overloaded"
        release.set()
        assert [status_of(read_response(sock)) for sock in held] == [200, 200]
        for sock in [late, *held]:
            sock.close()
