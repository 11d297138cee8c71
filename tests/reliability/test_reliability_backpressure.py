"""Backpressure on a real server: past capacity, a fast 503 + Retry-After instead of a long wait; accepted
requests keep a bounded p99, health checks stay fast, worker memory stays flat.

Capacity per worker: EMB_THREADS requests running + EMB_THREADS waiting for a thread (inference/runtime/front.py),
and at most EMB_MAX_QUEUE_INPUTS inputs in the batcher. Here EMB_THREADS=2, so 16 clients are 4x capacity.
"""

from __future__ import annotations

import threading
import time

import orjson
import pytest

from tests.reliability.harness import Server, clean_env, closed_loop, percentile, request

THREADS = 2
CAPACITY = 2 * THREADS
TEXTS = ["backpressure keeps latency bounded", "a second sentence of the request", "third", "and the fourth one"]


def small(client: int, i: int) -> bytes:
    return orjson.dumps({"input": [f"{t} {client} {i}" for t in TEXTS]})


def only_overloaded_errors(client: int, i: int, status: int, body: bytes) -> str | None:
    if status == 200:
        return None
    error = orjson.loads(body).get("error", {})
    return None if status == 503 and error.get("type") == "overloaded" else f"{status}: {body[:200]!r}"


@pytest.fixture(scope="module")
def small_server():
    with Server(clean_env(EMB_THREADS=str(THREADS), EMB_MAX_QUEUE_INPUTS="64")) as server:
        server.wait_ready()
        closed_loop(server.port, small, clients=THREADS, requests_per_client=5, max_seconds=30)  # warm-up
        yield server


class PingProbe(threading.Thread):
    """Polls /ping while load runs (bounded by ``stop`` and a deadline)."""

    def __init__(self, port: int, deadline_s: float) -> None:
        super().__init__(daemon=True)
        self.port, self.deadline = port, time.monotonic() + deadline_s
        self.stop = threading.Event()
        self.results: list[tuple[int, float]] = []

    def run(self) -> None:
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            reply = request(self.port, "GET", "/ping", timeout=10)
            self.results.append((reply.status, reply.seconds))
            self.stop.wait(0.2)  # probe interval


def test_four_times_capacity_gets_fast_503s_and_bounded_latency(small_server):
    port = small_server.port
    base = closed_loop(port, small, clients=THREADS, requests_per_client=10_000, max_seconds=6,
                       check=only_overloaded_errors)
    rss_before = small_server.worker_rss_mib()
    probe = PingProbe(port, deadline_s=30)
    probe.start()
    over = closed_loop(port, small, clients=4 * CAPACITY, requests_per_client=10_000, max_seconds=10,
                       check=only_overloaded_errors, backoff_s=0.05)
    probe.stop.set()
    probe.join(15)
    rss_after = small_server.worker_rss_mib()

    assert not base.errors and not over.errors, (base.errors[:3], over.errors[:3])
    assert not base.bad_bodies and not over.bad_bodies, over.bad_bodies[:3]
    accepted, rejected = over.latencies(200), over.latencies(503)
    assert accepted and rejected, "at 4x capacity some requests are served and some shed"
    assert set(over.retry_after) == {"1"}
    assert percentile(rejected, 99) < 1.0, "rejections are fast"
    base_p99 = percentile(base.latencies(200), 99)
    assert percentile(accepted, 99) < max(5 * base_p99, base_p99 + 3), (percentile(accepted, 99), base_p99)
    assert rss_after - rss_before < 64, (rss_before, rss_after)
    assert probe.results and all(status == 200 for status, _ in probe.results), probe.results
    assert max(seconds for _, seconds in probe.results) < 2.0, "health checks are not queued behind requests"


def test_too_many_inputs_in_flight_is_a_503_from_the_batcher(small_server):
    def big(client: int, i: int) -> bytes:
        return orjson.dumps({"input": [f"input {k} of request {client}.{i}" for k in range(48)]})

    messages: list[str] = []

    def keep(client: int, i: int, status: int, body: bytes) -> str | None:
        if status == 503:
            messages.append(orjson.loads(body)["error"]["message"])
        return only_overloaded_errors(client, i, status, body)

    stats = closed_loop(small_server.port, big, clients=THREADS, requests_per_client=10_000, max_seconds=8,
                        check=keep, backoff_s=0.01)
    assert not stats.errors and not stats.bad_bodies
    assert stats.count(200) > 0
    assert any("inputs in flight" in m for m in messages), messages[:3]  # 48 + 48 > EMB_MAX_QUEUE_INPUTS=64
    assert small_server.ping() == 200
