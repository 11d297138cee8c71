"""Start and stop the HTTP servers under test on 127.0.0.1, each on a free port.

A server is ready when its health route answers 200 before a deadline; it is stopped by signalling
its own process group (started with ``start_new_session``), SIGKILL after a grace period. Logs go
to ``bench/results/logs/<name>.log``.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
INFINITY_VENV = BENCH_DIR / ".venv-infinity"
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "INFINITY_ANONYMOUS_USAGE_STATS": "0",
}


SERVING_ENV_PREFIXES = ("EMB_", "SAGEMAKER_", "MODEL_DIR", "AZUREML", "LOG_LEVEL")


def without_serving_settings(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) without the service's settings (``EMB_*``, ``SAGEMAKER_*``, ...):
    a server started with it runs its production defaults whatever the caller's shell exports."""
    source = os.environ if environ is None else environ
    return {k: v for k, v in source.items() if not k.startswith(SERVING_ENV_PREFIXES)}


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its live descendants (Linux ``/proc``; just ``[pid]`` elsewhere)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(parents.get(current, []))
    return sorted(tree)


def tree_rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants (MiB; processes that exit meanwhile count 0)."""
    total_kb = 0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
                    break
        except OSError:
            continue
    return total_kb / 1024


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server; ``{port}`` and ``{model_dir}`` in ``argv`` are filled in."""

    name: str
    argv: Sequence[str]
    health_path: str
    embed_path: str
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path = REPO_ROOT


def this_service(
    model_dir: Path, env: Mapping[str, str] | None = None, name: str = "this service", root: Path = REPO_ROOT
) -> ServerSpec:
    """This repository's server (gunicorn), with its production defaults unless ``env`` overrides them.

    ``root`` is the source tree whose ``inference`` package runs (another commit's, for before/after).
    """
    return ServerSpec(
        name=name,
        argv=[sys.executable, "-m", "inference", "--host", HOST, "--port", "{port}", "--model-dir", "{model_dir}"],
        health_path="/ping",
        embed_path="/v1/embeddings",
        env={"PYTHONPATH": str(root), **(env or {})},
        cwd=root,
    )


def infinity(model_dir: Path, extra_args: Sequence[str] = (), device: str = "cpu") -> ServerSpec:
    """Infinity (``infinity-emb``) from its own virtual environment, torch engine, defaults otherwise."""
    binary = INFINITY_VENV / "bin" / "infinity_emb"
    argv = [str(binary), "v2", "--model-id", "{model_dir}", "--engine", "torch", "--device", device]
    argv += ["--host", HOST, "--port", "{port}", *extra_args]
    return ServerSpec(name="infinity", argv=argv, health_path="/health", embed_path="/embeddings")


def http_status(port: int, path: str, timeout: float = 2.0) -> int | None:
    """The status of ``GET path`` on the local server; None when nothing answers."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return None
    finally:
        conn.close()


class RunningServer:
    """A started server process; use as a context manager."""

    def __init__(
        self,
        spec: ServerSpec,
        model_dir: Path,
        log_dir: Path,
        ready_timeout: float = 300.0,
        base_env: Mapping[str, str] | None = None,
    ) -> None:
        """``base_env``: the environment the server starts from (default: this process's; see
        ``without_serving_settings``), before ``OFFLINE_ENV`` and ``spec.env``."""
        self.spec = spec
        self.port = free_port()
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / (re.sub(r"[^\w.@+-]+", "_", spec.name) + ".log")
        argv = [a.format(port=self.port, model_dir=model_dir) for a in spec.argv]
        env = {**(os.environ if base_env is None else base_env), **OFFLINE_ENV, **spec.env}
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - our own argv
            argv, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=spec.cwd, start_new_session=True
        )
        self._ready_timeout = ready_timeout
        self.startup_s: float | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}{self.spec.embed_path}"

    def _health(self) -> int | None:
        return http_status(self.port, self.spec.health_path)

    def wait_ready(self) -> float:
        """Poll the health route until 200; raise (with the log's tail) if the process dies or time runs out."""
        started = time.monotonic()
        deadline = started + self._ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.spec.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            if self._health() == 200:
                self.startup_s = time.monotonic() - started
                return self.startup_s
            try:
                self.process.wait(timeout=0.25)  # poll interval that returns at once if the process dies
            except subprocess.TimeoutExpired:
                pass
        raise TimeoutError(f"{self.spec.name} not ready after {self._ready_timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self, grace_s: float = 30.0) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            except ProcessLookupError:
                pass
        self._log.close()

    def __enter__(self) -> RunningServer:
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
