"""A real server for reliability tests and bench scripts, and a bounded closed-loop HTTP client.

``Server`` runs ``python -m inference serve`` (gunicorn) on 127.0.0.1 and a free port, its output in a
log file (a pipe nobody reads would fill and stall the server), and polls readiness with deadlines.
Worker processes and their RSS come from /proc (Linux, as the container). ``closed_loop`` drives only
that local server, bounded both in requests and in time, and stops by itself.

Standard library only (bench scripts import it too).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
POLL_S = 0.1  # polling interval of the readiness loops (each loop has its own deadline)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without serving settings, plus ``overrides`` (CPU unless told)."""
    drop = ("EMB_", "SAGEMAKER_", "MODEL_DIR", "AZUREML", "LOG_LEVEL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    # One worker: these tests reason about a single worker's capacity, queue and replacement (the CPU default
    # is one worker per core; tests/unit/test_worker_plan.py covers that plan).
    env.update({"EMB_DEVICE": "cpu", "EMB_WORKERS": "1", "PYTHONUNBUFFERED": "1"})
    env.update(overrides)
    return env


def children(pid: int) -> list[int]:
    """Direct child pids of ``pid`` (the gunicorn workers of a master)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


def _status_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise ProcessLookupError(pid)


def rss_mib(pid: int) -> float:
    return _status_mib(pid, "VmRSS")


def peak_rss_mib(pid: int) -> float:
    """The most resident memory ``pid`` has held (since it started, or since ``reset_peak_rss``)."""
    return _status_mib(pid, "VmHWM")


def reset_peak_rss(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # "5": reset the peak RSS to the current RSS


def poll(predicate: Callable[[], object], deadline_s: float, what: str) -> object:
    """Call ``predicate`` every POLL_S until it returns something truthy; TimeoutError after ``deadline_s``."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {deadline_s:.0f}s waiting for {what}")
        time.sleep(POLL_S)


@dataclass
class Reply:
    status: int
    seconds: float
    body: bytes
    headers: dict[str, str]

    def json(self) -> object:
        return json.loads(self.body)


def request(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
    timeout: float = 60, conn: http.client.HTTPConnection | None = None,
) -> Reply:
    """One HTTP request to the local server (on ``conn`` when given, keep-alive)."""
    own = conn is None
    conn = conn or http.client.HTTPConnection(HOST, port, timeout=timeout)
    started = time.perf_counter()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return Reply(response.status, time.perf_counter() - started, data, headers)
    finally:
        if own:
            conn.close()


def post_json(port: int, payload: object, path: str = "/invocations", timeout: float = 60, **kw: object) -> Reply:
    body = json.dumps(payload).encode()
    return request(port, "POST", path, body, {"Content-Type": "application/json"}, timeout=timeout, **kw)


class Server:
    """``python -m inference serve`` on 127.0.0.1; ``env`` from ``clean_env``. Use as a context manager."""

    def __init__(self, env: dict[str, str], *, args: tuple[str, ...] = (), repo: Path = REPO) -> None:
        self.port = free_port()
        self.repo = repo  # the checkout whose ``inference`` package runs (bench: compare two checkouts)
        self.url = f"http://{HOST}:{self.port}"
        self._env = env
        self._args = args
        self._log = tempfile.NamedTemporaryFile("w+", prefix="server-", suffix=".log", delete=False)  # noqa: SIM115
        self.log_path = Path(self._log.name)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        cmd = [sys.executable, "-m", "inference", "serve", "--host", HOST, "--port", str(self.port), *self._args]
        env = {**self._env, "PYTHONPATH": str(self.repo)}
        self.proc = subprocess.Popen(cmd, cwd=self.repo, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        return self

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ping(self, timeout: float = 2) -> int | None:
        try:
            return request(self.port, "GET", "/ping", timeout=timeout).status
        except OSError:
            return None

    def wait_ready(self, deadline_s: float = 180) -> Server:
        def ready() -> bool:
            if not self.alive():
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            return self.ping() == 200

        poll(ready, deadline_s, "/ping 200")
        return self

    def workers(self) -> list[int]:
        return children(self.pid)

    def worker_rss_mib(self) -> float:
        return sum(rss_mib(pid) for pid in self.workers())

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_records(self) -> Iterator[dict]:
        for line in self.log_text().splitlines():
            if line.startswith("{"):
                try:
                    yield json.loads(line)
                except ValueError:
                    continue

    def terminate(self, timeout: float = 35) -> float:
        """SIGTERM the master; seconds until it exited (TimeoutExpired past ``timeout``)."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=timeout)
        return time.monotonic() - started

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            workers = self.workers()
            self.proc.kill()
            self.proc.wait()
            for pid in workers:  # orphaned workers exit by themselves; make sure within the test run
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._log.close()


@dataclass
class LoadStats:
    """What ``closed_loop`` saw: per-request (status, seconds), plus Retry-After of the 503s."""

    results: list[tuple[int, float]] = field(default_factory=list)
    retry_after: list[str | None] = field(default_factory=list)
    bad_bodies: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def latencies(self, status: int) -> list[float]:
        return sorted(s for code, s in self.results if code == status)

    def count(self, status: int) -> int:
        return sum(1 for code, _ in self.results if code == status)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def closed_loop(
    port: int, make_body: Callable[[int, int], bytes], *, clients: int, requests_per_client: int,
    max_seconds: float, timeout: float = 60, check: Callable[[int, int, int, bytes], str | None] | None = None,
    backoff_s: float = 0.0,
) -> LoadStats:
    """``clients`` threads, each with a keep-alive connection, send ``make_body(client, i)`` back to back.

    Bounded: each client stops after ``requests_per_client`` requests or at ``max_seconds``.
    ``check(client, i, status, body)`` returns an error text for a bad response (kept in ``bad_bodies``).
    After a 503 a client waits ``backoff_s`` (a polite client would wait Retry-After; tests keep the pressure).
    """
    stats = LoadStats()
    lock = threading.Lock()
    stop_at = time.monotonic() + max_seconds
    headers = {"Content-Type": "application/json"}

    def client(number: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        try:
            for i in range(requests_per_client):
                if time.monotonic() > stop_at:
                    return
                try:
                    reply = request(port, "POST", "/invocations", make_body(number, i), headers, conn=conn)
                except (OSError, http.client.HTTPException) as err:
                    conn.close()
                    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
                    with lock:
                        stats.errors.append(f"{type(err).__name__}: {err}")
                    continue
                problem = check(number, i, reply.status, reply.body) if check else None
                with lock:
                    stats.results.append((reply.status, reply.seconds))
                    if reply.status == 503:
                        stats.retry_after.append(reply.headers.get("retry-after"))
                    if problem:
                        stats.bad_bodies.append(problem)
                if reply.status == 503 and backoff_s:
                    time.sleep(backoff_s)  # client pacing, not synchronisation
        finally:
            conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max_seconds + timeout + 5)
    stats.seconds = time.monotonic() - started
    return stats
