"""Admission control in front of the request threads: a fast 503 instead of an unbounded wait.

gunicorn's gthread worker hands every ready connection to a ``ThreadPoolExecutor`` whose queue is
unbounded: past ``EMB_THREADS`` busy requests, new ones wait in that queue, invisible to the app and
its batcher, until the client gives up (SageMaker: 60 s). Health checks wait there too, so a busy
worker looks dead. ``AdmissionPool`` bounds the wait: at most ``threads`` requests run and at most
``max_waiting`` wait for a thread; a request beyond that runs on a small shed pool whose threads answer
``503`` + ``Retry-After`` (type ``overloaded``) at once, and still answer health checks normally (guard.py).

Within the running requests, ``MicroBatcher``'s bound on in-flight inputs (``EMB_MAX_QUEUE_INPUTS``)
sheds large requests the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

SHED_THREADS = 2
_local = threading.local()


def _mark_shed_thread() -> None:
    _local.shed = True


def in_shed_thread() -> bool:
    return getattr(_local, "shed", False)


class AdmissionPool(ThreadPoolExecutor):
    """The worker's request pool: ``threads`` running, ``max_waiting`` queued, the rest shed."""

    def __init__(self, threads: int, max_waiting: int, shed_threads: int = SHED_THREADS) -> None:
        super().__init__(max_workers=threads, thread_name_prefix="request")
        self._shed = ThreadPoolExecutor(
            max_workers=shed_threads, thread_name_prefix="shed", initializer=_mark_shed_thread
        )
        self._capacity = threads + max_waiting
        self._busy = 0  # submitted to the main pool and not finished (running or queued)
        self._lock = threading.Lock()

    @property
    def busy(self) -> int:
        with self._lock:
            return self._busy

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:
            admitted = self._busy < self._capacity
            if admitted:
                self._busy += 1
        if not admitted:
            return self._shed.submit(fn, *args, **kwargs)
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._release)
        return future

    def _release(self, _future: Future[Any]) -> None:
        with self._lock:
            self._busy -= 1

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shed.shutdown(wait=wait, cancel_futures=cancel_futures)
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
