"""Micro-batching: concurrent requests share forward passes.

Request threads ``submit`` payloads (token id sequences, or preprocessed images) and block; one
batcher thread gathers pending payloads (waiting at most ``wait_s`` for more), groups them by key
(modality and task: never mixed in one forward pass), sorts them by cost (token count) and cuts them
into micro-batches bounded by ``max_batch_size`` items and ``max_batch_tokens`` padded tokens.
Results go back to each request in its own order. Framework-free: no torch, no HTTP.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from ..errors import OverloadedError

log = logging.getLogger(__name__)

ForwardFn = Callable[[Sequence[Any], Hashable], np.ndarray]


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
    payload: Any
    cost: int
    key: Hashable


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
        self._in_flight = 0  # inputs submitted and not yet answered: the backpressure measure
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="micro-batcher", daemon=True)
        self._thread.start()

    @property
    def queued(self) -> int:
        """Inputs waiting for the batcher thread."""
        with self._cond:
            return len(self._pending)

    @property
    def in_flight(self) -> int:
        """Inputs submitted and not yet answered (waiting or in a forward pass)."""
        with self._cond:
            return self._in_flight

    def submit(self, payloads: Sequence[Any], key: Hashable, costs: Sequence[int] | None = None) -> np.ndarray:
        """Embed ``payloads`` and return ``(n, d)`` vectors in input order.

        ``costs`` are the padded-token costs used for sorting and the token budget; by default
        ``len(payload)`` (the token count of a token id sequence). ``key`` is passed to ``forward``.
        """
        costs = costs if costs is not None else [len(p) for p in payloads]
        ticket = _Ticket(len(payloads))
        with self._cond:
            if self._stopped:
                raise OverloadedError("server is shutting down")
            if self._in_flight and self._in_flight + len(payloads) > self._max_queue:
                raise OverloadedError(f"{self._in_flight} inputs in flight; retry shortly")
            self._in_flight += len(payloads)
            jobs = zip(payloads, costs, strict=True)
            self._pending.extend(_Job(ticket, i, payload, cost, key) for i, (payload, cost) in enumerate(jobs))
            self._cond.notify()
        try:
            ticket.done.wait()
        finally:
            with self._cond:
                self._in_flight -= len(payloads)
        if ticket.error is not None:
            raise ticket.error
        return np.stack(cast(list[np.ndarray], ticket.vectors))  # every slot is filled once done is set

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
                budget -= job.cost
                taken.append(job)
            return taken

    def _run(self) -> None:
        while True:
            jobs = self._take()
            if not jobs:
                return
            by_key: dict[Hashable, list[_Job]] = {}
            for job in jobs:
                by_key.setdefault(job.key, []).append(job)
            for key, group in by_key.items():
                self._run_group(key, group)

    def _run_group(self, key: Hashable, group: list[_Job]) -> None:
        costs = [job.cost for job in group]
        for positions in plan_batches(costs, self._max_batch_size, self._max_batch_tokens):
            batch = [group[p] for p in positions]
            try:
                vectors = self._forward([job.payload for job in batch], key)
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
