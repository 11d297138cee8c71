"""Length buckets and micro-batches (inference/core/padding.py) at 32K and 128K contexts: no table that stops at
some length, padding bounded by a share of the real tokens (or the fixed allowance) however long the sequences,
and a batch budget of one max-length sequence runs it alone."""

from __future__ import annotations

import numpy as np
import pytest

from inference.core.memory_plan import batch_token_budget
from inference.core.padding import plan_batches, split_by_padding
from inference.handlers.buckets import (
    CPU_MAX_PADDING,
    CPU_PADDING_ALLOWANCE_PER_THREAD,
    GPU_MAX_PADDING,
    GPU_PADDING_ALLOWANCE,
)

RULES = {
    "gpu": (GPU_MAX_PADDING, GPU_PADDING_ALLOWANCE),
    "cpu": (CPU_MAX_PADDING, CPU_PADDING_ALLOWANCE_PER_THREAD * 8),  # 8 torch threads
}


def long_mix(max_length: int, seed: int) -> list[int]:
    """Lengths spread over every scale up to ``max_length``: log-uniform, plus full-length ones."""
    rng = np.random.default_rng(seed)
    lengths = np.exp(rng.uniform(np.log(4), np.log(max_length), 300)).astype(int)
    return [*map(int, lengths), max_length, max_length, max_length - 1]


@pytest.mark.parametrize("max_length", [32768, 131072])
@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("seed", [0, 1])
def test_bucket_padding_stays_linear(max_length, rule, seed):
    max_waste, allowance = RULES[rule]
    lengths = long_mix(max_length, seed)
    buckets = split_by_padding(lengths, max_waste, allowance)
    assert sorted(p for bucket in buckets for p in bucket) == list(range(len(lengths)))
    padded_total = 0
    for bucket in buckets:
        real = sum(lengths[p] for p in bucket)
        padded = max(lengths[p] for p in bucket) * len(bucket)
        assert padded - real <= max(max_waste * real, allowance)
        padded_total += padded
    assert padded_total <= (1 + max_waste) * sum(lengths) + allowance * len(buckets)


@pytest.mark.parametrize("max_length", [32768, 131072])
def test_a_full_length_sequence_never_pads_short_ones(max_length):
    lengths = [max_length, 10, 200, 5000, max_length // 2]
    for max_waste, allowance in RULES.values():
        buckets = split_by_padding(lengths, max_waste, allowance)
        assert [0] in buckets, buckets  # a short one beside it would cost another max_length of padding


@pytest.mark.parametrize("max_length", [32768, 131072])
def test_budget_of_one_max_length_sequence_runs_it_alone(max_length):
    budget = batch_token_budget(16384, max_length, None)
    assert budget == max_length
    lengths = [max_length, max_length, 100, 100, max_length - 1, 3]
    batches = plan_batches(lengths, max_batch_size=64, max_batch_tokens=budget)
    assert sorted(p for batch in batches for p in batch) == list(range(len(lengths)))
    for batch in batches:
        assert max(lengths[p] for p in batch) * len(batch) <= budget
    assert batches[:3] == [[0], [1], [4]]  # the long ones one per pass, in one pass each


def test_near_equal_long_sequences_share_one_bucket():
    lengths = [131072 - i for i in range(20000)]  # at most 15% padding: one pass's worth of work, not 20000
    buckets = split_by_padding(lengths, GPU_MAX_PADDING, GPU_PADDING_ALLOWANCE)
    assert len(buckets) == 1
