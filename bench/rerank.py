"""Side-by-side reranking benchmark: one command, one table.

For each cross-encoder (default: a tiny one and a MiniLM-L6-sized one, both built offline, see ``build_model``)
and the same query/document pairs (queries: short texts of ``bench/corpus.py``; documents: its ``realistic`` mix,
so lengths run from one line to past the model's 512 tokens), it measures

1. sentence-transformers ``CrossEncoder.predict`` in-process on every pair at once (the no-HTTP ceiling; it
   sorts the pairs by length before batching),
2. this service over HTTP (``python -m inference --model-dir FOLDER``, production defaults) on ``/v1/rerank``,
3. Infinity (``infinity_emb v2``, its ``/rerank`` endpoint) from ``bench/.venv-infinity`` (as ``bench/run.py``),

under closed-loop concurrent clients, each request one query with its documents (``{"query", "documents",
"model", "return_documents": false}``, the same body for both servers). Printed: pairs/s, tokens/s (pair tokens
after truncation, counted client-side), p50/p99 request latency, errors, the ratios to the ceiling and to
Infinity, and each server's largest score difference to ``CrossEncoder.predict`` on the first request's pairs.
Servers run on free 127.0.0.1 ports and are stopped at the end; nothing else is contacted.

    python bench/rerank.py                          # the full table (about 3 minutes on 2 idle CPU cores)
    python -m bench.rerank --quick --no-infinity    # a smoke run of the pipeline
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from corpus import build_corpus, fingerprint  # noqa: E402
from loadgen import LoadResult, _Client  # noqa: E402
from loadgen import Workload as HttpWorkload  # noqa: E402
from loadgen import run_load as loadgen_run_load  # noqa: E402
from run import _gpu_dtype, ensure_infinity, hardware, load_average  # noqa: E402
from servers import OFFLINE_ENV, RunningServer, ServerSpec, infinity, this_service  # noqa: E402

MAX_LENGTH = 512  # both models' (and ms-marco-MiniLM-L-6-v2's) pair length
MODEL_NAME = "bench"
# name -> (description, builder version): a folder is rebuilt when its recorded spec differs
MODELS = {
    "tiny": "BertForSequenceClassification, 2 layers x 32 hidden, random weights, real WordPiece tokenizer",
    "minilm-l6": "BertForSequenceClassification, 6 layers x 384 hidden (ms-marco-MiniLM-L-6-v2's shape): the "
    "embedded all-MiniLM-L6-v2 encoder weights + a random one-label head",
}
BUILD_VERSION = 1


# -- models -----------------------------------------------------------------------------------------------
def build_model(name: str, root: Path) -> Path:
    """A cross-encoder folder (``save_pretrained`` + the embedded model's BERT WordPiece tokenizer files),
    built once under ``root`` and reused while its spec is unchanged. Offline; seeded."""
    folder = root / name
    spec = {"name": name, "version": BUILD_VERSION, "max_length": MAX_LENGTH}
    marker = folder / "bench_build.json"
    if marker.exists() and json.loads(marker.read_text()) == spec:
        return folder
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    sys.path.insert(0, str(BENCH_DIR.parent))
    from inference.model_dir import embedded_model_dir

    source = Path(embedded_model_dir())
    shutil.rmtree(folder, ignore_errors=True)
    torch.manual_seed(0)
    if name == "tiny":
        config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=64, max_position_embeddings=MAX_LENGTH, num_labels=1)  # fmt: skip
        model = BertForSequenceClassification(config)
    elif name == "minilm-l6":
        model = BertForSequenceClassification.from_pretrained(source, num_labels=1)
    else:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    model.eval()
    with torch.no_grad():
        model.classifier.weight.mul_(30)  # a random head gives logits near 0: spread the scores
    model.save_pretrained(folder)
    for file in ("tokenizer.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(source / file, folder / file)
    tokenizer_config = json.loads((source / "tokenizer_config.json").read_text())
    tokenizer_config.update(model_max_length=MAX_LENGTH, tokenizer_class="BertTokenizer")
    tokenizer_config.pop("name_or_path", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=1))
    marker.write_text(json.dumps(spec))
    return folder


def model_facts(folder: Path) -> dict[str, Any]:
    from safetensors import safe_open

    config = json.loads((folder / "config.json").read_text())
    params = 0
    with safe_open(str(folder / "model.safetensors"), "np") as weights:
        for key in weights.keys():
            count = 1
            for dim in weights.get_slice(key).get_shape():
                count *= dim
            params += count
    return {"layers": config["num_hidden_layers"], "hidden": config["hidden_size"], "params": params}


# -- workload ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Workload:
    queries: list[str]
    documents: list[list[str]]  # per query
    tokens: list[int]  # per request: the pair tokens the model sees (after truncation)

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return [(q, d) for q, docs in zip(self.queries, self.documents, strict=True) for d in docs]

    def bodies(self) -> list[bytes]:
        import orjson

        return [orjson.dumps({"query": q, "documents": docs, "model": MODEL_NAME, "return_documents": False})
                for q, docs in zip(self.queries, self.documents, strict=True)]  # fmt: skip


def build_workload(queries: int, docs_per_query: int, seed: int, folder: Path) -> Workload:
    from tokenizers import Tokenizer

    qs = [q.strip() for q in build_corpus(queries, seed, "short")]
    flat = [d.strip() for d in build_corpus(queries * docs_per_query, seed + 1, "realistic")]
    docs = [flat[i * docs_per_query : (i + 1) * docs_per_query] for i in range(queries)]
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_LENGTH, strategy="longest_first")
    tokens = [
        sum(len(e.ids) for e in tokenizer.encode_batch([(q, d) for d in ds])) for q, ds in zip(qs, docs, strict=True)
    ]
    return Workload(qs, docs, tokens)


def describe(workload: Workload, folder: Path) -> dict[str, Any]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    full = sorted(len(e.ids) for e in tokenizer.encode_batch([(q, d) for q, d in workload.pairs]))
    query_tokens = sorted(len(e.ids) - 2 for e in tokenizer.encode_batch(workload.queries))
    pairs = len(full)
    return {
        "queries": len(workload.queries),
        "pairs": pairs,
        "tokens": sum(workload.tokens),
        "mean_tokens": round(sum(workload.tokens) / pairs, 1),
        "query_tokens_p50": query_tokens[len(query_tokens) // 2],
        "pair_p50_full": full[pairs // 2],
        "pair_p90_full": full[min(pairs - 1, int(0.9 * pairs))],
        "pair_max_full": full[-1],
        "over_limit_pct": round(100 * sum(1 for n in full if n > MAX_LENGTH) / pairs, 1),
        "fingerprint": fingerprint([*workload.queries, *(d for ds in workload.documents for d in ds)]),
    }


# -- in-process ceiling (a child process: its torch threads and memory are gone before the servers run) ---------
def ceiling_child(args: argparse.Namespace) -> int:
    import torch
    from sentence_transformers import CrossEncoder

    spec = json.loads(Path(args.ceiling_child).read_text())
    kwargs = {"model_kwargs": {"dtype": getattr(torch, spec["dtype"])}} if spec["dtype"] else {}
    model = CrossEncoder(spec["folder"], device=spec["device"], **kwargs)
    queries, documents = spec["queries"], spec["documents"]
    pairs = [(q, d) for q, docs in zip(queries, documents, strict=True) for d in docs]

    def sync() -> None:
        if spec["device"].startswith("cuda"):
            torch.cuda.synchronize()

    model.predict(pairs[:32], batch_size=32, show_progress_bar=False)  # warm-up
    rows = []
    for batch_size in spec["batch_sizes"]:
        sync()
        started = time.perf_counter()
        scores = model.predict(pairs, batch_size=batch_size, show_progress_bar=False)
        sync()
        rows.append({"batch_size": batch_size, "seconds": time.perf_counter() - started})
    first = len(documents[0])
    print(json.dumps({"runs": rows, "probe_scores": [float(s) for s in scores[:first]],
                      "torch_threads": torch.get_num_threads()}))  # fmt: skip
    return 0


def run_ceiling(folder: Path, workload: Workload, args: argparse.Namespace, device: str, dtype: str | None) -> dict:
    spec_path = args.out / "rerank-ceiling.json"
    batch_sizes = [int(b) for b in args.st_batch_sizes.split(",")]
    spec = {"folder": str(folder), "device": device, "dtype": dtype, "queries": workload.queries,
            "documents": workload.documents, "batch_sizes": batch_sizes}  # fmt: skip
    spec_path.write_text(json.dumps(spec))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--ceiling-child", str(spec_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **OFFLINE_ENV})
    if done.returncode:
        raise RuntimeError(f"CrossEncoder ceiling failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- load over HTTP ----------------------------------------------------------------------------------------
def _check(status: int, data: bytes, expected: int) -> tuple[str | None, list[float]]:
    import orjson

    if status != 200:
        return f"HTTP {status}: {data[:200]!r}", []
    try:
        results = orjson.loads(data)["results"]
        scores = [0.0] * expected
        for result in results:
            scores[result["index"]] = float(result["relevance_score"])
    except (orjson.JSONDecodeError, KeyError, TypeError, IndexError) as err:
        return f"bad body ({err}): {data[:200]!r}", []
    if len(results) != expected:
        return f"{len(results)} results for {expected} documents", []
    return None, scores


def run_load(url: str, workload: Workload, concurrency: int, name: str, timeout: float = 300.0) -> LoadResult:
    """Closed loop (loadgen's): ``concurrency`` threads, one keep-alive connection each, send every request once."""
    sizes = [len(docs) for docs in workload.documents]
    requests = HttpWorkload(workload.bodies(), sizes, workload.tokens)
    return loadgen_run_load(url, requests, concurrency=concurrency, timeout=timeout, name=name, batch_size=max(sizes),
                            check=lambda status, data, size: _check(status, data, size)[0])  # fmt: skip


def probe(url: str, workload: Workload, reference: list[float]) -> float:
    """Largest |score - CrossEncoder.predict| over the first request's pairs."""
    status, data = _Client(url, 120).post(workload.bodies()[0])
    problem, scores = _check(status, data, len(workload.documents[0]))
    if problem:
        raise RuntimeError(f"probe request failed: {problem}")
    return max(abs(a - b) for a, b in zip(scores, reference, strict=True))


def measure_server(
    spec: ServerSpec, folder: Path, workload: Workload, clients: list[int], reference: list[float], args: Any
) -> dict[str, Any]:
    rows = []
    with RunningServer(spec, folder, args.out / "logs", ready_timeout=args.ready_timeout) as server:
        print(f"  {spec.name}: ready in {server.startup_s:.1f}s on {server.url}", flush=True)
        diff = probe(server.url, workload, reference)
        print(f"    max |score - CrossEncoder.predict| on the first request: {diff:.2e}", flush=True)
        for concurrency in clients:  # warm-up: one short request per client, not measured
            warm = dataclasses.replace(workload, queries=workload.queries[:concurrency],
                                       documents=[docs[:4] for docs in workload.documents[:concurrency]])  # fmt: skip
            run_load(server.url, warm, concurrency, spec.name)
            result = run_load(server.url, workload, concurrency, spec.name)
            print(f"    {concurrency} clients: {result.texts_per_s:.1f} pairs/s, p50 {result.percentile(50):.0f} ms, "
                  f"p99 {result.percentile(99):.0f} ms, errors {result.errors}"
                  + (f" (first: {result.first_error})" if result.first_error else ""), flush=True)  # fmt: skip
            rows.append({"system": spec.name, "clients": concurrency, "pairs_per_s": result.texts_per_s,
                         "tokens_per_s": result.tokens_per_s, "p50_ms": result.percentile(50),
                         "p99_ms": result.percentile(99), "errors": result.errors,
                         "first_error": result.first_error, "max_score_diff": diff})  # fmt: skip
    return {"rows": rows, "startup_s": server.startup_s}


# -- report -------------------------------------------------------------------------------------------------
def _ratio(a: float, b: float | None) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def render(report: dict[str, Any]) -> str:
    hw = report["hardware"]
    lines = [
        f"Hardware: {hw['cpu']}, {hw['cores']} cores, {hw['memory']} RAM"
        + (f", GPU {hw['gpu']}" if hw["gpu"] else ", no GPU")
        + f"; Python {hw['python']}, torch {hw['torch']} ({hw['torch_threads']} threads); {hw['os']}",
        f"Device: {report['device']}; OMP_WAIT_POLICY={report['omp_wait_policy']} for every system; load average "
        f"before/after: {report['load_before']} / {report['load_after']}",
        f"Requests: one query + {report['docs_per_query']} documents each, body {{query, documents, model, "
        "return_documents: false} to this service's /v1/rerank and Infinity's /rerank",
        "",
    ]
    for model in report["models"]:
        c, facts = model["corpus"], model["facts"]
        lines.append(
            f"- **{model['name']}**: {model['description']}; {facts['params'] / 1e6:.1f} M parameters, max "
            f"{MAX_LENGTH} tokens. Pairs: {c['queries']} queries (corpus mix short, query p50 "
            f"{c['query_tokens_p50']} tokens) x {report['docs_per_query']} documents (mix realistic) = {c['pairs']} "
            f"pairs, {c['mean_tokens']} tokens per pair after truncation; untruncated pair p50/p90/max "
            f"{c['pair_p50_full']}/{c['pair_p90_full']}/{c['pair_max_full']}, {c['over_limit_pct']}% over "
            f"{MAX_LENGTH} (seed {report['seed']}, fingerprint {c['fingerprint']})"
        )
    lines += [
        "",
        "| Model | System | Clients | pairs/s | tokens/s | p50 ms | p99 ms | errors | vs ceiling | vs Infinity "
        "| max abs score diff |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for model in report["models"]:
        ceiling = model["ceiling"]
        lines.append(
            f"| {model['name']} | sentence-transformers CrossEncoder.predict, in-process (all pairs, batch "
            f"{ceiling['batch_size']}) | - | {ceiling['pairs_per_s']:.1f} | {ceiling['tokens_per_s']:.0f} | | | 0 | "
            "1.00x | | 0 |"
        )
        inf = {r["clients"]: r for r in model["rows"] if r["system"] == "infinity"}
        for row in model["rows"]:
            ref = inf.get(row["clients"])
            vs_inf = _ratio(row["pairs_per_s"], ref["pairs_per_s"]) if ref and row["system"] != "infinity" else ""
            lines.append(
                f"| {model['name']} | {row['system']} (HTTP) | {row['clients']} | {row['pairs_per_s']:.1f} | "
                f"{row['tokens_per_s']:.0f} | {row['p50_ms']:.0f} | {row['p99_ms']:.0f} | {row['errors']} | "
                f"{_ratio(row['pairs_per_s'], ceiling['pairs_per_s'])} | {vs_inf} | {row['max_score_diff']:.1e} |"
            )
        for system, reason in model.get("not_run", {}).items():
            lines.append(f"| {model['name']} | {system} | | not run: {reason} | | | | | | | |")
    lines += ["", f"Command: `{report['command']}`  ({report['wall_s']:.0f} s)"]
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="tiny,minilm-l6", help=f"comma-separated, of: {', '.join(MODELS)}")
    parser.add_argument("--queries", help="queries per model, NAME=N or N (default: tiny=64,minilm-l6=10 on CPU)")
    parser.add_argument("--docs-per-query", type=int, default=16, help="documents per request (default 16)")
    parser.add_argument("--clients", default="4", help="comma-separated concurrent clients (default 4)")
    parser.add_argument("--st-batch-sizes", default="32", help="CrossEncoder.predict batch sizes, the best counts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-infinity", action="store_true", help="skip Infinity")
    parser.add_argument("--infinity-args", default="", help="extra infinity_emb v2 flags")
    parser.add_argument("--torch-spec", default=os.environ.get("TORCH", "torch==2.13.0"), help="torch for Infinity")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="models, report and server logs")
    parser.add_argument("--quick", action="store_true", help="smoke run: few queries, one client count")
    parser.add_argument("--ceiling-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.queries = args.queries or "tiny=8,minilm-l6=4"
    return args


def _queries(args: argparse.Namespace, on_gpu: bool) -> dict[str, int]:
    counts = {"tiny": 512, "minilm-l6": 256} if on_gpu else {"tiny": 64, "minilm-l6": 10}
    for part in (args.queries or "").split(","):
        if "=" in part:
            name, value = part.split("=", 1)
            counts[name.strip()] = int(value)
        elif part.strip():
            counts = dict.fromkeys(counts, int(part))
    return counts


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.ceiling_child:
        return ceiling_child(args)
    started = time.monotonic()
    # Our server sets OMP_WAIT_POLICY=PASSIVE for its workers; give the ceiling and Infinity the same (on a busy
    # 2-core machine spinning OpenMP threads cost the tiny model's in-process predict 5x). Export it to override.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    device = "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"
    dtype = _gpu_dtype(device)
    hw = hardware()
    load_before = load_average()
    print(f"hardware: {hw}\nload average: {load_before}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    clients = [int(c) for c in args.clients.split(",") if c]
    counts = _queries(args, device == "cuda")
    infinity_problem = None
    if not args.no_infinity:
        try:
            ensure_infinity(args.torch_spec)
        except (OSError, subprocess.CalledProcessError) as err:
            infinity_problem = f"infinity-emb could not be installed ({err})"
            print(f"Infinity: {infinity_problem}", flush=True)

    models = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        folder = build_model(name, args.out / "rerank-models")
        workload = build_workload(counts[name], args.docs_per_query, args.seed, folder)
        corpus = describe(workload, folder)
        print(f"{name}: {folder}\n  pairs: {corpus}", flush=True)
        print("  sentence-transformers CrossEncoder.predict (in-process) ...", flush=True)
        ceiling = run_ceiling(folder, workload, args, device, dtype)
        best = min(ceiling["runs"], key=lambda r: r["seconds"])
        pairs = corpus["pairs"]
        ceiling_row = {"batch_size": best["batch_size"], "pairs_per_s": pairs / best["seconds"],
                       "tokens_per_s": corpus["tokens"] / best["seconds"]}  # fmt: skip
        print(f"    {ceiling_row['pairs_per_s']:.1f} pairs/s (batch {best['batch_size']})", flush=True)
        systems = [dataclasses.replace(this_service(folder), embed_path="/v1/rerank")]
        not_run: dict[str, str] = {}
        if args.no_infinity:
            not_run["infinity"] = "--no-infinity"
        elif infinity_problem:
            not_run["infinity"] = infinity_problem
        else:
            extra = args.infinity_args.split() + (["--dtype", dtype] if dtype else [])
            systems.append(dataclasses.replace(infinity(folder, extra, device), embed_path="/rerank"))
        rows, startups = [], {}
        for spec in systems:
            print(f"  {spec.name} over HTTP ...", flush=True)
            try:
                measured = measure_server(spec, folder, workload, clients, ceiling["probe_scores"], args)
            except (RuntimeError, TimeoutError) as err:
                if spec.name != "infinity":
                    raise
                not_run["infinity"] = f"failed on this model: {str(err).splitlines()[0][:200]}"
                print(f"    {not_run['infinity']}", flush=True)
                continue
            rows += measured["rows"]
            startups[spec.name] = measured["startup_s"]
        models.append({"name": name, "description": MODELS[name], "folder": str(folder), "facts": model_facts(folder),
                       "corpus": corpus, "ceiling": ceiling_row, "ceiling_runs": ceiling["runs"], "rows": rows,
                       "startup_s": startups, "not_run": not_run})  # fmt: skip

    report = {
        "hardware": hw,
        "device": device,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "seed": args.seed,
        "docs_per_query": args.docs_per_query,
        "models": models,
        "load_before": load_before,
        "load_after": load_average(),
        "command": " ".join(["python bench/rerank.py", *(argv if argv is not None else sys.argv[1:])]),
        "wall_s": time.monotonic() - started,
    }
    table = render(report)
    (args.out / "rerank.json").write_text(json.dumps(report, indent=2, default=str))
    (args.out / "rerank.md").write_text(table + "\n")
    print("\n" + table)
    return 1 if any(row["errors"] for model in models for row in model["rows"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
