"""One server, two models: does overloading one leave the other's latency alone? One command, one table.

A model set (docs/models/model-sets.md) of the embedded all-MiniLM-L6-v2 (``embedder``) and a MiniLM-L6-sized
cross-encoder (``reranker``, built offline by ``bench/rerank.py``'s ``build_model``) is served by this
repository's server with production defaults (``python -m inference --model-dir ROOT``). Then:

1. **idle**: ``--requests`` rerank requests one after another (a query and ``--documents`` documents of the
   bench corpus), latency of each;
2. **embedder overloaded**: the same rerank requests, while ``--flood-clients`` closed-loop clients send
   embedding requests of ``--flood-texts`` texts each as fast as the server answers (503s included: the
   embedder's own queue refuses what it cannot do in time).

Printed: the reranker's p50 / p95 latency in both phases and their ratio, the embedder's answered and refused
requests during the flood, and the host (CPU model, cores, load average before the run). Only 127.0.0.1 is
contacted; the server is stopped at the end.

    python bench/model_set.py
    python bench/model_set.py --requests 20 --flood-clients 4    # shorter
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from corpus import build_corpus  # noqa: E402
from rerank import build_model  # noqa: E402
from servers import HOST, RunningServer, this_service, without_serving_settings  # noqa: E402


def _post(port: int, path: str, body: dict[str, object]) -> tuple[int, float]:
    conn = http.client.HTTPConnection(HOST, port, timeout=120)
    started = time.perf_counter()
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    finally:
        conn.close()


def _rerank_latencies(port: int, queries: list[str], documents: list[str], count: int, size: int) -> list[float]:
    times = []
    for i in range(count):
        docs = [documents[(i * size + j) % len(documents)] for j in range(size)]
        status, seconds = _post(port, "/v1/rerank", {"model": "reranker", "query": queries[i % len(queries)],
                                                     "documents": docs})  # fmt: skip
        if status != 200:
            raise RuntimeError(f"rerank answered {status} during the run")
        times.append(seconds)
    return times


def _flood(port: int, texts: list[str], per_request: int, stop: threading.Event, counts: dict[int, int]) -> None:
    i = 0
    while not stop.is_set():
        batch = [texts[(i + j) % len(texts)] for j in range(per_request)]
        status, _ = _post(port, "/v1/embeddings", {"model": "embedder", "input": batch})
        counts[status] = counts.get(status, 0) + 1
        i += per_request


def _host() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())  # fmt: skip
    return f"{model}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"


def _row(name: str, times: list[float]) -> str:
    p50, p95 = statistics.median(times), statistics.quantiles(times, n=20)[18]
    return f"| {name} | {len(times)} | {p50 * 1000:.0f} ms | {p95 * 1000:.0f} ms |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--documents", type=int, default=8)
    parser.add_argument("--flood-clients", type=int, default=8)
    parser.add_argument("--flood-texts", type=int, default=32)
    args = parser.parse_args()
    sys.path.insert(0, str(BENCH_DIR.parent))
    from inference.model_dir import embedded_model_dir

    queries, documents = build_corpus(64, seed=1, mix="short"), build_corpus(512, seed=2)
    host = _host()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "set"
        root.mkdir()
        (root / "embedder").symlink_to(embedded_model_dir(), target_is_directory=True)
        (root / "reranker").symlink_to(build_model("minilm-l6", BENCH_DIR / "results" / "models"))
        with RunningServer(this_service(root), root, BENCH_DIR / "results" / "logs",
                           base_env=without_serving_settings()) as server:  # fmt: skip
            server.wait_ready()
            _rerank_latencies(server.port, queries, documents, 3, args.documents)  # warm both paths
            idle = _rerank_latencies(server.port, queries, documents, args.requests, args.documents)
            stop, counts = threading.Event(), {}
            flooders = [threading.Thread(target=_flood, args=(server.port, documents, args.flood_texts, stop, counts))
                        for _ in range(args.flood_clients)]  # fmt: skip
            for thread in flooders:
                thread.start()
            try:
                busy = _rerank_latencies(server.port, queries, documents, args.requests, args.documents)
            finally:
                stop.set()
                for thread in flooders:
                    thread.join()
    print(f"Host: {host}. Server: production defaults, embedder + reranker in one model set.")
    print(f"Rerank requests: 1 query + {args.documents} documents; flood: {args.flood_clients} clients x "
          f"{args.flood_texts} texts per embedding request.\n")  # fmt: skip
    print("| reranker latency | requests | p50 | p95 |\n|---|---|---|---|")
    print(_row("embedder idle", idle))
    print(_row("embedder overloaded", busy))
    ratio = statistics.median(busy) / statistics.median(idle)
    print(f"\np50 ratio overloaded / idle: {ratio:.2f}x; embedder answers during the flood: "
          f"{ {str(k): v for k, v in sorted(counts.items())} }")  # fmt: skip


if __name__ == "__main__":
    main()
