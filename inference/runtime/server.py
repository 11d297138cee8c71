"""The gunicorn application behind ``embed-serve`` and the container's ``serve``.

The master never imports torch or touches CUDA; each worker builds the app after fork. On GPU hosts there
is one worker per visible GPU, each pinned to its own device (a slot chosen in the master's ``pre_fork``); a
replaced worker takes the freed slot. On CPU hosts there is one worker per core, as many as memory allows,
sharing the cores' torch threads (``worker_plan``). Readiness across workers: ``readiness.ServerReadiness``.
Vertex AI's ``AIP_STORAGE_URI`` is copied while the server already answers (``staging``).
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from ..model_dir import STORAGE_MODEL_DIR, needs_storage_copy, resolve_model_dir
from ..model_set import ModelSetError, served_models
from ..settings import Settings
from .front_worker import FrontApp, FrontWorker
from .limits import FrontLimits, Probes
from .readiness import ServerReadiness, WorkerBoard
from .staging import StagingArbiter, StorageStaging, pending_plan, run_arbiter
from .worker_plan import WorkerPlan, available_memory_bytes, plan_workers, usable_cores, visible_gpus, weight_bytes

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's multiprocess mode (inference/metrics.py)
GRACEFUL_TIMEOUT_S = 25  # SageMaker kills the container 30 s after SIGTERM

# Environment defaults the workers inherit (an explicit value wins). OpenMP reads them when torch loads,
# after fork. With the default (ACTIVE) wait policy, idle intra-op threads spin and take the cores from the
# request threads and the batcher: on 2 cores under 16 concurrent clients the worker burnt 10x the CPU per
# token and served 10x fewer texts/s (bench/, see docs/performance/cpu.md).
WORKER_ENV_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE"}


def raise_open_file_limit() -> tuple[int, int]:
    """Raise the soft limit of open files to the hard one (inherited by the workers): each connection is a file,
    and container runtimes often start with a soft limit of 1024. The (soft, hard) limits now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # a hard limit the kernel refuses (e.g. above fs.nr_open): keep the soft one
            pass
    return soft, hard


def front_limits(settings: Settings) -> FrontLimits:
    """What a worker's HTTP front allows, from the settings (the body limit and timeouts follow the mode)."""
    return FrontLimits(
        max_body_bytes=settings.max_body_bytes, threads=settings.threads, max_waiting=settings.threads,
        header_timeout_s=settings.header_timeout_s, body_timeout_s=settings.body_timeout_s,
        idle_timeout_s=settings.keepalive_s, max_connections=settings.max_connections,
        max_connections_per_address=settings.max_connections_per_client,
        write_timeout_s=max(FrontLimits.write_timeout_s, settings.body_timeout_s),  # async: big responses
        body_memory_bytes=int(settings.body_memory_mb * 1024 * 1024), spool_disk_bytes=settings.spool_disk_bytes,
    )  # fmt: skip


class WorkerSlots:
    """Master bookkeeping: each live worker holds the lowest free slot (its GPU and its readiness byte).
    ``assign`` runs just before fork, so the new worker inherits ``current``: its own slot."""

    def __init__(self) -> None:
        self._by_age: dict[int, int] = {}
        self.current: int | None = None

    def assign(self, age: int) -> int:
        used = set(self._by_age.values())
        slot = next(i for i in range(len(used) + 1) if i not in used)
        self._by_age[age] = self.current = slot
        return slot

    def release(self, age: int) -> int | None:
        return self._by_age.pop(age, None)


class EmbeddingServer(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type information
    """gunicorn application whose workers each run ``create_app`` with their own device."""

    def __init__(self, settings: Settings) -> None:
        for name, value in WORKER_ENV_DEFAULTS.items():
            os.environ.setdefault(name, value)
        self._staging: StorageStaging | None = None  # AIP_STORAGE_URI: copied while the workers answer 503
        if needs_storage_copy(settings):
            self._staging = StorageStaging(str(settings.storage_uri), STORAGE_MODEL_DIR, settings.storage_progress_s,
                                           settings.log_level)  # fmt: skip
        self._settings = settings
        self._gpus = visible_gpus() if settings.device in ("auto", "cuda") else []
        self.plan = self._plan()
        self._slots = WorkerSlots()
        most = self.plan.workers if self._staging is None else max(self.plan.workers, usable_cores())  # re-planned
        self._readiness = ServerReadiness(WorkerBoard(2 * most + 2))  # inherited by the workers
        self._engine: Any = None  # the worker's ModelEngine, set by load
        self.metrics_dir: str | None = None  # set by run
        self.state_dir: Path | None = None  # set by run: what the workers share (rate-limit buckets)
        super().__init__()

    def run(self) -> None:
        """In the master: the open-file limit, the metrics folder, then gunicorn (forks the workers, returns at
        shutdown)."""
        raise_open_file_limit()
        self.metrics_dir = self._metrics_dir()
        self.state_dir = Path(tempfile.mkdtemp(prefix="embed-state-"))
        if self._staging is None:
            super().run()
            return
        self._staging.start(self.state_dir)  # before gunicorn binds: the workers inherit where its status is
        run_arbiter(StagingArbiter(self, self._check_copy))

    @staticmethod
    def _metrics_dir() -> str:
        """A fresh, empty folder for this server's metric files (every worker's values, summed at a scrape): set
        before any worker forks and before this process imports prometheus_client (it reads the variable once, at
        import). Any inherited value is replaced: another server's files would mix into this one's counts."""
        if "prometheus_client" in sys.modules:
            raise RuntimeError("prometheus_client was imported before the metrics folder was set")
        path = tempfile.mkdtemp(prefix="embed-metrics-")
        os.environ[MULTIPROC_ENV] = path
        return path

    def _plan(self) -> WorkerPlan:
        s = self._settings
        if self._staging is not None and s.model_dir is None:  # still being copied: no weights to measure
            return pending_plan(len(self._gpus), s.workers, s.torch_threads)
        try:  # a model set: every model's weights, each worker holds them all (model_set.py)
            weights = sum(weight_bytes(model.folder) for model in served_models(s)) or weight_bytes(
                resolve_model_dir(s))
        except (FileNotFoundError, ImportError, ModelSetError):
            weights = 0  # the worker reports the missing model (or the bad manifest) when it loads
        return plan_workers(
            gpus=len(self._gpus), cores=usable_cores(), memory=available_memory_bytes(), weights=weights,
            workers=s.workers, torch_threads=s.torch_threads,
        )  # fmt: skip

    def worker_count(self) -> int:
        return self.plan.workers

    def _check_copy(self, arbiter: Any) -> None:
        """Master, each time round gunicorn's loop: once the copy of AIP_STORAGE_URI is done, re-plan the workers
        with its weights and open the gate (gunicorn starts the workers the plan adds); if it failed, shut it."""
        assert self._staging is not None
        status = self._staging.poll()
        if status is None:
            return
        if status.model_dir is None:
            self._staging.gate.shut()
            arbiter.log.error("AIP_STORAGE_URI=%s: the model could not be copied (%s); health answers 503",
                              status.uri, status.error)  # fmt: skip
            return
        self._settings = self._settings.with_overrides(model_dir=Path(status.model_dir))
        self.plan = self._plan()
        self._staging.gate.open(None if self._gpus else self.plan.torch_threads)
        arbiter.log.info("AIP_STORAGE_URI=%s copied (%s): %d worker(s) (%s)", status.uri, status.progress(),
                         self.plan.workers, self.plan.reason)  # fmt: skip
        arbiter.num_workers = self.plan.workers

    def load_config(self) -> None:
        s = self._settings
        options: dict[str, Any] = {
            "bind": f"{s.host}:{s.port}",
            "workers": self.worker_count(),
            "worker_class": FrontWorker,  # connection I/O in an event loop, complete requests to app threads
            "threads": s.threads,
            "timeout": s.timeout_s,
            "graceful_timeout": GRACEFUL_TIMEOUT_S,
            "preload_app": False,
            "accesslog": None,
            "loglevel": s.log_level.lower(),
            "pre_fork": lambda server, worker: self._slots.assign(worker.age),
            "post_fork": self._post_fork,
            "post_worker_init": self._post_worker_init,
            "child_exit": self._child_exit,
            "on_exit": self._on_exit,
            "when_ready": self._when_ready,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def _when_ready(self, server: Any) -> None:
        threads = f", {self.plan.torch_threads} torch thread(s) each" if not self._gpus else ""
        server.log.info("starting %d worker(s) (%s)%s", self.plan.workers, self.plan.reason, threads)

    def _on_exit(self, server: Any) -> None:
        if self._staging is not None:
            self._staging.stop()
        for folder in (self.metrics_dir, self.state_dir):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)

    def _child_exit(self, server: Any, worker: Any) -> None:
        if self.metrics_dir is not None:
            from prometheus_client import multiprocess  # here, after the folder is set: see _metrics_dir

            multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]  # live gauges drop it
        slot = self._slots.release(worker.age)
        if slot is not None:
            self._readiness.worker_exited(slot)

    def _post_fork(self, server: Any, worker: Any) -> None:
        """In the new worker: its slot (inherited from ``pre_fork``) is its place on the readiness board."""
        if self._slots.current is not None:
            self._readiness.joined(self._slots.current)

    def _post_worker_init(self, worker: Any) -> None:
        """In the worker, after ``load`` and before it accepts connections."""
        if self._engine is not None:
            self._readiness.hold(self._engine, alive=lambda: bool(worker.alive), heartbeat=worker.notify)

    def _worker_settings(self) -> Settings:
        overrides: dict[str, Any] = {"workers": self.plan.workers}
        slot = self._slots.current
        if self._gpus and slot is not None:
            overrides["device"] = f"cuda:{slot % len(self._gpus)}"
        elif self.plan.torch_threads:
            overrides["torch_threads"] = self.plan.torch_threads
        return self._settings.with_overrides(**overrides)

    def load(self) -> FrontApp:
        """Runs in the worker after fork: pin the GPU, then build the app (loads the model) and its front."""
        from ..api.app import ENGINE, create_app
        from ..api.head_gate import HEAD_GATE
        from ..api.route_table import probe_paths, readiness_paths
        from ..metrics import front_refused

        settings = self._worker_settings()
        if self._staging is None:
            app = create_app(settings, state_dir=self.state_dir)
        else:  # the model is loaded once the master says the copy is done; meanwhile the 503s say how far it got
            from ..handlers import load_handler

            loader = self._staging.loader(load_handler)
            app = create_app(settings, loader, state_dir=self.state_dir, progress=self._staging.progress)
        self._engine = app.extensions[ENGINE]
        probes = Probes(probe_paths(settings), readiness_paths(settings))
        return FrontApp(app, probes, self._readiness.blocked_by_peers, front_limits(settings),
                        settings.request_deadline_s, front_refused, app.extensions[HEAD_GATE])  # fmt: skip
