"""Device and dtype selection (CUDA + bf16/fp16 when present, CPU fp32 otherwise)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
import torch

from ..errors import DeviceOutOfMemoryError

log = logging.getLogger(__name__)
T = TypeVar("T")

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def pick_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"EMB_DEVICE={requested} but no CUDA device is visible")
    return device


def limit_cpu_threads(device: torch.device, threads: int | None) -> None:
    """torch intra-op threads of this process when it computes on CPU (one of several workers sharing cores)."""
    if device.type == "cpu" and threads:
        torch.set_num_threads(threads)


def pick_dtype(requested: str, device: torch.device) -> torch.dtype:
    if requested != "auto":
        return _DTYPES[requested]
    if device.type != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def padded_batch(
    batch: Sequence[Sequence[int]], pad_id: int, device: torch.device, width: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``input_ids`` and ``attention_mask`` on ``device`` (pinned host memory for CUDA)."""
    width = width or max(len(ids) for ids in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, ids in enumerate(batch):
        input_ids[row, : len(ids)] = torch.as_tensor(ids, dtype=torch.long)
        mask[row, : len(ids)] = 1
    if device.type == "cuda":
        input_ids, mask = input_ids.pin_memory(), mask.pin_memory()
    return input_ids.to(device, non_blocking=True), mask.to(device, non_blocking=True)


def split_on_oom(forward: Callable[[Sequence[T]], np.ndarray], batch: Sequence[T]) -> np.ndarray:
    """Run ``forward``; on CUDA out-of-memory free the cache, halve the batch and retry each half."""
    try:
        return forward(batch)
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        if len(batch) == 1:
            raise DeviceOutOfMemoryError("input does not fit in accelerator memory") from None
        half = len(batch) // 2
        log.warning("CUDA out of memory on a batch of %d; splitting", len(batch))
        return np.concatenate([split_on_oom(forward, batch[:half]), split_on_oom(forward, batch[half:])])
