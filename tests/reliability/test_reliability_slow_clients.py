"""Slow and idle clients against a real server with its defaults (the embedded model, one worker per core),
apart from shorter head/body timeouts so the test takes seconds: hundreds of connections trickling partial
bodies and hundreds sending nothing, while /ping probes and ordinary embedding requests run. Every probe answers
within 2 s, ordinary requests keep their latency, the slow clients are cut off with 408 after the documented
timeout, and afterwards the workers hold no more threads or memory than before.

Before the event-loop front (gunicorn gthread), 100 slow bodies held every request thread: /ping timed out.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from tests.reliability.harness import HOST, Server, clean_env, percentile, poll, post_json, rss_mib

SLOW, IDLE = 300, 300
EXTRA_THREADS = 4
BODY_TIMEOUT_S = 8
TEXTS = ["an ordinary request", "served while slow clients wait"]


def threads_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise ProcessLookupError(pid)


def open_slow(port: int) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=30)
    sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 100000\r\n\r\n{\"input\": [\"")  # fmt: skip
    return sock


def trickle(socks: list[socket.socket], stop: threading.Event) -> None:
    """A byte per connection every half second, until the server closes it or the test ends."""
    while not stop.wait(0.5):  # the trickle's pace, not synchronisation
        for sock in list(socks):
            try:
                sock.sendall(b"a")
            except OSError:
                socks.remove(sock)


def answer_of(sock: socket.socket) -> tuple[bytes, float]:
    """What the server sent before closing, and when (monotonic)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except OSError:
        pass
    return data, time.monotonic()


@pytest.fixture(scope="module")
def server():
    env = clean_env(EMB_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S), EMB_HEADER_TIMEOUT_S=str(BODY_TIMEOUT_S))
    with Server(env) as running:
        running.wait_ready()
        for _ in range(5):  # warm-up
            assert post_json(running.port, {"input": TEXTS}).status == 200
        yield running


def baseline_latency(port: int, count: int = 20) -> float:
    return percentile([post_json(port, {"input": TEXTS}).seconds for _ in range(count)], 0.5)


def test_slow_and_idle_clients_leave_health_and_ordinary_traffic_alone(server: Server) -> None:
    workers = server.workers()
    before_threads = {pid: threads_of(pid) for pid in workers}
    before_rss = server.worker_rss_mib()
    quiet_p50 = baseline_latency(server.port)

    opened = time.monotonic()
    slow = [open_slow(server.port) for _ in range(SLOW)]
    idle = [socket.create_connection((HOST, server.port), timeout=30) for _ in range(IDLE)]
    all_open = time.monotonic()
    stop = threading.Event()
    trickler = threading.Thread(target=trickle, args=(list(slow), stop), daemon=True)
    trickler.start()
    try:
        pings, ordinary = [], []
        while time.monotonic() - opened < BODY_TIMEOUT_S - 1 or not pings:  # while the slow clients are open
            started = time.monotonic()
            assert server.ping(timeout=2) == 200, "a /ping took over 2 s or failed"
            pings.append(time.monotonic() - started)
            reply = post_json(server.port, {"input": TEXTS}, timeout=10)
            assert reply.status == 200, reply.body[:200]
            ordinary.append(reply.seconds)
        during = {pid: threads_of(pid) for pid in workers}
        assert max(pings) < 2
        assert percentile(ordinary, 0.5) < max(0.25, 5 * quiet_p50), (quiet_p50, sorted(ordinary))

        answers = [answer_of(sock) for sock in slow]
    finally:
        stop.set()
        trickler.join(5)
        for sock in slow + idle:
            sock.close()
    statuses = {data.split(b" ", 2)[1] for data, _ in answers if data}
    assert statuses == {b"408"}, statuses
    earliest, latest = min(closed for _, closed in answers) - opened, max(closed for _, closed in answers) - all_open
    assert BODY_TIMEOUT_S - 1 < earliest and latest < BODY_TIMEOUT_S + 5, (earliest, latest)

    # 600 open connections take no thread each: at most the few the pool and tokenizer add for the ordinary
    # requests (gthread held one request thread per slow body)
    assert all(during[pid] - before_threads[pid] <= EXTRA_THREADS for pid in workers), (before_threads, during)
    poll(lambda: all(threads_of(pid) <= during[pid] for pid in workers), 10, "no thread growth afterwards")
    assert server.workers() == workers, "a worker was replaced"
    assert server.worker_rss_mib() - before_rss < 100, (before_rss, server.worker_rss_mib())
    assert all(rss_mib(pid) > 0 for pid in workers)
