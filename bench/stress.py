"""Shared pieces of the stress benchmarks (``overload.py``, ``slow_clients.py``).

- ``systems``: this checkout plus ``--baseline GIT_REF`` rows (the ref's ``inference/`` exported with
  ``git archive`` by ``run.export_ref``; the checkout is never touched);
- ``start_server``: ``python -m inference`` at production defaults: the caller's ``EMB_*`` / ``SAGEMAKER_*``
  settings are dropped (``servers.without_serving_settings``), only host, port and model folder are passed;
- ``PingProber``: a fixed-rate ``GET /ping`` prober, one fresh connection per probe (as a platform health
  check), each probe on its own thread so a stalled probe does not delay the next;
- ``RssSampler``: resident memory of the server's process tree (master + workers), sampled once a second;
- ``percentile``, ``fmt_ms`` and the report header / writer.

Standard library only here (``run.hardware`` imports torch for its version line). Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import http.client
import json
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from run import export_ref, hardware, load_average
from servers import HOST, REPO_ROOT, RunningServer, this_service, tree_rss_mib, without_serving_settings

BENCH_DIR = Path(__file__).resolve().parent


# -- systems under test ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class System:
    name: str
    root: Path  # the source tree whose ``inference`` package runs
    ref: str | None = None  # git ref of a baseline, None for this checkout


def systems(baselines: Sequence[str], out: Path, skip_checkout: bool = False) -> list[System]:
    found = [] if skip_checkout else [System("this checkout", REPO_ROOT)]
    for ref in baselines:
        found.append(System(f"@{ref}", export_ref(ref, out), ref))
    return found


def start_server(system: System, model_dir: Path, log_dir: Path, ready_timeout: float) -> RunningServer:
    """Start ``system`` at its defaults (no serving settings from the caller's environment) and wait for /ping."""
    spec = this_service(model_dir, name=system.name, root=system.root)
    server = RunningServer(spec, model_dir, log_dir, ready_timeout=ready_timeout, base_env=without_serving_settings())
    return server.__enter__()


def log_events(server: RunningServer, since: int = 0) -> dict[str, int]:
    """Counts of worker trouble in the server log after byte offset ``since`` (gunicorn's own lines)."""
    server._log.flush()
    try:
        text = server.log_path.read_bytes()[since:].decode("utf-8", errors="replace")
    except OSError:
        return {}
    return {
        "worker_timeouts": text.count("WORKER TIMEOUT"),
        "workers_booted": text.count("Booting worker"),
        "tracebacks": text.count("Traceback (most recent call last)"),
    }


def log_size(server: RunningServer) -> int:
    server._log.flush()
    try:
        return server.log_path.stat().st_size
    except OSError:
        return 0


# -- statistics ------------------------------------------------------------------------------------------
def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


# -- /ping prober ------------------------------------------------------------------------------------------
@dataclass
class Ping:
    at_s: float  # since the prober started
    seconds: float
    status: int | None  # None: timed out or connection failed
    error: str | None = None


@dataclass
class PingProber:
    """``GET /ping`` every ``interval_s`` (fixed rate, one thread and one fresh connection per probe)."""

    port: int
    interval_s: float = 0.5
    timeout_s: float = 10.0
    path: str = "/ping"
    pings: list[Ping] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._ticker: threading.Thread | None = None

    def _probe(self, started_at: float) -> None:
        begin = time.monotonic()
        conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout_s)
        status, error = None, None
        try:
            conn.request("GET", self.path)
            response = conn.getresponse()
            response.read()
            status = response.status
        except TimeoutError:
            error = "timeout"
        except (OSError, http.client.HTTPException) as err:
            error = type(err).__name__
        finally:
            conn.close()
        ping = Ping(round(begin - started_at, 3), time.monotonic() - begin, status, error)
        with self._lock:
            self.pings.append(ping)

    def _tick(self, max_seconds: float) -> None:
        started = time.monotonic()
        n = 0
        while not self._stop.is_set() and time.monotonic() - started < max_seconds:
            thread = threading.Thread(target=self._probe, args=(started,), daemon=True)
            thread.start()
            self._threads.append(thread)
            n += 1
            self._stop.wait(max(0.0, started + n * self.interval_s - time.monotonic()))

    def start(self, max_seconds: float) -> PingProber:
        """Probe until ``stop`` or for at most ``max_seconds``."""
        self._ticker = threading.Thread(target=self._tick, args=(max_seconds,), daemon=True)
        self._ticker.start()
        return self

    def stop(self) -> list[Ping]:
        """Stop probing; wait for the probes in flight (each bounded by ``timeout_s``)."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(self.interval_s + 5)
        for thread in self._threads:
            thread.join(self.timeout_s + 5)
        with self._lock:
            return sorted(self.pings, key=lambda p: p.at_s)

    @staticmethod
    def summary(pings: Sequence[Ping], slow_s: float = 2.0) -> dict[str, object]:
        answered = [p.seconds * 1000 for p in pings if p.status is not None]
        failed = [p for p in pings if p.status is None]
        return {
            "count": len(pings),
            "p50_ms": round(percentile(answered, 50), 1),
            "p99_ms": round(percentile(answered, 99), 1),
            "max_ms": round(max((p.seconds * 1000 for p in pings), default=math.nan), 1),
            "over_2s": sum(1 for p in pings if p.status is not None and p.seconds > slow_s),
            "failed": len(failed),  # timed out or connection error
            "non_200": sum(1 for p in pings if p.status not in (None, 200)),
            "statuses": _count(str(p.status) if p.status is not None else (p.error or "error") for p in pings),
        }


def _count(items: object) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:  # type: ignore[attr-defined]
        out[item] = out.get(item, 0) + 1
    return dict(sorted(out.items()))


# -- memory ------------------------------------------------------------------------------------------------
class RssSampler:
    """Peak resident memory of the server's process tree, sampled every ``interval_s`` until ``stop``."""

    def __init__(self, pid: int, interval_s: float = 1.0) -> None:
        self._pid, self._interval = pid, interval_s
        self._stop = threading.Event()
        self.peak_mib = tree_rss_mib(pid)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak_mib = max(self.peak_mib, tree_rss_mib(self._pid))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(self._interval + 5)
        return self.peak_mib


# -- report ------------------------------------------------------------------------------------------------
def header_lines(hw: dict[str, object], load_before: str, load_after: str) -> list[str]:
    return [
        f"Hardware: {hw['cpu']}, {hw['cores']} cores, {hw['memory']} RAM"
        + (f", GPU {hw['gpu']}" if hw["gpu"] else ", no GPU")
        + f"; Python {hw['python']}, torch {hw['torch']}; {hw['os']}",
        f"Load average before/after: {load_before} / {load_after}",
    ]


def _finite(value: object) -> object:
    """NaN / infinity become null (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_report(out: Path, stem: str, markdown: str, data: dict[str, object]) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / f"{stem}.md", out / f"{stem}.json"
    md.write_text(markdown + "\n")
    js.write_text(json.dumps(_finite(data), indent=2, default=str))
    return md, js


__all__ = [
    "BENCH_DIR",
    "HOST",
    "Ping",
    "PingProber",
    "RssSampler",
    "System",
    "fmt",
    "hardware",
    "header_lines",
    "load_average",
    "log_events",
    "log_size",
    "percentile",
    "start_server",
    "systems",
    "tree_rss_mib",
    "write_report",
]
