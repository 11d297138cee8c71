"""CPU backends side by side, in-process, in one run: torch fp32, ONNX Runtime fp32 (``EMB_CPU_BACKEND=onnx``)
and ONNX Runtime dynamic int8 (``EMB_CPU_BACKEND=onnx-int8``: per-channel weights, FFN down projections fp32), each
through the text handler's own ``forward`` (the same tokenisation, length buckets and pooling).

    make bench-cpu-backends        # = .venv/bin/python bench/cpu_backends.py

The bench corpus (bench/corpus.py, 1000 texts), sorted by token count, in batches of 32; texts/s is the best of 3
passes over the corpus. Accuracy against torch fp32 on the same texts: the largest absolute difference of the
unit-length vectors the API returns, mean and lowest cosine, and top-10 retrieval overlap (the first 100 texts as
queries against all of them, the query itself left out), and how much a vector depends on the other texts in
its batch (the largest difference between 32 texts embedded alone and in their batches). Per thread count
(``--threads``; default 1, the service's per-worker CPU default, and every core, one process as a whole machine):
ONNX Runtime gets the same intra-op threads as torch. Infinity runs only from bench/.venv-infinity (``make bench``
builds it and measures it over HTTP); without it the output says so.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent))

from corpus import build_corpus, fingerprint  # noqa: E402
from run import hardware, load_average  # noqa: E402
from servers import INFINITY_VENV  # noqa: E402

from inference.handlers import onnx_backend  # noqa: E402
from inference.handlers.onnx_text import OnnxTextEmbeddingHandler  # noqa: E402
from inference.handlers.text import TextEmbeddingHandler  # noqa: E402
from inference.model_dir import embedded_model_dir  # noqa: E402
from inference.settings import Settings  # noqa: E402


def quantize(fp32: Path, out: Path, keep_fp32: str) -> Path:
    """Dynamic int8 with one scale per output channel; ``keep_fp32``: name fragments of MatMul nodes left fp32."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(fp32), load_external_data=False).graph
    fragments = [f for f in keep_fp32.split(",") if f]
    excluded = [n.name for n in graph.node if n.op_type == "MatMul" and any(f in n.name for f in fragments)]
    target = out / f"int8-{abs(hash(keep_fp32)) % 10**8}.onnx"
    quantize_dynamic(fp32, target, weight_type=QuantType.QInt8, per_channel=True, nodes_to_exclude=excluded)
    return target


def measure(handler: TextEmbeddingHandler, batches: list[list[int]], ids: list[list[int]], repeats: int
            ) -> tuple[float, np.ndarray]:  # fmt: skip
    """(best texts/s of ``repeats`` passes, the unit-length vectors in corpus order)."""
    best, vectors = float("inf"), np.zeros(0)
    for _ in range(repeats):
        start = time.perf_counter()
        parts = [handler.forward([ids[i] for i in batch], None) for batch in batches]
        best = min(best, time.perf_counter() - start)
        order = np.argsort([i for batch in batches for i in batch])
        vectors = np.concatenate(parts)[order]
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return len(ids) / best, vectors


def top_k(vectors: np.ndarray, queries: int, k: int = 10) -> np.ndarray:
    scores = vectors[:queries] @ vectors.T
    scores[np.arange(queries), np.arange(queries)] = -np.inf  # not the query itself
    return np.argsort(-scores, axis=1)[:, :k]


def accuracy(vectors: np.ndarray, reference: np.ndarray, queries: int) -> dict[str, float]:
    cosine = np.sum(vectors * reference, axis=1)
    mine, theirs = top_k(vectors, queries), top_k(reference, queries)
    overlap = np.mean([len(set(a) & set(b)) / a.size for a, b in zip(mine, theirs, strict=True)])
    return {"max_abs": float(np.abs(vectors - reference).max()), "mean_cos": float(cosine.mean()),
            "min_cos": float(cosine.min()), "overlap10": float(overlap)}  # fmt: skip


def run_threads(args: argparse.Namespace, threads: int, texts: list[str], cache: Path) -> list[dict[str, object]]:
    base = Settings(torch_threads=threads, onnx_cache_dir=cache)
    torch_handler = TextEmbeddingHandler(args.model_dir, base.with_overrides(cpu_backend="torch"))
    onnx_handler = TextEmbeddingHandler(args.model_dir, base.with_overrides(cpu_backend="onnx"))
    assert onnx_handler._onnx is not None, "the ONNX backend did not load (see the log)"
    ids = torch_handler.tokenize(texts, None, True)
    ordered = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    batches = [ordered[i : i + args.batch] for i in range(0, len(ordered), args.batch)]
    package = OnnxTextEmbeddingHandler(args.model_dir, base.with_overrides(cpu_backend="onnx"))  # what auto serves
    systems: list[tuple[str, Any]] = [("torch fp32", torch_handler), ("onnx fp32", onnx_handler),
                                      ("onnx fp32, package without torch", package)]  # fmt: skip
    if not args.no_int8:
        int8_mode = TextEmbeddingHandler(args.model_dir, base.with_overrides(cpu_backend="onnx-int8"))
        systems.append(("onnx int8", int8_mode))
    for keep in args.int8:
        int8 = TextEmbeddingHandler(args.model_dir, base.with_overrides(cpu_backend="onnx"))
        int8._onnx = onnx_backend.OnnxEncoder(quantize(onnx_handler._onnx.path, cache, keep), threads)
        systems.append((f"onnx int8, fp32 MatMuls: {keep or 'none'}", int8))
    rows: list[dict[str, object]] = []
    reference = np.zeros(0)
    for name, handler in systems:
        handler.warmup()
        torch.set_num_threads(threads)
        speed, vectors = measure(handler, batches, ids, args.repeats)
        if not rows:
            reference = vectors
        alone = np.concatenate([handler.forward([ids[i]], None) for i in ordered[:: max(1, len(ids) // 32)]])
        alone /= np.linalg.norm(alone, axis=1, keepdims=True)
        batch_effect = float(np.abs(alone - vectors[ordered[:: max(1, len(ids) // 32)]]).max())
        scores = accuracy(vectors, reference, args.queries)
        rows.append({"system": name, "threads": threads, "texts_s": speed, **scores, "batch_effect": batch_effect})
        print(f"  {name}, {threads} thread(s): {speed:.1f} texts/s", file=sys.stderr, flush=True)
    return rows


def render(rows: list[dict[str, object]]) -> str:
    lines = ["| Backend | Threads | texts/s | vs torch | max abs diff | mean cosine | min cosine | top-10 overlap | "
             "alone vs batched |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    torch_speed = {r["threads"]: r["texts_s"] for r in rows if r["system"] == "torch fp32"}
    for r in rows:
        ratio = float(r["texts_s"]) / float(torch_speed[r["threads"]])  # type: ignore[arg-type]
        lines.append(
            f"| {r['system']} | {r['threads']} | {r['texts_s']:.1f} | {ratio:.2f}x | {r['max_abs']:.1e} | "
            f"{r['mean_cos']:.5f} | {r['min_cos']:.5f} | {r['overlap10']:.3f} | {r['batch_effect']:.1e} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=None, help="default: the embedded all-MiniLM-L6-v2")
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--queries", type=int, default=100, help="texts used as top-10 retrieval queries")
    parser.add_argument("--threads", default=f"1,{len(os.sched_getaffinity(0))}", help="comma-separated")
    parser.add_argument("--int8", action="append", default=[], metavar="FRAGMENTS",
                        help="an extra int8 row (exploring) leaving fp32 the MatMuls whose names hold one of these "
                        "comma-separated fragments ('' quantises every MatMul); repeatable")  # fmt: skip
    parser.add_argument("--no-int8", action="store_true", help="no EMB_CPU_BACKEND=onnx-int8 row")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.model_dir = args.model_dir or embedded_model_dir()
    logging.basicConfig(level=logging.WARNING)
    texts = build_corpus(args.texts, args.seed)
    info = hardware()
    print(f"# CPU backends: {args.model_dir}, {len(texts)} texts (corpus {fingerprint(texts)}), "
          f"batches of {args.batch} sorted by length, best of {args.repeats}")  # fmt: skip
    print(f"Hardware: {info['cpu']}, {info['cores']} cores, {info['memory']}; {info['os']}")
    import onnxruntime
    import transformers

    print(f"Python {info['python']}, torch {info['torch']}, transformers {transformers.__version__}, "
          f"onnxruntime {onnxruntime.__version__}")  # fmt: skip
    print(f"Load average before: {load_average()}")
    threads = [int(t) for t in args.threads.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-onnx-") as cache:
        rows = [row for t in threads for row in run_threads(args, t, texts, Path(cache))]
    print(f"Load average after: {load_average()}\n")
    print(render(rows))
    binary = INFINITY_VENV / "bin" / "infinity_emb"
    if binary.exists():
        print(f"\nInfinity: installed ({binary}); its CPU rows come from `make bench` (HTTP, same corpus).")
    else:
        print(f"\nInfinity: not installed ({INFINITY_VENV} absent): no row; `make bench` builds it and measures it.")
    print("Rerank order agreement: not measured (rerankers stay on torch; no ONNX reranker path).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
