"""Start-up measurements for Serverless Inference: how big the CPU image is, how long a cold start takes to
``/ping`` 200, what the first request costs, and how much memory the server holds idle and under a small load.

    .venv/bin/python bench/startup.py                          # local process + the CPU image (built if needed)
    .venv/bin/python bench/startup.py --image embed-serving:cpu   # an image already built
    .venv/bin/python bench/startup.py --no-docker              # the local process only

Rows (each started ``--repeat`` times; the table shows the median start and the last run's other figures):

- **local**: ``python -m inference serve`` with this interpreter, production defaults (one worker per core).
- **container**: ``docker run IMAGE serve`` as a real-time endpoint runs it (one worker per core).
- **container, serverless profile**: what ``deploy --serverless`` sets (``EMB_SAGEMAKER_MODE=serverless``,
  ``EMB_WORKERS=1``) under ``docker --memory`` (``--serverless-memory``, default 2g; a list gives one row each).

The containers use ``--network host`` and listen on 127.0.0.1 only (a free port through ``EMB_PORT``), so the
polling measures the server rather than ``docker exec``. Memory: for the local process the proportional set size
(PSS, shared pages split between the forked workers) summed over the process tree, and the RSS sum (shared pages
counted in every worker); for a container the cgroup's usage less inactive file cache (what ``docker stats``
shows; what a memory limit acts on) and the PSS of its processes. "Under load": the peak while
``--load-clients`` clients send ``--load-requests`` requests each of ``--texts`` short texts.

Where start-up time goes comes from three sources: the server's own log (``attention:`` is logged once a worker
has imported torch/transformers and loaded the weights; ``calibrated: ... in X s``; ``model ready``), an import
probe run with the same interpreter (``import torch``, ``transformers``, the model load and the first forward pass,
timed one by one) and, for the image, the entrypoint's CUDA-compatibility check (``python -m inference.gpu_host``).

Only 127.0.0.1 is contacted; the containers are named ``startup-bench-<pid>-<n>`` and removed at the end; an
image this script builds (``--build-tag``, default ``embed-serving:startup-cpu``) is kept. Writes
``bench/results/startup.{md,json}`` and the servers' logs to ``bench/results/logs/startup-*.log``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from servers import OFFLINE_ENV, free_port, http_status, process_tree, without_serving_settings  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
HOST = "127.0.0.1"
POLL_S = 0.05  # readiness polling interval (the loop checks /ping), not a synchronisation delay

PROBE = r"""
import json, os, time
marks, t = [], time.perf_counter()
def mark(name):
    global t
    now = time.perf_counter(); marks.append([name, round(now - t, 3)]); t = now
import numpy; mark("import numpy")
import torch; mark("import torch")
import transformers; mark("import transformers")
import sys
from inference.model_dir import embedded_model_dir
import inference.runtime.server, inference.handlers.text; mark("import inference (server, handlers)")
from transformers import AutoConfig, AutoModel, AutoTokenizer
folder = embedded_model_dir()
config = AutoConfig.from_pretrained(folder); mark("model config")
tokenizer = AutoTokenizer.from_pretrained(folder); mark("tokenizer")
model = AutoModel.from_pretrained(folder, config=config, dtype=torch.float32, use_safetensors=True).eval()
mark("weights (from_pretrained)")
with torch.inference_mode():
    model(**tokenizer(["a short warm-up text"] * 6, return_tensors="pt")); mark("first forward pass")
    model(**tokenizer(["a short warm-up text"] * 6, return_tensors="pt")); mark("second forward pass")
heavy = ("scipy", "sklearn", "sympy", "sentence_transformers", "pandas", "PIL")
print("LOADED " + json.dumps(sorted(name for name in heavy if name in sys.modules)))
print("PROBE " + json.dumps(marks))
"""

TEXTS = [
    "How do I reset my password?",
    "Serverless endpoints start cold and scale to zero.",
    "The quick brown fox jumps over the lazy dog.",
    "Embeddings map text to vectors for semantic search.",
    "A container image is pulled before the first request.",
    "Memory sizes range from one to six gigabytes.",
    "Asynchronous inference queues requests in S3.",
    "Latency matters most for the first request after idle.",
]


# -- helpers -----------------------------------------------------------------------------------------------
def run(*argv: str, timeout: float = 600, check: bool = True, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO_ROOT)
    if check and proc.returncode:
        raise RuntimeError(f"{' '.join(argv)[:200]} -> {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc


def post_ms(conn: http.client.HTTPConnection, body: bytes) -> float:
    started = time.perf_counter()
    conn.request("POST", "/invocations", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"POST /invocations -> {response.status}: {data[:300]!r}")
    return (time.perf_counter() - started) * 1000


def body(count: int) -> bytes:
    return json.dumps({"input": [TEXTS[i % len(TEXTS)] for i in range(count)]}).encode()


def kib_field(path: Path, name: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_memory_mib(pids: list[int]) -> tuple[float, float]:
    """(PSS sum, RSS sum) of ``pids``, MiB."""
    pss = sum(kib_field(Path(f"/proc/{pid}/smaps_rollup"), "Pss") for pid in pids)
    rss = sum(kib_field(Path(f"/proc/{pid}/status"), "VmRSS") for pid in pids)
    return pss / 1024, rss / 1024


def hardware() -> dict[str, Any]:
    cpu = platform.processor()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = kib_field(Path("/proc/meminfo"), "MemTotal")
    docker = run("docker", "version", "--format", "{{.Server.Version}}", check=False, timeout=30)
    return {
        "cpu": cpu, "cores": len(os.sched_getaffinity(0)), "memory": f"{mem_kib / 1024**2:.0f} GiB",
        "os": platform.platform(), "python": platform.python_version(),
        "docker": docker.stdout.strip() if docker.returncode == 0 else None,
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }  # fmt: skip


# -- the server's log ----------------------------------------------------------------------------------------
def log_phases(log: str, started: float) -> dict[str, float | None]:
    """Seconds from ``started`` (epoch) to the first worker's weights loaded / the last worker's readiness, and
    the longest calibration, from the server's JSON log lines."""
    events: dict[str, list[float]] = {"loaded": [], "ready": []}
    calibration: list[float] = []
    for line in log.splitlines():
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        message, ts = str(record.get("msg", "")), float(record.get("ts", 0))
        if message.startswith(("attention:", "loaded text model")) and not events["loaded"]:
            events["loaded"].append(ts - started)
        elif message.startswith("model ready"):
            events["ready"].append(ts - started)
        elif match := re.match(r"calibrated: .* in ([\d.]+) s", message):
            calibration.append(float(match.group(1)))
    return {
        "weights_loaded_s": min(events["loaded"], default=None),
        "workers_ready_s": max(events["ready"], default=None),
        "calibration_s": max(calibration, default=None),
        "workers": float(len(events["ready"])),
    }


# -- one measured server ------------------------------------------------------------------------------------
@dataclass
class Measurement:
    name: str
    image_size_mb: float | None = None
    docker_run_s: float | None = None
    ready_s: list[float] = field(default_factory=list)
    first_request_ms: float | None = None
    first_batch_ms: float | None = None
    steady_ms: float | None = None
    idle_mib: float | None = None
    idle_pss_mib: float | None = None
    idle_rss_mib: float | None = None
    load_mib: float | None = None
    load_pss_mib: float | None = None
    load_rps: float | None = None
    load_p50_ms: float | None = None
    phases: dict[str, float | None] = field(default_factory=dict)
    probe: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Target:
    """A started server: its port, its memory now, its log; ``stop()`` ends it."""

    port: int
    started: float  # epoch seconds

    def memory(self) -> dict[str, float]:
        raise NotImplementedError

    def log(self) -> str:
        raise NotImplementedError

    def alive(self) -> bool:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class LocalTarget(Target):
    def __init__(self, log_path: Path, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.log_path = log_path
        env = {**without_serving_settings(), **OFFLINE_ENV, "PYTHONPATH": str(REPO_ROOT), **(extra_env or {})}
        self._log = log_path.open("wb")
        self.started = time.time()
        self.process = subprocess.Popen(  # noqa: S603 (our own argv)
            [sys.executable, "-m", "inference", "serve", "--host", HOST, "--port", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT, start_new_session=True,
        )  # fmt: skip

    def memory(self) -> dict[str, float]:
        pss, rss = tree_memory_mib(process_tree(self.process.pid))
        return {"pss": pss, "rss": rss}

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
        self._log.close()


class ContainerTarget(Target):
    count = 0

    def __init__(self, image: str, env: dict[str, str], docker_args: list[str], log_path: Path) -> None:
        ContainerTarget.count += 1
        self.name = f"startup-bench-{os.getpid()}-{ContainerTarget.count}"
        self.port, self.log_path = free_port(), log_path
        settings = {"EMB_HOST": HOST, "EMB_PORT": str(self.port), **env}
        env_args = [arg for key, value in settings.items() for arg in ("-e", f"{key}={value}")]
        self.started = time.time()
        before = time.monotonic()
        self.id = run("docker", "run", "-d", "--name", self.name, "--network", "host", *env_args, *docker_args,
                      image, "serve").stdout.strip()  # fmt: skip
        self.docker_run_s = time.monotonic() - before
        self._cgroup = next((path for path in (
            Path(f"/sys/fs/cgroup/memory/docker/{self.id}"),  # v1, cgroupfs driver
            Path(f"/sys/fs/cgroup/memory/system.slice/docker-{self.id}.scope"),  # v1, systemd driver
            Path(f"/sys/fs/cgroup/system.slice/docker-{self.id}.scope"),  # v2, systemd driver
            Path(f"/sys/fs/cgroup/docker/{self.id}"),  # v2, cgroupfs driver
        ) if path.is_dir()), None)  # fmt: skip

    def _cgroup_mib(self) -> float | None:
        """Usage less inactive file cache, as ``docker stats`` computes it."""
        if self._cgroup is None:
            return None
        v1 = (self._cgroup / "memory.usage_in_bytes").exists()
        usage = int((self._cgroup / ("memory.usage_in_bytes" if v1 else "memory.current")).read_text())
        stat = dict(line.split() for line in (self._cgroup / "memory.stat").read_text().splitlines())
        inactive = int(stat.get("total_inactive_file" if v1 else "inactive_file", 0))
        return (usage - inactive) / 1024**2

    def memory(self) -> dict[str, float]:
        out: dict[str, float] = {}
        cgroup = self._cgroup_mib()
        if cgroup is None:
            stats = run("docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", self.name, check=False).stdout
            match = re.match(r"([\d.]+)(KiB|MiB|GiB)", stats.strip())
            if match:
                cgroup = float(match.group(1)) * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}[match.group(2)]
        if cgroup is not None:
            out["cgroup"] = cgroup
        top = run("docker", "top", self.name, "-eo", "pid", check=False).stdout.split()[1:]
        pss, rss = tree_memory_mib([int(pid) for pid in top if pid.isdigit()])
        out.update({"pss": pss, "rss": rss})
        return out

    def log(self) -> str:
        proc = run("docker", "logs", self.name, check=False)
        text = proc.stdout + proc.stderr
        self.log_path.write_text(text)
        return text

    def alive(self) -> bool:
        return run("docker", "inspect", "-f", "{{.State.Running}}", self.name, check=False).stdout.strip() == "true"

    def stop(self) -> None:
        self.log()
        run("docker", "rm", "-f", self.name, check=False)


def wait_ready(target: Target, deadline_s: float) -> float:
    """Seconds from the start to ``/ping`` 200."""
    origin = time.monotonic() - (time.time() - target.started)
    deadline = time.monotonic() + deadline_s
    checks = 0
    while time.monotonic() < deadline:
        if http_status(target.port, "/ping", timeout=1) == 200:
            return time.monotonic() - origin
        checks += 1
        if checks % 20 == 0 and not target.alive():
            raise RuntimeError(f"the server exited before it was ready:\n{target.log()[-3000:]}")
        time.sleep(POLL_S)
    raise TimeoutError(f"/ping not 200 after {deadline_s} s:\n{target.log()[-3000:]}")


def measure(target: Target, result: Measurement, args: argparse.Namespace, last: bool) -> None:
    result.ready_s.append(wait_ready(target, args.ready_timeout))
    if not last:
        return
    conn = http.client.HTTPConnection(HOST, target.port, timeout=120)
    result.first_request_ms = post_ms(conn, body(1))
    result.first_batch_ms = post_ms(conn, body(args.texts))
    result.steady_ms = statistics.median(post_ms(conn, body(1)) for _ in range(20))
    conn.close()
    time.sleep(args.settle_s)
    idle = target.memory()
    result.idle_mib, result.idle_pss_mib, result.idle_rss_mib = idle.get("cgroup"), idle["pss"], idle["rss"]

    peaks: dict[str, float] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for key, value in target.memory().items():
                peaks[key] = max(peaks.get(key, 0.0), value)
            stop.wait(0.25)

    latencies: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        connection = http.client.HTTPConnection(HOST, target.port, timeout=120)
        for _ in range(args.load_requests):
            ms = post_ms(connection, body(args.texts))
            with lock:
                latencies.append(ms)
        connection.close()

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    clients = [threading.Thread(target=client, daemon=True) for _ in range(args.load_clients)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    result.load_mib, result.load_pss_mib = peaks.get("cgroup"), peaks.get("pss")
    result.load_rps = len(latencies) / seconds
    result.load_p50_ms = statistics.median(latencies)
    result.phases = log_phases(target.log(), target.started)


def probe(argv: list[str], result: Measurement) -> None:
    """The import probe's step times, and which large optional packages the server's imports pulled in."""
    proc = run(*argv, timeout=600, check=False)
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in proc.stdout.splitlines() if " " in line}
    if "PROBE" not in lines:
        raise RuntimeError(f"import probe failed:\n{proc.stdout[-1500:]}\n{proc.stderr[-1500:]}")
    result.probe = json.loads(lines["PROBE"])
    result.notes.append(f"large packages imported by the server and model load: {json.loads(lines['LOADED'])}")


def timed(*argv: str) -> float:
    started = time.monotonic()
    run(*argv, timeout=300)
    return time.monotonic() - started


# -- the image ------------------------------------------------------------------------------------------------
def engine_up() -> bool:
    try:
        return run("docker", "info", check=False, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def image_for(args: argparse.Namespace) -> str | None:
    """``--image``, else the CPU image built offline from container/wheelhouse (when it holds the CPU wheels)."""
    if args.image:
        return str(args.image)
    wheelhouse = REPO_ROOT / "container" / "wheelhouse"
    flavour = (wheelhouse / ".flavour").read_text().strip() if (wheelhouse / ".flavour").exists() else ""
    if flavour != "cpu" or not list(wheelhouse.glob("torch-*.whl")):
        print("no --image and container/wheelhouse/ holds no CPU wheels: skipping the container", file=sys.stderr)
        return None
    print(f"building {args.build_tag} (container/build.sh --flavour cpu --offline) ...", file=sys.stderr)
    build = ["bash", str(REPO_ROOT / "container" / "build.sh"), "--flavour", "cpu", "--tag", args.build_tag]
    if args.base:
        build += ["--base", args.base]
    proc = subprocess.run([*build, "--offline"], capture_output=True, text=True, timeout=3600, cwd=REPO_ROOT)
    if proc.returncode:
        raise RuntimeError(f"image build failed:\n{proc.stderr[-3000:]}")
    return str(args.build_tag)


def site_packages_mb(image: str) -> list[tuple[str, float]]:
    """The largest installed packages in the image (MB)."""
    code = (
        "import pathlib, site, json; root = pathlib.Path(site.getsitepackages()[0]); "
        "sizes = {p.name: sum(f.stat().st_size for f in p.rglob('*') if f.is_file()) for p in root.iterdir() "
        "if p.is_dir()}; print(json.dumps(sorted(sizes.items(), key=lambda kv: -kv[1])[:8]))"
    )
    proc = run("docker", "run", "--rm", "--network", "none", "--entrypoint", "python", image, "-c", code, check=False)
    try:
        return [(name, size / 1e6) for name, size in json.loads(proc.stdout.strip().splitlines()[-1])]
    except (ValueError, IndexError):
        return []


# -- report ----------------------------------------------------------------------------------------------------
def fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def report(results: list[Measurement], info: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        "| server | image | start → /ping 200 | first request (1 text) | first request "
        f"({args.texts} texts) | steady request (1 text, p50) | memory idle | memory under load | load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        start = statistics.median(r.ready_s)
        spread = f" ({min(r.ready_s):.1f}-{max(r.ready_s):.1f})" if len(r.ready_s) > 1 else ""
        idle = (f"{fmt(r.idle_mib)} MiB cgroup, {fmt(r.idle_pss_mib)} PSS" if r.idle_mib is not None
                else f"{fmt(r.idle_pss_mib)} MiB PSS ({fmt(r.idle_rss_mib)} RSS sum)")  # fmt: skip
        load = (f"{fmt(r.load_mib)} MiB cgroup, {fmt(r.load_pss_mib)} PSS" if r.load_mib is not None
                else f"{fmt(r.load_pss_mib)} MiB PSS")  # fmt: skip
        image = f"{r.image_size_mb / 1000:.2f} GB" if r.image_size_mb else "-"
        lines.append(
            f"| {r.name} | {image} | {start:.1f} s{spread} | {fmt(r.first_request_ms)} ms | {fmt(r.first_batch_ms)} ms"
            f" | {fmt(r.steady_ms, 1)} ms | {idle} | {load} | {fmt(r.load_rps, 1)} req/s, p50 {fmt(r.load_p50_ms)} ms |"
        )
    lines += ["", "Where the start goes (seconds from process / `docker run` start, the server's log):", "",
              "| server | `docker run` returns | first worker's weights loaded | calibration (longest) | all "
              "workers ready | /ping 200 |", "|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        p = r.phases
        lines.append(
            f"| {r.name} | {fmt(r.docker_run_s, 2)} | {fmt(p.get('weights_loaded_s'), 1)} | "
            f"{fmt(p.get('calibration_s'), 2)} | {fmt(p.get('workers_ready_s'), 1)} "
            f"({fmt(p.get('workers'))} workers) | {r.ready_s[-1]:.1f} |"
        )
    probes = [r for r in results if r.probe]
    if probes:
        names = [name for name, _ in probes[0].probe]
        lines += ["", "Import probe (one process, steps timed one after another, seconds):", "",
                  "| step | " + " | ".join(r.name for r in probes) + " |", "|---|" + "---|" * len(probes)]  # fmt: skip
        for name in names:
            cells = [fmt(dict((n, v) for n, v in r.probe).get(name), 2) for r in probes]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for r in results:
        lines += [f"- {r.name}: {note}" for note in r.notes]
    lines += ["", "Hardware: " + ", ".join(f"{key} {value}" for key, value in info.items() if value), "",
              f"Command: `{' '.join([Path(sys.executable).name, *sys.argv])}`"]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", help="the CPU image to measure (default: build it, see --build-tag)")
    parser.add_argument(
        "--build-tag", default="embed-serving:startup-cpu", help="tag of the image built when no --image"
    )
    parser.add_argument(
        "--base", default="embed-base:bookworm", help="--base for container/build.sh ('' for its default)"
    )
    parser.add_argument("--before-image", help="an image of an earlier commit, measured first in the same run (rows "
                        "'before: ...'; build it from a git worktree of that commit with container/build.sh)")
    parser.add_argument("--no-docker", action="store_true", help="measure the local process only")
    parser.add_argument("--drop-caches", action="store_true",
                        help="drop the page cache before each container start (root): the first start after a pull")
    parser.add_argument("--gpu", action="store_true", help="one local row on the host's GPU (bench/gpu.sh)")
    parser.add_argument("--no-local", action="store_true", help="measure the image only")
    parser.add_argument("--no-serverless-profile", action="store_true", help="skip the serverless-profile container")
    parser.add_argument(
        "--serverless-memory",
        default="2g",
        help="docker --memory of the serverless profile (a comma-separated list: one row each)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="starts per row (the median start is shown)")
    parser.add_argument("--texts", type=int, default=8, help="texts per request in the first batch and the load")
    parser.add_argument("--load-clients", type=int, default=4)
    parser.add_argument("--load-requests", type=int, default=25, help="requests per load client")
    parser.add_argument("--settle-s", type=float, default=2.0, help="idle time before the idle memory reading")
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=RESULTS / "startup", help="writes OUT.md and OUT.json")
    args = parser.parse_args(argv)

    (RESULTS / "logs").mkdir(parents=True, exist_ok=True)
    info = hardware()
    results: list[Measurement] = []
    image = None if args.no_docker or not engine_up() else image_for(args)
    if not args.no_docker and image is None and not args.image:
        print("no Docker engine or no CPU image: the container rows are skipped", file=sys.stderr)

    if not args.no_local:
        # before: torch loads the model (the default until the model has an ONNX package); after: the default with
        # the package `embed-serve export-onnx --into cache` leaves in EMB_ONNX_CACHE_DIR, served without torch
        cache = RESULTS / "onnx-cache"
        run(sys.executable, "-m", "inference", "export-onnx", "--into", "cache",
            env={**without_serving_settings(), **OFFLINE_ENV, "EMB_ONNX_CACHE_DIR": str(cache)})  # fmt: skip
        local_rows = [("local process, before (EMB_CPU_BACKEND=torch)", {"EMB_CPU_BACKEND": "torch"}),
                      ("local process, after (ONNX package)", {"EMB_ONNX_CACHE_DIR": str(cache)})]
        if args.gpu:  # a GPU host serves on CUDA with torch either way: one row, the default (make bench-gpu)
            local_rows = [("local process on the GPU (defaults)", {"EMB_ONNX_CACHE_DIR": str(cache)})]
        for name, env in local_rows:
            local = Measurement(name)
            for attempt in range(args.repeat):
                target = LocalTarget(RESULTS / "logs" / "startup-local.log", env)
                try:
                    measure(target, local, args, last=attempt == args.repeat - 1)
                finally:
                    target.stop()
            results.append(local)
        probe([sys.executable, "-c", PROBE], results[-len(local_rows)])
        results[-len(local_rows)].notes.append(f"python -c pass: {timed(sys.executable, '-c', 'pass'):.2f} s")

    images = [(f"before ({args.before_image}): ", args.before_image)] if args.before_image and image else []
    for prefix, each in [*images, ("after: " if images else "", image)]:
        if each is not None:
            measure_image(each, prefix, args, results, info)

    info["load_average_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    table = report(results, info, args)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(table + "\n")
    payload = {
        "hardware": info,
        "results": [asdict(r) for r in results],
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    args.out.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n")
    return 0


def drop_page_cache() -> None:
    """Write back and drop the page cache (root only): the next start reads the image's files from disk."""
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def measure_image(image: str, prefix: str, args: argparse.Namespace, results: list[Measurement],
                  info: dict[str, Any]) -> None:  # fmt: skip
    """The image's rows (``prefix`` before each name): the container, and its serverless profiles."""
    if image:
        size = float(run("docker", "image", "inspect", "-f", "{{.Size}}", image).stdout.strip()) / 1e6
        profiles: list[tuple[str, dict[str, str], list[str]]] = [(f"{prefix}container", {}, [])]
        if not args.no_serverless_profile:
            for memory in args.serverless_memory.split(","):
                profiles.append((f"{prefix}container, serverless profile (--memory {memory})",
                                 {"EMB_SAGEMAKER_MODE": "serverless", "EMB_WORKERS": "1"},
                                 ["--memory", memory]))  # fmt: skip
        for name, env, docker_args in profiles:
            result = Measurement(name, image_size_mb=size)
            for attempt in range(args.repeat):
                slug = re.sub(r"[^\w]+", "-", name).strip("-")
                if args.drop_caches:  # a start whose files are not in the page cache, as after an image pull
                    drop_page_cache()
                target = ContainerTarget(image, env, docker_args, RESULTS / "logs" / f"startup-{slug}.log")
                try:
                    result.docker_run_s = target.docker_run_s
                    measure(target, result, args, last=attempt == args.repeat - 1)
                finally:
                    target.stop()
            results.append(result)
        first = results[-len(profiles)]
        probe(["docker", "run", "--rm", "--network", "none", "--entrypoint", "python", image, "-c", PROBE], first)
        gpu_host = timed("docker", "run", "--rm", "--network", "none", "--entrypoint", "python", image,
                         "-m", "inference.gpu_host")  # fmt: skip
        bare = timed("docker", "run", "--rm", "--network", "none", "--entrypoint", "python", image, "-c", "pass")
        first.notes.append(
            f"`docker run ... python -c pass`: {bare:.2f} s; the entrypoint's `python -m inference.gpu_host`: "
            f"{gpu_host:.2f} s as its own `docker run` (so about {max(gpu_host - bare, 0):.2f} s of it is the check)"
        )
        biggest = site_packages_mb(image)
        if biggest:
            first.notes.append("largest packages: " + ", ".join(f"{n} {mb:.0f} MB" for n, mb in biggest))
        info["image" if not prefix.startswith("before") else "before_image"] = image


if __name__ == "__main__":
    sys.exit(main())
