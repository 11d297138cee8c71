"""Backpressure figures: one worker under 0.5x, 1x, 2x and 4x its capacity, closed-loop clients.

Starts its own server (``python -m inference serve`` on 127.0.0.1, the embedded model on CPU) with
``--threads`` request threads: capacity is 2 x threads concurrent requests per worker (threads running, as many
waiting; inference/admission.py). Each level runs ``--seconds``; clients that get a 503 wait ``--backoff-ms``
and retry, so the offered concurrency stays at the level. Printed per level: served and shed requests,
served req/s, accepted p50/p99, 503 p50/p99, /ping p99 during the level, worker RSS after it.
Only talks to the server it started; every loop is bounded in requests and time.

    python bench/reliability_load.py                      # this checkout
    python bench/reliability_load.py --repo /tmp/before   # another checkout (e.g. a git worktree), to compare
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.reliability.harness import REPO, Server, clean_env, closed_loop, percentile, request  # noqa: E402

TEXTS = ["backpressure keeps latency bounded", "a second sentence of the request", "third", "and the fourth one"]


def body(client: int, i: int) -> bytes:
    return json.dumps({"input": [f"{t} {client} {i}" for t in TEXTS]}).encode()


def ping_probe(port: int, stop: threading.Event, out: list[float], deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            out.append(request(port, "GET", "/ping", timeout=30).seconds)
        except OSError:
            out.append(float("inf"))
        stop.wait(0.2)


def run_level(server: Server, clients: int, seconds: float, backoff_s: float) -> dict[str, object]:
    stop, pings = threading.Event(), []
    probe = threading.Thread(target=ping_probe, args=(server.port, stop, pings, seconds + 120), daemon=True)
    probe.start()
    stats = closed_loop(
        server.port,
        body,
        clients=clients,
        requests_per_client=1_000_000,
        max_seconds=seconds,
        timeout=120,
        backoff_s=backoff_s,
    )
    stop.set()
    probe.join(30)
    ok, shed = stats.latencies(200), stats.latencies(503)
    ms = lambda values, p: round(percentile(values, p) * 1000, 1)  # noqa: E731
    return {
        "clients": clients,
        "served": len(ok),
        "shed_503": len(shed),
        "other": len(stats.results) - len(ok) - len(shed),
        "conn_errors": len(stats.errors),
        "served_per_s": round(len(ok) / stats.seconds, 1),
        "ok_p50_ms": ms(ok, 50),
        "ok_p99_ms": ms(ok, 99),
        "503_p50_ms": ms(shed, 50),
        "503_p99_ms": ms(shed, 99),
        "ping_p99_ms": ms(pings, 99),
        "worker_rss_mib": round(server.worker_rss_mib(), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=4, help="EMB_THREADS of the server (default 4)")
    parser.add_argument("--levels", default="0.5,1,2,4", help="load levels in multiples of capacity")
    parser.add_argument("--seconds", type=float, default=20, help="seconds per level")
    parser.add_argument("--backoff-ms", type=float, default=50, help="client wait after a 503")
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout to serve from")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    args = parser.parse_args(argv)
    capacity = 2 * args.threads
    env = clean_env(EMB_THREADS=str(args.threads), EMB_LOG_LEVEL="WARNING")
    with Server(env, repo=args.repo) as server:
        server.wait_ready()
        closed_loop(server.port, body, clients=args.threads, requests_per_client=20, max_seconds=60)  # warm-up
        print(
            f"# worker RSS after warm-up: {server.worker_rss_mib():.1f} MiB; capacity {capacity} requests "
            f"(EMB_THREADS={args.threads}); {args.seconds:.0f} s per level; repo {args.repo}",
            flush=True,
        )
        rows = []
        for level in (float(x) for x in args.levels.split(",")):
            row = {
                "level": level,
                **run_level(server, max(1, round(level * capacity)), args.seconds, args.backoff_ms / 1000),
            }
            rows.append(row)
            print(json.dumps(row) if args.json else "  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
        if not args.json:
            print()
            keys = list(rows[0])
            print("| " + " | ".join(keys) + " |")
            print("|" + " --- |" * len(keys))
            for row in rows:
                print("| " + " | ".join(str(row[k]) for k in keys) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
