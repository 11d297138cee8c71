import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from inference.core.batching import MicroBatcher, plan_batches
from inference.core.padding import split_by_padding
from inference.errors import OverloadedError


def test_plan_batches_sorts_by_length_and_respects_both_budgets():
    lengths = [5, 50, 10, 40, 8, 9]
    batches = plan_batches(lengths, max_batch_size=3, max_batch_tokens=100)
    assert sorted(p for b in batches for p in b) == list(range(6))
    for batch in batches:
        assert len(batch) <= 3
        assert max(lengths[p] for p in batch) * len(batch) <= 100 or len(batch) == 1
    assert batches[0] == [1, 3]  # 50 and 40: a third would need 150 padded tokens


def test_plan_batches_keeps_an_oversized_sequence_alone():
    assert plan_batches([500, 3], max_batch_size=8, max_batch_tokens=100) == [[0], [1]]


class RecordingForward:
    """Embeds a sequence as [sum(ids), len(ids)] and records the batches it saw."""

    def __init__(self, gate: threading.Event | None = None):
        self.batches: list[list[list[int]]] = []
        self.gate = gate

    def __call__(self, batch, task):
        if self.gate is not None:
            self.gate.wait(5)
        self.batches.append([list(ids) for ids in batch])
        offset = 1000.0 if task == "q" else 0.0
        return np.array([[sum(ids) + offset, len(ids)] for ids in batch], dtype=np.float32)


def make(forward, **kw):
    args = {"max_batch_size": 8, "max_batch_tokens": 1000, "wait_s": 0.001, "max_queue": 10000, **kw}
    return MicroBatcher(forward, **args)


def test_results_come_back_in_request_order():
    forward = RecordingForward()
    batcher = make(forward)
    seqs = [[i] * (i % 7 + 1) for i in range(30)]
    out = batcher.submit(seqs, None)
    np.testing.assert_array_equal(out, [[sum(s), len(s)] for s in seqs])
    batcher.stop()


def test_concurrent_requests_share_forward_passes_and_get_their_own_vectors():
    gate = threading.Event()
    forward = RecordingForward(gate)
    batcher = make(forward, max_batch_size=64)
    requests = [[[r * 10 + k] * (k + 1) for k in range(3)] for r in range(12)]
    with ThreadPoolExecutor(12) as pool:
        futures = [pool.submit(batcher.submit, seqs, None) for seqs in requests]
        while batcher.queued < 30 and not all(f.done() for f in futures):
            threading.Event().wait(0.001)  # poll until the first forward blocks and the rest queue up
        gate.set()
        results = [f.result() for f in futures]
    for seqs, out in zip(requests, results, strict=False):
        np.testing.assert_array_equal(out, [[sum(s), len(s)] for s in seqs])
    assert len(forward.batches) < len(requests)  # requests were merged
    batcher.stop()


def test_tasks_are_never_mixed_in_one_batch():
    forward = RecordingForward()
    batcher = make(forward)
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(batcher.submit, [[1, 2]], "q")
        b = pool.submit(batcher.submit, [[1, 2]], None)
        assert a.result()[0, 0] == 1003 and b.result()[0, 0] == 3
    batcher.stop()


def test_forward_errors_reach_the_caller_and_the_batcher_lives_on():
    calls = []

    def flaky(batch, task):
        calls.append(len(batch))
        if len(calls) == 1:
            raise RuntimeError("boom")
        return np.zeros((len(batch), 2), dtype=np.float32)

    batcher = make(flaky)
    with pytest.raises(RuntimeError, match="boom"):
        batcher.submit([[1]], None)
    assert batcher.submit([[1], [2]], None).shape == (2, 2)
    batcher.stop()


def test_full_queue_rejects_with_overloaded():
    gate = threading.Event()
    batcher = make(RecordingForward(gate), max_queue=4, max_batch_size=1)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(batcher.submit, [[1]] * 4, None)
        while batcher.in_flight < 4 and not first.done():
            threading.Event().wait(0.001)
        second = pool.submit(batcher.submit, [[1]] * 4, None)
        with pytest.raises(OverloadedError):
            second.result(timeout=5)
        gate.set()
        assert first.result().shape == (4, 2)
    batcher.stop()


def test_split_by_padding_merges_within_allowance():
    assert split_by_padding([3, 2, 1], 0.0, 16) == [[0, 1, 2]]


def test_split_by_padding_keeps_every_position_and_bounds_waste():
    lengths = [256, 10, 12, 250, 11, 40, 9]
    buckets = split_by_padding(lengths, 0.1, 0)
    assert sorted(p for b in buckets for p in b) == list(range(len(lengths)))
    for bucket in buckets:
        real = sum(lengths[p] for p in bucket)
        padded = max(lengths[p] for p in bucket) * len(bucket)
        assert len(bucket) == 1 or padded - real <= 0.1 * real
