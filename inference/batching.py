"""Micro-batching: concurrent requests share forward passes.

Request threads ``submit`` tokenised sequences and block; one batcher thread gathers pending
sequences (waiting at most ``wait_s`` for more), groups them by task, sorts them by length and cuts
them into micro-batches bounded by ``max_batch_size`` sequences and ``max_batch_tokens`` padded
tokens. Results go back to each request in its own order. Framework-free: no torch, no HTTP.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import OverloadedError

log = logging.getLogger(__name__)

ForwardFn = Callable[[Sequence[Sequence[int]], str | None], np.ndarray]


@dataclass(eq=False)
class _Ticket:
    """One request's share of the queue."""

    size: int
    vectors: list[np.ndarray | None] = field(init=False)
    remaining: int = field(init=False)
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.vectors = [None] * self.size
        self.remaining = self.size


@dataclass(frozen=True, slots=True)
class _Job:
    ticket: _Ticket
    index: int
    ids: Sequence[int]
    task: str | None


def plan_batches(lengths: Sequence[int], max_batch_size: int, max_batch_tokens: int) -> list[list[int]]:
    """Cut positions into micro-batches: longest first, each within the size and padded-token budgets."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    batches: list[list[int]] = []
    current: list[int] = []
    for position in order:
        width = lengths[current[0]] if current else lengths[position]
        fits = len(current) < max_batch_size and (len(current) + 1) * width <= max_batch_tokens
        if current and not fits:
            batches.append(current)
            current = []
        current.append(position)
    if current:
        batches.append(current)
    return batches


class MicroBatcher:
    """Token-budget dynamic batcher in front of one ``forward`` function."""

    def __init__(
        self,
        forward: ForwardFn,
        *,
        max_batch_size: int,
        max_batch_tokens: int,
        wait_s: float,
        max_queue: int,
    ) -> None:
        self._forward = forward
        self._max_batch_size = max_batch_size
        self._max_batch_tokens = max_batch_tokens
        self._wait_s = wait_s
        self._max_queue = max_queue
        self._pending: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="micro-batcher", daemon=True)
        self._thread.start()

    @property
    def queued(self) -> int:
        with self._cond:
            return len(self._pending)

    def submit(self, sequences: Sequence[Sequence[int]], task: str | None) -> np.ndarray:
        """Embed ``sequences`` (token ids) and return ``(n, d)`` pooled vectors in input order."""
        ticket = _Ticket(len(sequences))
        with self._cond:
            if self._stopped:
                raise OverloadedError("server is shutting down")
            if self._pending and len(self._pending) + len(sequences) > self._max_queue:
                raise OverloadedError(f"too many inputs queued ({len(self._pending)}); retry shortly")
            self._pending.extend(_Job(ticket, i, ids, task) for i, ids in enumerate(sequences))
            self._cond.notify()
        ticket.done.wait()
        if ticket.error is not None:
            raise ticket.error
        return np.stack(ticket.vectors)  # type: ignore[arg-type]

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _take(self) -> list[_Job]:
        """Block for work, then wait up to ``wait_s`` for a fuller batch; take a bounded FIFO slice."""
        with self._cond:
            while not self._pending and not self._stopped:
                self._cond.wait()
            deadline = time.monotonic() + self._wait_s
            while len(self._pending) < self._max_batch_size and not self._stopped:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            budget = 4 * self._max_batch_tokens
            taken: list[_Job] = []
            while self._pending and (not taken or budget > 0):
                job = self._pending.popleft()
                budget -= len(job.ids)
                taken.append(job)
            return taken

    def _run(self) -> None:
        while True:
            jobs = self._take()
            if not jobs:
                return
            by_task: dict[str | None, list[_Job]] = {}
            for job in jobs:
                by_task.setdefault(job.task, []).append(job)
            for task, group in by_task.items():
                self._run_group(task, group)

    def _run_group(self, task: str | None, group: list[_Job]) -> None:
        lengths = [len(job.ids) for job in group]
        for positions in plan_batches(lengths, self._max_batch_size, self._max_batch_tokens):
            batch = [group[p] for p in positions]
            try:
                vectors = self._forward([job.ids for job in batch], task)
            except BaseException as err:  # noqa: BLE001 - handed to the waiting request threads
                log.exception("forward pass failed for a batch of %d", len(batch))
                for job in batch:
                    self._fail(job.ticket, err)
                continue
            for job, vector in zip(batch, vectors, strict=True):
                self._deliver(job, vector)

    @staticmethod
    def _deliver(job: _Job, vector: np.ndarray) -> None:
        ticket = job.ticket
        if ticket.error is not None:
            return
        ticket.vectors[job.index] = vector
        ticket.remaining -= 1
        if ticket.remaining == 0:
            ticket.done.set()

    @staticmethod
    def _fail(ticket: _Ticket, err: BaseException) -> None:
        if ticket.error is None:
            ticket.error = err
            ticket.done.set()
