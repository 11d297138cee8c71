"""The batcher does no work for requests nobody waits for: admission by work and deadline before queueing, and
queued jobs dropped before their forward pass once their deadline passed or their client left.

A forward pass held on an Event makes the queue build up deterministically; the deadline clock is a fake one
(the budget's), so nothing here waits for real time to pass.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from inference.core import batching
from inference.core.batching import MicroBatcher
from inference.core.budget import WorkBudget
from inference.errors import ClientClosedRequestError, OverloadedError, RequestTooLargeError
from tests.conftest import FakeClock

WAIT_S = 10  # ceiling for anything that should happen at once


class HeldForward:
    """Embeds a sequence as [sum(ids), len(ids)]. Its first pass holds until ``release``; ``on_pass`` runs at the
    start of every pass (after the hold)."""

    def __init__(self, on_pass=None):
        self.seen: list[list[int]] = []
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.on_pass = on_pass

    def __call__(self, batch, key):
        self.entered.set()
        assert self.gate.wait(WAIT_S)
        self.seen.extend(list(ids) for ids in batch)
        if self.on_pass is not None:
            self.on_pass(batch)
        return np.array([[sum(ids), len(ids)] for ids in batch], dtype=np.float32)


@pytest.fixture
def clock():
    return FakeClock(0.0)


@pytest.fixture
def pool():
    with ThreadPoolExecutor(4) as executor:
        yield executor


def batcher_with(forward, clock, rate=None, **kw):
    budget = WorkBudget(45.0, clock=clock)
    if rate is not None:
        budget.calibrate(rate, 1.0)
    args = {"max_batch_size": 1, "max_batch_tokens": 1000, "wait_s": 0.001, "max_queue": 10000, **kw}
    return MicroBatcher(forward, budget=budget, **args)


def until(condition):
    """Poll a condition another thread makes true (the batcher's own state; no sleeping for a guessed time)."""
    ready = threading.Event()
    for _ in range(WAIT_S * 1000):
        if condition():
            return
        ready.wait(0.001)
    raise AssertionError("condition never held")


def idle(batcher):
    snapshot = batcher.budget.snapshot()
    return (snapshot.queued_tokens, snapshot.queued_requests, batcher.in_flight)


def test_a_queued_request_past_its_deadline_is_dropped_before_the_forward(clock, pool):
    forward = HeldForward()
    batcher = batcher_with(forward, clock)
    first = pool.submit(batcher.submit, [[1, 1]], None, deadline=100.0)
    assert forward.entered.wait(WAIT_S)  # the first request holds the model
    late = pool.submit(batcher.submit, [[7, 7, 7]], None, deadline=10.0)
    until(lambda: batcher.queued == 1)
    assert idle(batcher) == (5, 2, 2)
    clock.now = 11.0  # its deadline passes while it waits its turn
    forward.gate.set()
    assert first.result(WAIT_S).tolist() == [[2, 2]]
    with pytest.raises(OverloadedError, match="deadline passed before the model ran"):
        late.result(WAIT_S)
    assert [7, 7, 7] not in forward.seen  # no work for a request nobody waits for
    assert idle(batcher) == (0, 0, 0)
    batcher.stop()


def test_at_its_deadline_a_queued_request_returns_at_once_and_its_work_is_released(clock, pool):
    """The waiting thread wakes at the deadline itself, while the model is still busy with another request."""
    forward = HeldForward()
    batcher = batcher_with(forward, clock)
    first = pool.submit(batcher.submit, [[1, 1]], None, deadline=100.0)
    assert forward.entered.wait(WAIT_S)
    late = pool.submit(batcher.submit, [[7, 7, 7]], None, deadline=0.01)  # wakes every 10 ms to look at the clock
    until(lambda: batcher.queued == 1)
    clock.now = 1.0
    with pytest.raises(OverloadedError, match="deadline passed before the model ran"):
        late.result(WAIT_S)
    assert idle(batcher) == (2, 1, 1) and batcher.queued == 0
    forward.gate.set()
    first.result(WAIT_S)
    assert [7, 7, 7] not in forward.seen
    assert idle(batcher) == (0, 0, 0)
    batcher.stop()


def test_a_cancelled_request_returns_at_once_and_its_queued_work_is_released(clock, pool):
    """The waiting thread wakes on the cancellation itself, while the model is still busy with another request."""
    forward = HeldForward()
    batcher = batcher_with(forward, clock)
    first = pool.submit(batcher.submit, [[1, 1]], None, deadline=100.0)
    assert forward.entered.wait(WAIT_S)
    gone = threading.Event()
    left = pool.submit(batcher.submit, [[7, 7, 7]], None, deadline=100.0, cancelled=gone)
    until(lambda: batcher.queued == 1)
    gone.set()
    with pytest.raises(ClientClosedRequestError):
        left.result(WAIT_S)  # the forward is still held: the waiting thread did not wait for the batcher
    assert idle(batcher) == (2, 1, 1) and batcher.queued == 0  # only the running request's work is left
    forward.gate.set()
    assert first.result(WAIT_S).tolist() == [[2, 2]]
    assert [7, 7, 7] not in forward.seen
    assert idle(batcher) == (0, 0, 0)
    batcher.stop()


def test_the_batcher_drops_a_cancelled_request_it_reaches_first(clock, pool, monkeypatch):
    monkeypatch.setattr(batching, "CANCEL_POLL_S", 3600.0)  # the waiting thread does not look in time
    forward = HeldForward()
    batcher = batcher_with(forward, clock)
    first = pool.submit(batcher.submit, [[1, 1]], None, deadline=100.0)
    assert forward.entered.wait(WAIT_S)
    gone = threading.Event()
    left = pool.submit(batcher.submit, [[7, 7, 7]], None, deadline=100.0, cancelled=gone)
    until(lambda: batcher.queued == 1)
    gone.set()
    forward.gate.set()
    first.result(WAIT_S)
    with pytest.raises(ClientClosedRequestError):
        left.result(WAIT_S)
    assert [7, 7, 7] not in forward.seen
    assert idle(batcher) == (0, 0, 0)
    batcher.stop()


@pytest.mark.parametrize("why", ["deadline", "cancelled"])
def test_jobs_already_taken_are_dropped_before_their_own_micro_batch(clock, pool, monkeypatch, why):
    """Taken together, run in separate micro-batches: the second is checked again just before its forward."""
    monkeypatch.setattr(batching, "CANCEL_POLL_S", 3600.0)
    gone = threading.Event()

    def during_pass(batch):
        if [5, 5, 5] not in [list(ids) for ids in batch]:
            return
        if why == "cancelled":  # while the longer request runs, the other one's client leaves
            gone.set()
        else:  # or its deadline passes
            clock.now = 50.0

    forward = HeldForward(during_pass)
    batcher = batcher_with(forward, clock)
    first = pool.submit(batcher.submit, [[1]], None, deadline=100.0)
    assert forward.entered.wait(WAIT_S)
    longer = pool.submit(batcher.submit, [[5, 5, 5]], None, deadline=100.0)
    shorter = pool.submit(batcher.submit, [[2, 2]], None, deadline=40.0, cancelled=gone)
    until(lambda: batcher.queued == 2)
    forward.gate.set()
    first.result(WAIT_S)
    assert longer.result(WAIT_S).tolist() == [[15, 3]]
    with pytest.raises(ClientClosedRequestError if why == "cancelled" else OverloadedError):
        shorter.result(WAIT_S)
    assert [2, 2] not in forward.seen
    assert idle(batcher) == (0, 0, 0)
    batcher.stop()


def test_admission_sheds_before_queueing_when_the_queue_cannot_make_the_deadline(clock, pool):
    forward = HeldForward()
    batcher = batcher_with(forward, clock, rate=100)  # 100 tokens/s
    first = pool.submit(batcher.submit, [[1] * 300], None, deadline=45.0)  # 3 s of work
    assert forward.entered.wait(WAIT_S)
    with pytest.raises(OverloadedError) as shed:
        batcher.submit([[2] * 300], None, deadline=5.0)  # 3 s + 3 s > 5 s
    assert shed.value.retry_after == 3  # the queued 300 tokens at 100 tokens/s
    with pytest.raises(RequestTooLargeError, match="split it"):
        batcher.submit([[3] * 50] * 100, None, deadline=45.0)  # 5000 tokens: 50 s alone
    assert batcher.queued == 0 and idle(batcher) == (300, 1, 1)  # neither was queued
    forward.gate.set()
    first.result(WAIT_S)
    assert [list(ids)[0] for ids in forward.seen] == [1]
    assert idle(batcher) == (0, 0, 0)
    batcher.stop()


def test_forward_passes_teach_the_budget_its_throughput(clock):
    forward = HeldForward()
    forward.gate.set()
    batcher = batcher_with(forward, clock, max_batch_size=64, max_batch_tokens=100_000)
    assert batcher.budget.tokens_per_s is None
    batcher.submit([[1] * 256] * 8, None, deadline=45.0)  # one pass of 2048 tokens, timed around the forward
    assert batcher.budget.tokens_per_s is not None and batcher.budget.tokens_per_s > 0
    assert idle(batcher) == (0, 0, 0)
    batcher.stop()
