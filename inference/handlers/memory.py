"""The memory plan of a loaded model (core/memory_plan.py) from what torch knows: its config, dtype, weights and
the device memory left free once they are on the device.

Planned on CUDA only. On the CPU nothing is planned per pass: the worker plan (runtime/worker_plan.py) already
sized the workers by the host's memory, and workers read ``MemAvailable`` while others are still loading.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from ..core.memory_plan import current_share, plan_memory, shape_from_config
from .loading import LoadedModel

log = logging.getLogger(__name__)


def model_bytes(model: Any) -> int:
    """Bytes of the model's parameters and buffers."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def plan_forward_tokens(loaded: LoadedModel, max_length: int, reserve: int = 0, logits: bool = False) -> int | None:
    """Padded tokens one forward pass may hold on ``loaded``'s CUDA device, for sequences of up to ``max_length``
    tokens (``reserve``: bytes a pass holds besides the model's activations, e.g. a SPLADE pass's logits;
    ``logits``: the forward keeps logits over the vocabulary for every token). None on the CPU, or where the
    config does not say the model's shape. ``ContextTooLongError`` (the model stays unloaded) when not even one
    ``max_length`` sequence fits in what is free."""
    if loaded.device.type != "cuda":
        return None
    itemsize = torch.empty((), dtype=loaded.dtype).element_size()
    shape = shape_from_config(loaded.config.to_dict(), itemsize, logits)
    if shape is None:
        log.warning("memory plan: the model's config names no hidden size, layers or heads; EMB_MAX_BATCH_TOKENS "
                    "is used as set")  # fmt: skip
        return None
    share = current_share()
    if share.models > 1:
        torch.cuda.empty_cache()  # the set's models loaded before this one keep no cached blocks out of the count
    free, _total = torch.cuda.mem_get_info(loaded.device)
    plan = plan_memory(shape, model_bytes=model_bytes(loaded.model), free_bytes=int(free), width=max_length,
                       reserve=reserve, share=share)  # fmt: skip
    log.info("memory plan: %s", plan.describe())
    return plan.tokens
