"""The Hugging Face load sequence every handler uses (the one writer of it): safetensors only, device and
dtype from the settings, remote code only when allowed, the model in eval mode on its device."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer
from transformers.utils import logging as hf_logging

from .. import metrics
from ..settings import Settings
from .device import limit_cpu_threads, pick_device, pick_dtype
from .tokenization import require_safetensors

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    config: Any
    tokenizer: Any
    model: Any  # a transformers PreTrainedModel (typed loosely upstream)
    device: torch.device
    dtype: torch.dtype


def load_hf_model(folder: Path, settings: Settings, auto_class: Any = AutoModel,
                  attach: Callable[[Any, torch.device], Any] | None = None) -> LoadedModel:  # fmt: skip
    """Config, tokenizer and weights from ``folder`` (``auto_class``: which transformers Auto class builds the
    model, e.g. ``AutoModelForSequenceClassification`` for rerankers); ``ModelFolderError`` without safetensors.
    ``attach`` wraps the loaded model (on its device, in eval mode), e.g. in its PEFT task adapters (lora.py); such
    a model is not compiled: its per-row adapter hooks change with every call."""
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # untyped in transformers
    require_safetensors(folder)
    device = pick_device(settings.device, settings.gpu_fallback)
    limit_cpu_threads(device, settings.torch_threads)
    dtype = pick_dtype(settings.dtype, device)
    trust = settings.trust_remote_code
    config = AutoConfig.from_pretrained(folder, trust_remote_code=trust)
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust)
    model = auto_class.from_pretrained(
        folder, config=config, dtype=dtype, use_safetensors=True, trust_remote_code=trust
    )
    model = model.to(device).eval()
    if attach is not None:
        model = attach(model, device)
    if device.type == "cuda":
        metrics.set_refresher("gpu", lambda: _gpu_memory(device))
    log.info("attention: %s", getattr(model.config, "_attn_implementation", "unknown"))
    if settings.compile != "off" and attach is not None:
        log.warning("EMB_COMPILE=%s ignored: a model with task adapters runs eagerly", settings.compile)
    elif settings.compile != "off":
        # dynamic: batch size and length vary per request; the module's own methods (CLIP's get_*_features)
        # still run eagerly, only its forward is compiled.
        model = torch.compile(model, mode=None if settings.compile == "default" else settings.compile, dynamic=True)
    return LoadedModel(config, tokenizer, model, device, dtype)


def _gpu_memory(device: torch.device) -> None:
    """``embed_gpu_memory_bytes``: what this process's PyTorch holds on ``device`` (no synchronisation)."""
    metrics.GPU_MEMORY.labels(device=str(device), kind="allocated").set(torch.cuda.memory_allocated(device))
    metrics.GPU_MEMORY.labels(device=str(device), kind="reserved").set(torch.cuda.memory_reserved(device))
