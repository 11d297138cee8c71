"""Micro-batching: concurrent requests share forward passes.

Request threads ``submit`` payloads (token id sequences, or preprocessed images) and block; one batcher thread
gathers pending payloads (waiting at most ``wait_s`` for more), groups them by key (modality and task: never mixed
in one forward pass, but a model that picks its adapter per row takes every task under one key: core/task_rows.py),
sorts them by cost (token count) and cuts them into micro-batches bounded by ``max_batch_size`` items and
``max_batch_tokens`` padded tokens. Results go back to each request in its own order.
A request is admitted by work and deadline before it is queued (budget.py); jobs of a request past its deadline or
whose client left are dropped before their micro-batch runs, and its waiting thread returns at once.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from ..errors import ClientClosedRequestError, OverloadedError, ServingError
from ..metrics import BATCH_SIZE
from .budget import Reservation, WorkBudget
from .padding import plan_batches

log = logging.getLogger(__name__)

# How often a request thread waiting with a cancellation event checks it (an Event cannot be waited on together
# with the result): a cancelled request returns within this, its queued jobs dropped. No torch, no HTTP here.
CANCEL_POLL_S = 0.1

# One output per payload, in order: an ``(n, d)`` array, or a list of arrays of differing shapes.
ForwardFn = Callable[[Sequence[Any], Hashable], np.ndarray | Sequence[np.ndarray]]


@dataclass(eq=False)
class _Ticket:
    """One request's share of the queue. ``pending``, ``open`` and ``error`` change under the batcher's lock."""

    size: int
    deadline: float | None = None  # absolute time.monotonic() seconds
    cancelled: threading.Event | None = None  # set when the client is gone
    vectors: list[np.ndarray | None] = field(init=False)
    remaining: int = field(init=False)  # vectors not yet delivered
    pending: int = field(init=False)  # jobs in the queue, not yet taken by the batcher thread
    open: int = field(init=False)  # jobs whose work still counts in the budget (not yet run or dropped)
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.vectors = [None] * self.size
        self.remaining = self.pending = self.open = self.size

    def alive(self, now: float) -> bool:
        """Someone still waits for this request's results, in time (lock-free reads)."""
        return (
            self.error is None
            and (self.cancelled is None or not self.cancelled.is_set())
            and (self.deadline is None or now < self.deadline)
        )


@dataclass(frozen=True, slots=True)
class _Job:
    ticket: _Ticket
    index: int
    payload: Any
    cost: int
    key: Hashable


class MicroBatcher:
    """Token-budget dynamic batcher in front of one ``forward`` function.

    ``budget`` (budget.py) admits requests by work and deadline and learns the throughput from the forward
    passes; without one, only ``max_queue`` bounds the queue.
    """

    def __init__(self, forward: ForwardFn, *, max_batch_size: int, max_batch_tokens: int, wait_s: float,
                 max_queue: int, budget: WorkBudget | None = None) -> None:  # fmt: skip
        self._forward = forward
        self._max_batch_size = max_batch_size
        self._max_batch_tokens = max_batch_tokens
        self._wait_s = wait_s
        self._max_queue = max_queue
        self._budget = budget if budget is not None else WorkBudget(math.inf)
        self._pending: deque[_Job] = deque()
        self._in_flight = 0  # inputs admitted whose work is not yet done or dropped: EMB_MAX_QUEUE_INPUTS' measure
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="micro-batcher", daemon=True)
        self._thread.start()

    @property
    def budget(self) -> WorkBudget:
        return self._budget

    @property
    def queued(self) -> int:
        """Inputs waiting for the batcher thread."""
        with self._cond:
            return len(self._pending)

    @property
    def in_flight(self) -> int:
        """Inputs admitted whose work is not done yet (waiting or in a forward pass)."""
        with self._cond:
            return self._in_flight

    def submit(self, payloads: Sequence[Any], key: Hashable, costs: Sequence[int] | None = None,
               **options: Any) -> np.ndarray:  # fmt: skip
        """Embed ``payloads`` and return ``(n, d)`` vectors in input order (``submit_each``'s outputs, stacked)."""
        return np.stack(self.submit_each(payloads, key, costs, **options))

    def submit_each(
        self,
        payloads: Sequence[Any],
        key: Hashable,
        costs: Sequence[int] | None = None,
        *,
        deadline: float | None = None,
        cancelled: threading.Event | None = None,
        reservation: Reservation | None = None,
    ) -> list[np.ndarray]:
        """Run ``payloads`` through the model and return each one's output in input order (shapes may differ:
        a multi-vector model's token vectors).

        ``costs`` are the token costs used for sorting, the token budget and admission; by default
        ``len(payload)`` (the token count of a token id sequence). ``key`` is passed to ``forward``.
        ``deadline`` (absolute ``time.monotonic()``) and ``cancelled`` (set when the client is gone): admission
        refuses work that cannot finish in time (budget.py), and jobs still queued once the deadline passed or
        the event is set are dropped before their forward pass; the caller gets the error at once. A request
        admitted ahead by a ``reservation`` swaps it for its exact cost instead of being judged again."""
        costs = costs if costs is not None else [len(p) for p in payloads]
        ticket = _Ticket(len(payloads), deadline, cancelled)
        with self._cond:
            if self._stopped:
                raise OverloadedError("server is shutting down")
            if self._in_flight and self._in_flight + len(payloads) > self._max_queue:
                raise OverloadedError(
                    f"{self._in_flight} inputs in flight; retry shortly", retry_after=self._budget.retry_after()
                )
            self._budget.admit_reserved(reservation, sum(costs), len(payloads), deadline)
            self._in_flight += len(payloads)
            jobs = zip(payloads, costs, strict=True)
            self._pending.extend(_Job(ticket, i, payload, cost, key) for i, (payload, cost) in enumerate(jobs))
            self._cond.notify()
        self._wait(ticket)
        if ticket.error is not None:
            raise ticket.error
        return cast(list[np.ndarray], ticket.vectors)  # every slot is filled once done is set

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=5)

    # -- dropping work nobody waits for -----------------------------------------------------------------------
    def _reason(self, ticket: _Ticket) -> ServingError:
        if ticket.cancelled is not None and ticket.cancelled.is_set():
            return ClientClosedRequestError("the client closed the connection; its queued work was dropped")
        return OverloadedError(
            "the request's deadline passed before the model ran; retry shortly", retry_after=self._budget.retry_after()
        )

    def _wait(self, ticket: _Ticket) -> None:
        """Block until the ticket is done; on a cancellation (polled every ``CANCEL_POLL_S``) or at the deadline,
        drop the ticket's queued jobs and fail it at once instead of waiting for the batcher to reach them."""
        cancelled, deadline = ticket.cancelled, ticket.deadline
        while True:
            timeout = CANCEL_POLL_S if cancelled is not None else None
            if deadline is not None:
                left = max(0.0, deadline - self._budget.clock())
                timeout = left if timeout is None else min(timeout, left)
            if ticket.done.wait(timeout):
                return
            if ticket.alive(self._budget.clock()):
                continue
            with self._cond:
                if ticket.done.is_set():
                    return
                if ticket.pending or (cancelled is not None and cancelled.is_set()):
                    self._abandon_locked(ticket)
                    return
            deadline = None  # past it with every job taken: the batcher runs or drops them soon

    def _abandon_locked(self, ticket: _Ticket) -> None:
        """Fail ``ticket`` and take its jobs out of the queue, releasing their work (lock held)."""
        if ticket.pending:
            mine = [job for job in self._pending if job.ticket is ticket]
            self._pending = deque(job for job in self._pending if job.ticket is not ticket)
            ticket.pending = 0
            self._release_locked(mine)
        self._fail(ticket, self._reason(ticket))

    def _drop_locked(self, job: _Job, now: float) -> bool:
        """Drop ``job`` if nobody waits for its result in time, releasing its work (lock held)."""
        if job.ticket.alive(now):
            return False
        self._release_locked([job])
        if job.ticket.error is None:
            self._fail(job.ticket, self._reason(job.ticket))
        return True

    def _release_locked(self, jobs: Sequence[_Job]) -> None:
        """``jobs`` ran or were dropped: their work leaves the budget and the in-flight count (lock held)."""
        tokens = finished = 0
        for job in jobs:
            tokens += job.cost
            job.ticket.open -= 1
            finished += job.ticket.open == 0
        self._in_flight -= len(jobs)
        self._budget.release(tokens, finished)

    # -- the batcher thread ------------------------------------------------------------------------------------
    def _take(self) -> list[_Job] | None:
        """Block for work, then wait up to ``wait_s`` for a fuller batch; take a bounded FIFO slice. None once
        stopped with nothing left. (Jobs nobody waits for are dropped just before their micro-batch: ``_live``.)"""
        with self._cond:
            while not self._pending and not self._stopped:
                self._cond.wait()
            if not self._pending:
                return None
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
                job.ticket.pending -= 1
                budget -= job.cost
                taken.append(job)
            return taken

    def _run(self) -> None:
        while (jobs := self._take()) is not None:
            by_key: dict[Hashable, list[_Job]] = {}
            for job in jobs:
                by_key.setdefault(job.key, []).append(job)
            for key, group in by_key.items():
                self._run_group(key, group)

    def _live(self, batch: list[_Job]) -> list[_Job]:
        """The jobs of ``batch`` someone still waits for, in time; the others are dropped before the forward."""
        now = self._budget.clock()
        if all(job.ticket.alive(now) for job in batch):
            return batch  # the common case, without the lock
        with self._cond:
            return [job for job in batch if not self._drop_locked(job, now)]

    def _run_group(self, key: Hashable, group: list[_Job]) -> None:
        costs = [job.cost for job in group]
        for positions in plan_batches(costs, self._max_batch_size, self._max_batch_tokens):
            batch = self._live([group[p] for p in positions])
            if not batch:
                continue
            started = time.perf_counter()
            BATCH_SIZE.observe(len(batch))
            try:
                vectors = self._forward([job.payload for job in batch], key)
            except BaseException as err:  # noqa: BLE001 - handed to the waiting request threads
                log.exception("forward pass failed for a batch of %d", len(batch))
                with self._cond:
                    self._release_locked(batch)
                    for job in batch:
                        self._fail(job.ticket, err)
                continue
            self._budget.observe(sum(job.cost for job in batch), time.perf_counter() - started)
            with self._cond:
                self._release_locked(batch)
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
