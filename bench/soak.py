"""Bounded soak: steady closed-loop load for ``--minutes`` (default 10), reporting RSS and latency drift.

Starts its own server (``python -m inference serve`` on 127.0.0.1, the embedded model on CPU), runs
``--clients`` clients that send requests of 1-16 varied texts (stays under capacity: no shedding expected),
and every ``--interval`` seconds prints: requests, errors, p50/p99 latency, req/s, worker RSS (MiB). At the
end: RSS growth first interval -> last and its slope per 10 minutes, p50/p99 drift (last interval vs first),
and the verdict against ``--max-rss-growth-mib`` / ``--max-p99-drift`` (exit 1 when exceeded).
Only talks to the server it started; the load stops by itself at the deadline.

    python bench/soak.py --minutes 10
    python bench/soak.py --minutes 1 --interval 10 --json   # quick check
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.reliability.harness import HOST, Server, clean_env, percentile, request  # noqa: E402

WORDS = ("search engines rank documents by the similarity of their embedding vectors to the query vector "
         "while long passages and short questions share one space across languages und Sprachen").split()


def make_body(rng: random.Random) -> bytes:
    texts = [" ".join(rng.choices(WORDS, k=rng.randint(3, 60))) for _ in range(rng.randint(1, 16))]
    return json.dumps({"input": texts}).encode()


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.errors = 0

    def add(self, seconds: float | None) -> None:
        with self.lock:
            if seconds is None:
                self.errors += 1
            else:
                self.latencies.append(seconds)

    def take(self) -> tuple[list[float], int]:
        with self.lock:
            out, errors = self.latencies, self.errors
            self.latencies, self.errors = [], 0
            return out, errors


def client(port: int, seed: int, stop_at: float, recorder: Recorder) -> None:
    import http.client

    rng = random.Random(seed)
    conn = http.client.HTTPConnection(HOST, port, timeout=120)
    while time.monotonic() < stop_at:
        try:
            reply = request(port, "POST", "/invocations", make_body(rng), {"Content-Type": "application/json"},
                            conn=conn)
            recorder.add(reply.seconds if reply.status == 200 else None)
        except OSError:
            recorder.add(None)
            conn.close()
            conn = http.client.HTTPConnection(HOST, port, timeout=120)
    conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--interval", type=float, default=60, help="seconds per report line")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8, help="EMB_THREADS of the server")
    parser.add_argument("--max-rss-growth-mib", type=float, default=50)
    parser.add_argument("--max-p99-drift", type=float, default=1.5, help="last/first interval p99 ratio")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    env = clean_env(EMB_THREADS=str(args.threads), EMB_LOG_LEVEL="WARNING")
    with Server(env) as server:
        server.wait_ready()
        started = time.monotonic()
        stop_at = started + args.minutes * 60
        recorder = Recorder()
        threads = [threading.Thread(target=client, args=(server.port, n, stop_at, recorder), daemon=True)
                   for n in range(args.clients)]
        for thread in threads:
            thread.start()
        rows = []
        next_report = started + args.interval
        while True:
            time.sleep(max(0.0, min(next_report, stop_at) - time.monotonic()))  # report cadence
            latencies, errors = recorder.take()
            span = args.interval if time.monotonic() < stop_at else max(1e-9, stop_at - (next_report - args.interval))
            row = {
                "t_s": round(time.monotonic() - started), "requests": len(latencies), "errors": errors,
                "req_per_s": round(len(latencies) / span, 1),
                "p50_ms": round(percentile(latencies, 50) * 1000, 1),
                "p99_ms": round(percentile(latencies, 99) * 1000, 1),
                "worker_rss_mib": round(server.worker_rss_mib(), 1), "workers": server.workers(),
            }
            rows.append(row)
            print(json.dumps(row) if args.json else "  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
            if time.monotonic() >= stop_at:
                break
            next_report += args.interval
        for thread in threads:
            thread.join(130)

    first, last = rows[0], rows[-1] if rows[-1]["requests"] else rows[-2 if len(rows) > 1 else -1]
    minutes = max(1e-9, (last["t_s"] - first["t_s"]) / 60)
    growth = last["worker_rss_mib"] - first["worker_rss_mib"]
    summary = {
        "minutes": args.minutes, "clients": args.clients, "requests": sum(r["requests"] for r in rows),
        "errors": sum(r["errors"] for r in rows), "rss_first_mib": first["worker_rss_mib"],
        "rss_last_mib": last["worker_rss_mib"], "rss_growth_mib": round(growth, 1),
        "rss_slope_mib_per_10min": round(growth / minutes * 10, 1),
        "p50_drift": round(last["p50_ms"] / first["p50_ms"], 2) if first["p50_ms"] else None,
        "p99_drift": round(last["p99_ms"] / first["p99_ms"], 2) if first["p99_ms"] else None,
        "worker_restarts": len({tuple(r["workers"]) for r in rows}) - 1,
    }
    ok = (summary["errors"] == 0 and growth <= args.max_rss_growth_mib and summary["worker_restarts"] == 0
          and (summary["p99_drift"] or 0) <= args.max_p99_drift)
    summary["verdict"] = "ok" if ok else "DRIFT"
    print(json.dumps(summary) if args.json else "summary: " + "  ".join(f"{k}={v}" for k, v in summary.items()))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
