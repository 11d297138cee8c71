"""Pooling functions over token embeddings, as sentence-transformers defines them."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .pooling_numpy import POOLING_MODES


def _mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * weights).sum(dim=1)
    return summed / weights.sum(dim=1).clamp(min=1e-9)


def _mean_sqrt_len(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9).sqrt()


def _cls(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return hidden[:, 0]


def _max(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    masked = hidden.masked_fill(~mask.bool().unsqueeze(-1), torch.finfo(hidden.dtype).min)
    return masked.max(dim=1).values


def _last_token(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Last non-padding token; assumes right padding, as the batcher pads."""
    last = mask.sum(dim=1).long() - 1
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


POOLERS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "mean": _mean,
    "mean_sqrt_len": _mean_sqrt_len,
    "cls": _cls,
    "max": _max,
    "lasttoken": _last_token,
}


def pool(hidden: torch.Tensor, mask: torch.Tensor, mode: str) -> torch.Tensor:
    """Pool ``hidden`` (batch, seq, dim) with ``mask`` (batch, seq) in float32."""
    return POOLERS[mode](hidden.float(), mask)


__all__ = ["POOLERS", "POOLING_MODES", "pool"]
