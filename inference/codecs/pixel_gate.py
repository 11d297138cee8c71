"""A per-worker budget of pixels being decoded at once, and stopping image work past a deadline or a hang-up.

A few KB of PNG or lossless WebP decode to tens of megapixels (4 bytes each), and a worker has up to
``EMB_THREADS`` (32) request threads: all of them decoding such images at once would need GBs. Each decode of
more than ``free_below`` pixels first takes its pixels from the gate's ``capacity`` (``EMB_IMAGE_DECODE_PIXELS``)
and waits, first come first served, while the decodes under way hold too much; an image larger than the whole
capacity waits until it is alone. Small images pass at once. A waiter gives up at its request's deadline (503)
or when its client is gone (499).

Before a large decode gives its pixels back, ``release_heap`` runs (the caller passes core/heap.py's trimmer):
glibc keeps a large block freed in a thread's arena for that thread, so decodes taking turns in 8 threads left
each arena holding a full-size image (1.6 GB peak RSS for 16 decodes of 100 MB, two at a time; 0.4 GB with the
trim).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..errors import ClientClosedRequestError, OverloadedError, ServingError

# Decodes up to this many pixels (4 MB as RGBA) pass without the gate: ordinary photos and screenshots.
FREE_PIXELS = 1 << 20
# Free heap above which a large decode's end returns it to the OS (a decode of 1 Mpx frees 4 MB or more).
TRIM_FREE_BYTES = 32 * 1024**2
# How often a waiter checks its cancellation event (an Event cannot be waited on together with a Condition).
WAIT_POLL_S = 0.1


def interruption(
    deadline: float | None, cancelled: threading.Event | None, clock: Callable[[], float] = time.monotonic
) -> ServingError | None:
    """Why image work for a request should stop now (client gone: 499, deadline passed: 503), or None."""
    if cancelled is not None and cancelled.is_set():
        return ClientClosedRequestError("the client closed the connection; its images were not decoded")
    if deadline is not None and clock() >= deadline:
        return OverloadedError("the request's deadline passed while its images were being decoded; retry shortly")
    return None


class PixelGate:
    """Thread-safe. ``on_wait(pixels)`` is called (lock held) each time a decode starts waiting (tests)."""

    def __init__(
        self, capacity: int, free_below: int = FREE_PIXELS, *, clock: Callable[[], float] = time.monotonic,
        on_wait: Callable[[int], None] | None = None, release_heap: Callable[[], None] = lambda: None,
    ) -> None:  # fmt: skip
        self.capacity, self.free_below = max(1, capacity), free_below
        self._clock, self._on_wait = clock, on_wait
        self._release_heap = release_heap
        self._cond = threading.Condition()
        self._in_use = 0
        self._queue: deque[object] = deque()

    @property
    def in_use(self) -> int:
        with self._cond:
            return self._in_use

    @contextmanager
    def hold(
        self, pixels: int, deadline: float | None = None, cancelled: threading.Event | None = None
    ) -> Iterator[None]:
        """Hold ``pixels`` of the budget for the ``with`` block (none for small images)."""
        charge = 0 if pixels <= self.free_below else min(pixels, self.capacity)
        if charge:
            self._acquire(charge, deadline, cancelled)
        try:
            yield
        finally:
            if charge:
                self._release_heap()  # the decode's memory is freed: hand it back before its pixels
                with self._cond:
                    self._in_use -= charge
                    self._cond.notify_all()

    def _acquire(self, charge: int, deadline: float | None, cancelled: threading.Event | None) -> None:
        ticket = object()
        with self._cond:
            self._queue.append(ticket)
            try:
                waiting = False
                while self._queue[0] is not ticket or self._in_use + charge > self.capacity:
                    if not waiting and self._on_wait is not None:
                        self._on_wait(charge)
                    waiting = True
                    stop = interruption(deadline, cancelled, self._clock)
                    if stop is not None:
                        raise stop
                    self._cond.wait(self._timeout(deadline, cancelled))
                self._in_use += charge
            finally:
                self._queue.remove(ticket)
                self._cond.notify_all()  # the next in line may fit now

    def _timeout(self, deadline: float | None, cancelled: threading.Event | None) -> float | None:
        timeout = WAIT_POLL_S if cancelled is not None else None
        if deadline is not None:
            left = max(0.0, deadline - self._clock())
            timeout = left if timeout is None else min(timeout, left)
        return timeout
