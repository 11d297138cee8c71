"""Pooling over token embeddings in numpy, as sentence-transformers defines it, for handlers that run without torch
(the ONNX Runtime text handler, onnx_text.py); ``pooling.py`` is the torch twin and shares ``POOLING_MODES``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

POOLING_MODES = ("mean", "cls", "max", "lasttoken", "mean_sqrt_len")


def _sums(hidden: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    weights = mask[:, :, None].astype(hidden.dtype)
    return (hidden * weights).sum(axis=1), np.maximum(weights.sum(axis=1), 1e-9)


def _mean(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    summed, count = _sums(hidden, mask)
    out: np.ndarray = summed / count
    return out


def _mean_sqrt_len(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    summed, count = _sums(hidden, mask)
    out: np.ndarray = summed / np.sqrt(count)
    return out


def _cls(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return hidden[:, 0]


def _max(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    masked = np.where(mask[:, :, None].astype(bool), hidden, np.finfo(hidden.dtype).min)
    out: np.ndarray = masked.max(axis=1)
    return out


def _last_token(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Last non-padding token; assumes right padding, as the batcher pads."""
    last = mask.sum(axis=1).astype(np.int64) - 1
    out: np.ndarray = hidden[np.arange(hidden.shape[0]), last]
    return out


POOLERS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "mean": _mean,
    "mean_sqrt_len": _mean_sqrt_len,
    "cls": _cls,
    "max": _max,
    "lasttoken": _last_token,
}


def pool_numpy(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """Pool ``hidden`` (batch, seq, dim) with ``mask`` (batch, seq) in float32."""
    return np.ascontiguousarray(POOLERS[mode](hidden.astype(np.float32, copy=False), mask), dtype=np.float32)
