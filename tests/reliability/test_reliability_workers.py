"""Several workers behind one socket: no request meets a worker whose model is still loading.

At start-up ``/ping`` stays 503 until every worker that takes connections is ready; a worker that
replaces a crashed one takes no connections until its own model is ready, so the other worker serves
everything meanwhile and ``/ping`` stays 200 (inference/readiness.py).
"""

from __future__ import annotations

import os
import signal
import time

from tests.reliability.harness import Server, clean_env, poll, post_json

DEADLINE_S = 120


def _served_by(server: Server) -> set[int]:
    return {r["pid"] for r in server.log_records() if r.get("logger") == "inference.access"}


def _ready_pids(server: Server) -> set[int]:
    return {r["pid"] for r in server.log_records() if r.get("msg", "").startswith("model ready")}


def test_no_request_reaches_a_loading_worker():
    with Server(clean_env(EMB_WORKERS="2", EMB_THREADS="4")) as server:
        server.wait_ready()
        first = server.workers()
        assert len(first) == 2
        # /ping 200 means every worker is ready: each new connection is served, whichever worker takes it.
        replies = [post_json(server.port, {"input": [f"start {i}"]}).status for i in range(20)]
        assert replies == [200] * 20
        assert _ready_pids(server) == set(first)

        os.kill(first[0], signal.SIGKILL)
        (new,) = poll(lambda: [p for p in server.workers() if p not in first], 30, "a replacement worker")
        statuses, pings, deadline = [], [], time.monotonic() + DEADLINE_S
        while new not in _ready_pids(server):  # the replacement loads its model meanwhile
            assert time.monotonic() < deadline, "the replacement never became ready"
            statuses.append(post_json(server.port, {"input": ["while a worker loads"]}).status)
            pings.append(server.ping())
        assert statuses and set(statuses) == {200}, f"requests during the reload: {statuses}"
        assert set(pings) == {200}

        # Once ready, the replacement takes its share of new connections.
        deadline = time.monotonic() + DEADLINE_S
        while new not in _served_by(server):
            assert time.monotonic() < deadline, "the replacement never served a request"
            assert post_json(server.port, {"input": ["after the reload"]}).status == 200
        print(f"{len(statuses)} requests during the reload, all 200; /ping stayed 200")
