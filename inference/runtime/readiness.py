"""Readiness across the workers of one server: no request reaches a worker whose model is still loading.

All workers accept connections on one socket, so a load balancer that saw ``/ping`` 200 from one worker
may send the next request to another. The master allocates a ``WorkerBoard`` in shared memory before it
forks; each worker has a slot (chosen in the master's ``pre_fork``) in one of three states:

- ``IDLE``: not taking connections (slot free, or a worker holding back until its model is ready);
- ``LOADING``: taking connections while its model loads (only when no other worker is ready: the
  server has just started and ``/ping`` must answer 503 rather than hang);
- ``READY``: model loaded and warm.

``/ping`` is 200 only when this worker is ready and no worker is ``LOADING``. A worker started while
another is ready (a replacement after a crash) holds back from accepting until its own model is ready,
so the ready workers keep serving everything and ``/ping`` stays 200.

``ServerReadiness`` is the one object that owns this protocol: the master marks exited workers' slots
free, each worker holds back (or not) before it accepts connections, and the WSGI guard asks it whether
the peers are ready before a health probe may answer 200. Framework-free: one anonymous shared ``mmap``
(the master never imports torch).
"""

from __future__ import annotations

import mmap
import threading
from collections.abc import Callable
from typing import Protocol

IDLE, LOADING, READY = 0, 1, 2


class WorkerBoard:
    """One byte per worker slot in anonymous shared memory, inherited by forked workers."""

    def __init__(self, slots: int) -> None:
        # An anonymous MAP_SHARED mapping: no file anywhere (read-only root filesystems are fine), shared with
        # every process forked after it.
        self._states = mmap.mmap(-1, max(1, slots))

    def __len__(self) -> int:
        return len(self._states)

    def set(self, slot: int, state: int) -> None:
        self._states[slot] = state

    def state(self, slot: int) -> int:
        return self._states[slot]

    def any_ready(self, exclude: int | None = None) -> bool:
        return any(state == READY for i, state in enumerate(self._states[:]) if i != exclude)

    def none_loading(self, exclude: int | None = None) -> bool:
        """No worker (but ``exclude``) takes connections it cannot serve yet."""
        return all(state != LOADING for i, state in enumerate(self._states[:]) if i != exclude)


class ModelReadiness(Protocol):
    """What the worker's model engine tells readiness (core.engine.ModelEngine)."""

    @property
    def ready(self) -> bool: ...

    @property
    def load_error(self) -> str | None: ...

    def wait_ready(self, timeout: float | None = None) -> bool: ...


class ServerReadiness:
    """Readiness of all workers of one server, on a ``WorkerBoard`` shared by the master and its workers.

    Master: ``worker_exited(slot)``. Worker (after fork, its slot known): ``hold`` before accepting connections,
    then ``blocked_by_peers`` for every readiness probe.
    """

    def __init__(self, board: WorkerBoard) -> None:
        self._board = board  # allocated in the master before it forks: every worker shares it
        self._slot: int | None = None  # this worker's slot (set after fork)
        self._model: ModelReadiness | None = None  # this worker's model (set by hold)

    def worker_exited(self, slot: int) -> None:
        """Master: a worker is gone; its slot takes no connections."""
        if slot < len(self._board):
            self._board.set(slot, IDLE)

    def joined(self, slot: int) -> None:
        """Worker, right after fork: this process owns ``slot``."""
        self._slot = slot if slot < len(self._board) else None

    def peers_ready(self) -> bool:
        """No other worker of this server takes connections it cannot serve yet (always true off the board)."""
        return self._slot is None or self._board.none_loading(exclude=self._slot)

    def blocked_by_peers(self) -> bool:
        """This worker's model is ready but another worker's is not: a readiness probe must answer 503. (While
        this worker's own model is loading or failed, the app's probe says so itself, naming the failure.)"""
        return self._model is not None and self._model.ready and not self.peers_ready()

    def hold(self, model: ModelReadiness, alive: Callable[[], bool], heartbeat: Callable[[], None]) -> None:
        """Worker, before it accepts connections. If another worker is ready, wait for this worker's model
        (calling ``heartbeat``: gunicorn replaces a silent worker) so no request meets a loading model; else
        take connections at once, marked ``LOADING`` (health probes answer 503 until every such worker is
        ready). Either way the slot turns ``READY`` when the model is."""
        slot = self._slot
        self._model = model
        if slot is None:
            return
        if self._board.any_ready(exclude=slot):
            while alive() and not model.wait_ready(1.0) and model.load_error is None:
                heartbeat()
            if not model.ready:
                self._board.set(slot, LOADING)  # failed (or stopping): serve its 503s and say so on /ping
                return
        else:
            self._board.set(slot, LOADING)

        def mark_ready() -> None:
            model.wait_ready()
            self._board.set(slot, READY)

        threading.Thread(target=mark_ready, name="readiness", daemon=True).start()
