"""How the handlers cut a length-sorted micro-batch into forward passes of similar lengths (``split_by_padding``),
on CPU and on CUDA. No torch: the torch-free ONNX text handler uses them too."""

from __future__ import annotations

from ..core.padding import split_by_padding

# CPU length buckets (batching.split_by_padding): every padded token costs as much as a real one, and
# starting a forward pass costs about what 16 tokens cost on one thread (bench/: ~3.5 ms vs ~0.23 ms per
# token, all-MiniLM-L6-v2), so a bucket may carry 10% padding, or 16 padded tokens per torch thread.
CPU_MAX_PADDING = 0.1
CPU_PADDING_ALLOWANCE_PER_THREAD = 16
# CUDA buckets: a GPU pass costs little per padded token while the batch is small, and each extra pass costs a
# launch sequence, so only batches mixing very different lengths are cut (a quarter padding, or 8192 padded
# tokens). Not yet measured on a GPU (docs/performance/gpu.md).
GPU_MAX_PADDING = 0.25
GPU_PADDING_ALLOWANCE = 8192


def cpu_buckets(lengths: list[int], threads: int) -> list[list[int]]:
    return split_by_padding(lengths, CPU_MAX_PADDING, CPU_PADDING_ALLOWANCE_PER_THREAD * threads)


def gpu_buckets(lengths: list[int]) -> list[list[int]]:
    return split_by_padding(lengths, GPU_MAX_PADDING, GPU_PADDING_ALLOWANCE)
