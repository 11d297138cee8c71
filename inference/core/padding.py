"""Cutting work by length: micro-batches within the batcher's budgets, and length buckets for CPU forward passes."""

from __future__ import annotations

from collections.abc import Sequence


def split_by_padding(lengths: Sequence[int], max_waste: float, allowance: int) -> list[list[int]]:
    """Cut positions, longest first, into length buckets that waste little compute on padding.

    A position joins the current bucket while the bucket's padding (width x size - real tokens) stays
    within ``max_waste`` x its real tokens, or within ``allowance`` tokens (what one more forward pass
    costs: small buckets are merged even when padded). Where a forward pass is cheap to start (CPU),
    padding is pure waste: one micro-batch mixing 256-token and 10-token texts can cost 3x the tokens.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    buckets: list[list[int]] = []
    current: list[int] = []
    width = real = 0
    for position in order:
        length = lengths[position]
        if current:
            waste = (len(current) + 1) * width - (real + length)
            if waste <= max(max_waste * (real + length), allowance):
                current.append(position)
                real += length
                continue
            buckets.append(current)
        current, width, real = [position], length, length
    if current:
        buckets.append(current)
    return buckets


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
