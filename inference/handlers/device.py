"""Device and dtype selection (CUDA + bf16/fp16 when present, CPU fp32 otherwise)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from .. import gpu_host
from ..errors import DeviceOutOfMemoryError, HostUnfitError

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R", np.ndarray, torch.Tensor)

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class GpuUnavailableError(HostUnfitError):
    """An NVIDIA GPU is present but CUDA cannot use it, and EMB_GPU_FALLBACK=fail (the model stays unloaded)."""


def gpu_present() -> bool:
    """An NVIDIA driver or device node is visible (CUDA availability aside)."""
    return gpu_host.host_driver_version() is not None or bool(visible_device_nodes())


def visible_device_nodes() -> list[str]:
    return [p.name for p in Path("/dev").glob("nvidia[0-9]*")]


def pick_device(requested: str, fallback: str = "fail") -> torch.device:
    """The device to compute on. ``auto``: CUDA when usable, else the CPU where no NVIDIA GPU is present.

    When a GPU is present (or ``cuda`` was asked for) but CUDA is unusable, ``fallback`` decides: ``cpu`` serves
    on the CPU with a warning, ``fail`` raises ``GpuUnavailableError`` naming the host driver and the CUDA
    version the image needs (EMB_GPU_FALLBACK).
    """
    device = torch.device("cuda" if requested == "auto" else requested)
    if device.type != "cuda" or torch.cuda.is_available():
        return device
    if requested == "auto" and not gpu_present():
        return torch.device("cpu")
    reason = gpu_host.unusable_reason(
        gpu_host.host_driver_version(), gpu_host.image_cuda_version() or torch.version.cuda, gpu_host.compat_in_use()
    )
    if requested != "auto" and not gpu_present():
        reason = f"EMB_DEVICE={requested} but no NVIDIA GPU is visible"
    if fallback == "cpu":
        log.warning("%s; serving on the CPU (EMB_GPU_FALLBACK=cpu)", reason)
        return torch.device("cpu")
    log.error("%s", reason)
    raise GpuUnavailableError(reason)


def limit_cpu_threads(device: torch.device, threads: int | None) -> None:
    """torch intra-op threads of this process when it computes on CPU (one of several workers sharing cores)."""
    if device.type == "cpu" and threads:
        torch.set_num_threads(threads)


def pick_dtype(requested: str, device: torch.device) -> torch.dtype:
    if requested != "auto":
        return _DTYPES[requested]
    if device.type != "cuda":
        return torch.float32
    # Native bf16 only (Ampere and newer): emulated bf16 on a T4 or V100 is far slower than fp16.
    return torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float16


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


def split_on_oom(forward: Callable[[Sequence[T]], R], batch: Sequence[T]) -> R:
    """Run ``forward``; on CUDA out-of-memory free the cache, halve the batch and retry each half, joining the
    halves' arrays (or tensors, left on their device) in order."""
    try:
        return forward(batch)
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        if len(batch) == 1:
            raise DeviceOutOfMemoryError("input does not fit in accelerator memory") from None
        half = len(batch) // 2
        log.warning("CUDA out of memory on a batch of %d; splitting", len(batch))
        return _concatenate([split_on_oom(forward, batch[:half]), split_on_oom(forward, batch[half:])])


def _concatenate(parts: list[R]) -> R:
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    return torch.cat(parts)
