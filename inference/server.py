"""gunicorn runner: the ``embed-serve`` command and the container's ``serve``.

The master never imports torch or touches CUDA; each worker builds the app after fork. On GPU
hosts there is one worker per visible GPU, each pinned to its own device (a slot chosen in the master's
``pre_fork``); a replaced worker takes the freed GPU. On CPU hosts there is one worker per core, as many
as memory allows, sharing the cores' torch threads (``worker_plan``).
"""

from __future__ import annotations

import argparse
import os
import threading
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from .admission import BODY_TIMEOUT_S, AdmissionWorker, shed_overflow
from .readiness import IDLE, LOADING, READY, WorkerBoard
from .settings import Settings, resolve_model_dir
from .worker_plan import WorkerPlan, available_memory_bytes, plan_workers, usable_cores, weight_bytes

GRACEFUL_TIMEOUT_S = 25  # SageMaker kills the container 30 s after SIGTERM


# Environment defaults the workers inherit (an explicit value wins). OpenMP reads them when torch loads,
# after fork. With the default (ACTIVE) wait policy, idle intra-op threads spin and take the cores from the
# request threads and the batcher: on 2 cores under 16 concurrent clients the worker burnt 10x the CPU per
# token and served 10x fewer texts/s (bench/, see README "Performance").
WORKER_ENV_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE"}


def visible_gpus() -> list[str]:
    """GPU indices visible to this container, without initialising CUDA."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
    return sorted((p.name[len("nvidia") :] for p in Path("/dev").glob("nvidia[0-9]*")), key=int)


class EmbeddingServer(BaseApplication):  # type: ignore[misc]
    """gunicorn application whose workers each run ``create_app`` with their own device."""

    def __init__(self, settings: Settings) -> None:
        for name, value in WORKER_ENV_DEFAULTS.items():
            os.environ.setdefault(name, value)
        self._settings = settings
        self._gpus = visible_gpus() if settings.device in ("auto", "cuda") else []
        self.plan = self._plan()
        self._assigned: dict[int, int] = {}  # worker age -> slot (master's bookkeeping)
        self._board = WorkerBoard(2 * self.plan.workers + 2)  # shared memory, inherited by the workers
        self._worker_slot: int | None = None  # set in the worker process by post_fork
        self._service: Any = None  # the worker's EmbeddingService, set by load
        super().__init__()

    def _plan(self) -> WorkerPlan:
        s = self._settings
        try:
            weights = weight_bytes(resolve_model_dir(s))
        except (FileNotFoundError, ImportError):
            weights = 0  # the worker reports the missing model when it loads
        return plan_workers(
            gpus=len(self._gpus), cores=usable_cores(), memory=available_memory_bytes(), weights=weights,
            workers=s.workers, torch_threads=s.torch_threads,
        )  # fmt: skip

    def worker_count(self) -> int:
        return self.plan.workers

    def load_config(self) -> None:
        s = self._settings
        options: dict[str, Any] = {
            "bind": f"{s.host}:{s.port}",
            "workers": self.worker_count(),
            "worker_class": AdmissionWorker,  # gthread with a bounded wait for a thread (fast 503 past it)
            "threads": s.threads,
            "timeout": s.timeout_s,
            "graceful_timeout": GRACEFUL_TIMEOUT_S,
            "keepalive": 75,
            "preload_app": False,
            "accesslog": None,
            "loglevel": s.log_level.lower(),
            "pre_fork": self._pre_fork,
            "post_fork": self._post_fork,
            "child_exit": self._child_exit,
            "when_ready": self._when_ready,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def _pre_fork(self, server: Any, worker: Any) -> None:
        """Runs in the master: give the new worker the lowest free slot (its GPU and its readiness byte)."""
        used = set(self._assigned.values())
        slot = next(i for i in range(len(used) + 1) if i not in used)
        self._assigned[worker.age] = slot
        worker.slot = slot

    def _post_fork(self, server: Any, worker: Any) -> None:
        """Runs in the new worker process, before ``load``."""
        self._worker_slot = worker.slot
        worker.hold_until_ready = self._hold_until_ready

    def _when_ready(self, server: Any) -> None:
        threads = f", {self.plan.torch_threads} torch thread(s) each" if not self._gpus else ""
        server.log.info("starting %d worker(s) (%s)%s", self.plan.workers, self.plan.reason, threads)

    def _child_exit(self, server: Any, worker: Any) -> None:
        slot = self._assigned.pop(worker.age, None)
        if slot is not None and slot < len(self._board):
            self._board.set(slot, IDLE)

    def _on_board(self) -> bool:
        return self._worker_slot is not None and self._worker_slot < len(self._board)

    def _peers_ready(self) -> bool:
        return not self._on_board() or self._board.none_loading()

    def _hold_until_ready(self, worker: Any) -> None:
        """Runs in the worker before it accepts connections (``AdmissionWorker.run``). If another worker is
        ready, wait for this worker's model (heartbeating) so no request meets a loading model; else take
        connections at once, marked ``LOADING`` (``/ping`` answers 503 until every such worker is ready)."""
        service, slot = self._service, self._worker_slot
        if service is None or not self._on_board() or slot is None:
            return
        if self._board.any_ready(exclude=slot):
            while worker.alive and not service.wait_ready(1.0) and service.load_error is None:
                worker.notify()  # the heartbeat: gunicorn's master replaces a worker that stays silent
            if not service.ready:
                self._board.set(slot, LOADING)  # failed (or stopping): serve its 503s and say so on /ping
                return
        else:
            self._board.set(slot, LOADING)

        def mark_ready() -> None:
            service.wait_ready()
            self._board.set(slot, READY)

        threading.Thread(target=mark_ready, name="readiness", daemon=True).start()

    def load(self) -> Any:
        """Runs in the worker after fork: pin the GPU, then build the app (loads the model)."""
        from .api.app import create_app

        settings = self._settings.model_copy(update={"workers": self.plan.workers})
        if self._gpus and self._worker_slot is not None:
            settings = settings.model_copy(update={"device": f"cuda:{self._worker_slot % len(self._gpus)}"})
        elif self.plan.torch_threads:
            settings = settings.model_copy(update={"torch_threads": self.plan.torch_threads})
        health = ("/ping", settings.azure_ready_route, settings.azure_live_route)
        body_timeout = min(BODY_TIMEOUT_S, settings.timeout_s / 4)  # well inside the worker's heartbeat timeout
        app = create_app(settings, peers_ready=self._peers_ready)
        self._service = app.extensions["embedding_service"]
        return shed_overflow(app, health, settings.max_body_bytes, body_timeout)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="embed-serve", description="Serve embeddings over HTTP (gunicorn).")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve"], help="SageMaker passes 'serve'")
    parser.add_argument("--model-dir", type=Path, help="model folder (else MODEL_DIR, AZUREML_MODEL_DIR, ...)")
    parser.add_argument("--port", type=int, help="listen port (else SAGEMAKER_BIND_TO_PORT / EMB_PORT / 8080)")
    parser.add_argument("--host", help="bind address (else EMB_HOST / 0.0.0.0)")
    parser.add_argument("--workers", type=int, help="gunicorn workers")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k != "command" and v is not None}
    settings = Settings().model_copy(update=overrides)
    EmbeddingServer(settings).run()


if __name__ == "__main__":
    main()
