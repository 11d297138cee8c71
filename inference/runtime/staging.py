"""Vertex AI's ``AIP_STORAGE_URI``: the model is copied from Cloud Storage while the server already answers.

Vertex AI restarts a container whose port is not bound after about four tries ten seconds apart, so a multi-GB
model cannot be copied first. Instead:

- the master starts the copy as a process of its own (``python -m inference.runtime.copy_process``; no thread in the
  master, which forks workers) and then gunicorn, which binds at once and forks the workers;
- each worker builds its app at once: its health route answers 503 "model is being copied from gs://... (N of M
  bytes, ...)" (the copy's status file), and its model loader waits for the master's verdict on a shared-memory
  cell (``StagingGate``);
- each time round gunicorn's loop the master reads the copy's status (``StagingArbiter``). Once it is done, the
  server re-plans its workers with the copied weights (until then a CPU server runs one worker: the model's size
  decides how many fit), publishes the torch threads each worker gets and opens the gate: the workers load the copy,
  gunicorn starts the rest. A failed copy shuts the gate: every load fails with the copy's error (logged), and the
  health route stays 503 with the generic "model failed to load; the server log says why".

The copy's state lives in the status file (``storage_copy.CopyStatus``); the verdict only in the gate, written by
the master alone.
"""

from __future__ import annotations

import mmap
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gunicorn.arbiter import Arbiter

from ..settings import Settings
from ..storage_copy import FAILED, FINISHED, CopyStatus, StorageCopyError, parse_gs_uri
from .worker_plan import WorkerPlan, plan_workers, usable_cores

if TYPE_CHECKING:  # the master never imports the engine (it would import prometheus_client too early)
    from ..core.engine import Loader
    from ..core.forward import Handler

PENDING, OPEN, SHUT = 0, 1, 2
WAIT_POLL_S = 0.2  # how often a waiting worker looks at the gate (a byte in shared memory)


class StagingGate:
    """The master's verdict on the copy, in anonymous shared memory allocated before any worker forks: state
    (pending, open, shut) and, once open, the torch threads each worker of the final plan gets (0: torch's own)."""

    def __init__(self) -> None:
        self._cell = mmap.mmap(-1, 8)

    @property
    def state(self) -> int:
        return self._cell[0]

    @property
    def torch_threads(self) -> int | None:
        return struct.unpack_from("<I", self._cell, 4)[0] or None

    def open(self, torch_threads: int | None) -> None:
        struct.pack_into("<I", self._cell, 4, torch_threads or 0)
        self._cell[0] = OPEN  # after the threads: a worker that sees the gate open reads them

    def shut(self) -> None:
        self._cell[0] = SHUT


def pending_plan(gpus: int, workers: int | None, torch_threads: int | None) -> WorkerPlan:
    """The plan while the model is being copied: GPU hosts and an explicit ``EMB_WORKERS`` need no model size; a CPU
    host starts one worker until the copied weights say how many fit in memory."""
    if gpus or workers:
        return plan_workers(gpus=gpus, cores=usable_cores(), memory=None, weights=0, workers=workers,
                            torch_threads=torch_threads)  # fmt: skip
    reason = "one worker while the model is copied from AIP_STORAGE_URI: its size decides how many fit"
    return WorkerPlan(1, torch_threads or usable_cores(), reason)


class StorageStaging:
    """One server's copy of ``AIP_STORAGE_URI``: the master starts it and gives the verdict; the workers wait for
    it (``loader``) and say how far it got (``progress``)."""

    def __init__(self, uri: str, dest: Path, progress_s: float, log_level: str) -> None:
        parse_gs_uri(uri)  # a location that is no gs:// folder stops the server at once
        self.uri, self.dest, self._progress_s, self._log_level = uri, dest, progress_s, log_level
        self.gate = StagingGate()
        self.status_path: Path | None = None  # set by start
        self._process: subprocess.Popen[bytes] | None = None
        self._verdict: CopyStatus | None = None

    # Master.

    def start(self, state_dir: Path) -> None:
        """Start the copy (before gunicorn: the workers inherit the status file's path)."""
        self.status_path = state_dir / "storage-copy.json"
        command = [sys.executable, "-m", "inference.runtime.copy_process", self.uri, str(self.dest),
                   "--status", str(self.status_path), "--progress-s", str(self._progress_s),
                   "--log-level", self._log_level]  # fmt: skip
        self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL)

    def poll(self) -> CopyStatus | None:
        """The copy's final status, the first time it is known (then None again): ``done`` or ``failed``. A copy
        process that ended without saying so (killed) failed. gunicorn reaps every child, so the status file, not
        the exit code, tells."""
        if self._verdict is not None or self._process is None or self.status_path is None:
            return None
        status = CopyStatus.read(self.status_path)
        if status is None or status.state not in FINISHED:
            if self._process.poll() is None:
                return None
            status = CopyStatus.read(self.status_path)  # it may have finished between the two reads
            if status is None or status.state not in FINISHED:
                error = "the copy process ended before it finished (killed?)"
                status = CopyStatus(self.uri, FAILED, error=error)
        self._verdict = status
        return status

    def stop(self) -> None:
        """At the server's exit: end a copy still running."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()

    # Workers.

    def progress(self) -> str | None:
        """What the health route says while the copy runs (None once the master gave its verdict)."""
        if self.gate.state != PENDING or self.status_path is None:
            return None
        status = CopyStatus.read(self.status_path) or CopyStatus(self.uri)
        if status.state == FAILED:
            return None  # the verdict follows within a second; the reason is never shown to callers
        return f"model is being copied from {self.uri} ({status.progress()})"

    def wait(self) -> tuple[Path, int | None]:
        """Block until the master's verdict: the copied model folder and the torch threads per worker, or
        ``StorageCopyError`` naming why the copy failed."""
        while self.gate.state == PENDING:
            time.sleep(WAIT_POLL_S)  # the loader thread waits for the master; the worker answers meanwhile
        status = CopyStatus.read(self.status_path) if self.status_path is not None else None
        if self.gate.state == SHUT or status is None or status.model_dir is None:
            reason = status.error if status is not None and status.error else "the copy failed"
            raise StorageCopyError(f"AIP_STORAGE_URI={self.uri}: {reason}")
        return Path(status.model_dir), self.gate.torch_threads

    def loader(self, load: Loader) -> Loader:
        """``load`` of the copied model, once the gate opens (the final plan's torch threads applied)."""

        def staged(settings: Settings) -> Handler:
            folder, threads = self.wait()
            overrides: dict[str, Any] = {"model_dir": folder}
            if threads is not None:
                overrides["torch_threads"] = threads
            return load(settings.with_overrides(**overrides))

        return staged


class StagingArbiter(Arbiter):  # type: ignore[misc]  # gunicorn ships no type information
    """gunicorn's arbiter, asking ``on_loop`` (the server's check of the copy) each time round its loop (at least
    once a second), before it starts or stops workers to match ``num_workers``."""

    def __init__(self, app: Any, on_loop: Callable[[Any], None]) -> None:
        super().__init__(app)
        self._on_loop = on_loop

    def manage_workers(self) -> None:
        self._on_loop(self)
        super().manage_workers()


def run_arbiter(arbiter: Arbiter) -> None:
    """What gunicorn's ``BaseApplication.run`` does with its own arbiter."""
    try:
        arbiter.run()
    except RuntimeError as err:
        print(f"\nError: {err}\n", file=sys.stderr)
        sys.stderr.flush()
        sys.exit(1)
