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

Framework-free: one anonymous shared ``mmap`` (the master never imports torch).
"""

from __future__ import annotations

import mmap

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

    def none_loading(self) -> bool:
        """No worker takes connections it cannot serve yet."""
        return all(state != LOADING for state in self._states[:])
