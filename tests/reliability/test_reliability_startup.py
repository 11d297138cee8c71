"""Multi-worker start-up, made deterministic: ``/ping`` is 503 while any worker that takes connections is
still loading its model, on every worker, and 200 once all are ready (inference/server.py
``_hold_until_ready``, inference/readiness.py).

Both workers' model loads are held at a gate the test controls (tests/reliability/gated_server.py), so the
test knows which worker is loading when it probes. Each probe carries its own ``X-Request-Id``; the access log
(``/ping`` is logged at DEBUG) says which worker (pid) answered it. Probing goes on until each worker has
answered a few probes, so a worker that answers 200 too early cannot go unseen.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass

from tests.reliability.gated_server import GatedServer, gated_env
from tests.reliability.harness import poll, request

PER_WORKER = 3  # probes each worker must answer in each phase
PROBE_DEADLINE_S = 60
_ids = itertools.count()


@dataclass
class Answer:
    status: int
    message: str | None  # the error message of a 503


def probe_both(server: GatedServer, workers: list[int]) -> dict[int, list[Answer]]:
    """Send /ping (new connection each) until every worker answered PER_WORKER of them; answers per worker pid."""
    sent: dict[str, Answer] = {}
    by_worker: dict[int, list[Answer]] = defaultdict(list)
    deadline = time.monotonic() + PROBE_DEADLINE_S
    while any(len(by_worker[pid]) < PER_WORKER for pid in workers):
        assert time.monotonic() < deadline, f"not every worker answered /ping: {dict(by_worker)}"
        for _ in range(4):
            probe_id = f"probe-{next(_ids)}"
            reply = request(server.port, "GET", "/ping", headers={"X-Request-Id": probe_id}, timeout=10)
            sent[probe_id] = Answer(reply.status, (json.loads(reply.body).get("error") or {}).get("message"))
        for record in server.log_records():  # the access line is written before the reply is sent
            answer = sent.pop(record.get("id"), None)
            if answer is not None and record.get("logger") == "inference.access":
                by_worker[record["pid"]].append(answer)
    assert set(by_worker) == set(workers), f"answers from unknown processes: {dict(by_worker)}"
    return by_worker


def model_ready(server: GatedServer, pid: int) -> bool:
    return any(r.get("pid") == pid and r.get("msg", "").startswith("model ready") for r in server.log_records())


def statuses(answers: dict[int, list[Answer]]) -> dict[int, set[int]]:
    return {pid: {a.status for a in seen} for pid, seen in answers.items()}


def test_ping_stays_503_until_every_worker_is_ready(tmp_path):
    env = gated_env(EMB_WORKERS="2", EMB_THREADS="4", EMB_LOG_LEVEL="DEBUG")
    with GatedServer(tmp_path, env, gate_load=True) as server:
        first, second = workers = server.loading_workers(2)
        assert sorted(workers) == server.workers()

        # Both take connections while loading (no worker was ready when they started): 503 from each.
        loading = probe_both(server, workers)
        assert statuses(loading) == {first: {503}, second: {503}}
        assert {a.message for seen in loading.values() for a in seen} == {"model is loading"}

        # One worker is ready, the other still loading: the ready one must not say 200.
        server.release_load(first)
        poll(lambda: model_ready(server, first), 30, f"worker {first} ready")
        half = probe_both(server, workers)
        assert statuses(half) == {first: {503}, second: {503}}, "a ready worker said 200 while another loads"
        assert {a.message for a in half[first]} == {"other workers are still loading the model"}
        assert {a.message for a in half[second]} == {"model is loading"}

        # Both ready: 200 from the first 200 on, from each worker.
        server.release_load(second)
        poll(lambda: server.ping() == 200, 30, "/ping 200")
        ready = probe_both(server, workers)
        assert statuses(ready) == {first: {200}, second: {200}}
