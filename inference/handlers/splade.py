"""SPLADE handler: sparse vectors over the vocabulary from a ``*ForMaskedLM`` model (``info.kind == SPARSE``).

Computed as sentence-transformers' ``SparseEncoder`` (MLMTransformer + SpladePooling) computes them, the
reference: the MLM logits of every token, padding masked to zero, ``log(1 + relu(x))`` (``log1p_relu``: a
second ``log1p``), pooled over the tokens by ``max`` (SPLADE v2 and later) or ``sum``, then, when the folder sets
``max_active_dims``, only the largest N values of each vector kept. Each vector leaves the device as its nonzero
entries only (``SPARSE_ENTRY`` records, ascending index).

Memory: the logits of one pass are ``tokens x vocabulary`` floats (30522 x 512 tokens is 62 MB), so a pass holds
at most ``LOGIT_BYTES`` of them; longer batches run as several passes (each halved again on CUDA out-of-memory).
Texts are tokenised by the model's Rust tokenizer with its special tokens, after the named prompt (or the
folder's default prompt); ``truncate=False`` refuses an over-long text (``InvalidInputError``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForMaskedLM

from ..core.padding import split_by_padding
from ..core.protocol import SPARSE_ENTRY
from ..core.types import SPARSE, ModelInfo
from ..errors import InvalidInputError
from ..model_dir import default_model_name
from ..settings import Settings
from .buckets import CPU_MAX_PADDING, CPU_PADDING_ALLOWANCE_PER_THREAD, GPU_MAX_PADDING, GPU_PADDING_ALLOWANCE
from .device import dtype_name, padded_batch, split_on_oom
from .handler_base import WARMUP_TEXTS, LoadedHandler
from .loading import load_hf_model
from .memory import plan_forward_tokens
from .splade_folder import SpladeConfig, read_splade_config
from .text_tokenizer import HFTextTokenizer
from .tokenization import FastTokenizers, model_max_length

log = logging.getLogger(__name__)

LOGIT_BYTES = 256 * 1024 * 1024  # float32 MLM logits one forward pass may hold (padded tokens x vocabulary)


class SpladeHandler(LoadedHandler):
    """``SparseHandler`` for sentence-transformers SPLADE folders (and bare ``*ForMaskedLM`` ones on request)."""

    def __init__(self, folder: Path, settings: Settings) -> None:
        self._config: SpladeConfig = read_splade_config(folder)
        loaded = load_hf_model(self._config.transformer_dir, settings, AutoModelForMaskedLM)
        config, tokenizer = loaded.config, loaded.tokenizer
        self._model, self._device = loaded.model, loaded.device
        max_length = model_max_length(config, tokenizer.model_max_length, self._config.max_seq_length)
        if settings.max_length:
            max_length = min(max_length, settings.max_length)
        self._tokens = FastTokenizers.from_hf(tokenizer, max_length)
        self._prompts = dict(self._config.prompts)
        self._text_tokenizer = HFTextTokenizer(tokenizer, self._prompts)
        self._vocab = int(config.vocab_size)
        self._info = ModelInfo(
            name=default_model_name(settings, folder),
            dimensions=self._vocab,
            max_length=max_length,
            pooling=f"splade_{self._config.pooling_strategy}",
            tasks=tuple(self._prompts),
            late_chunking=False,
            device=str(self._device),
            dtype=dtype_name(loaded.dtype),
            max_forward_tokens=plan_forward_tokens(loaded, max_length, reserve=3 * LOGIT_BYTES),
            kind=SPARSE,
        )
        log.info("loaded SPLADE model %s (%s)", self._info, self._config)

    @property
    def config(self) -> SpladeConfig:
        return self._config

    def tokenize(self, texts: Sequence[str], prompt_name: str | None, truncate: bool) -> list[list[int]]:
        if prompt_name is not None and prompt_name not in self._prompts:
            known = ", ".join(repr(name) for name in self._prompts) or "none"
            raise InvalidInputError(f"unknown prompt_name {prompt_name!r}; the model's prompts: {known}",
                                    param="prompt_name")  # fmt: skip
        prompt = self._prompts.get(prompt_name or self._config.default_prompt_name or "", "")
        sequences = self._tokens.encode([prompt + text for text in texts] if prompt else list(texts), truncate)
        for index, ids in enumerate(sequences):
            if len(ids) > self._info.max_length:
                raise InvalidInputError(
                    f"inputs[{index}] has {len(ids)} tokens, more than the model's maximum of "
                    f"{self._info.max_length}; shorten it or send truncate=true",
                    param=f"inputs[{index}]",
                )
        return sequences

    def _pooled(self, batch: Sequence[Sequence[int]]) -> torch.Tensor:
        """One padded pass: ``(len(batch), vocabulary)`` pooled SPLADE values, left on the device."""
        input_ids, mask = padded_batch(batch, self._tokens.pad_id, self._device)
        values = self._model(input_ids=input_ids, attention_mask=mask).logits.float()
        values = values.mul_(mask.unsqueeze(-1).to(values.dtype)).relu_().log1p_()
        if self._config.activation == "log1p_relu":
            values = values.log1p_()
        pooled: torch.Tensor = values.amax(dim=1) if self._config.pooling_strategy == "max" else values.sum(dim=1)
        active = self._config.max_active_dims
        if active is not None and active < pooled.shape[1]:
            top = pooled.topk(active, dim=1)
            pooled = torch.zeros_like(pooled).scatter_(1, top.indices, top.values)
        return pooled

    def _passes(self, lengths: list[int]) -> list[list[int]]:
        """Length buckets (as text.py's), each cut so that one pass's logits stay within ``LOGIT_BYTES``."""
        if len(lengths) <= 1:
            buckets = [list(range(len(lengths)))]
        elif self._device.type == "cpu":
            allowance = CPU_PADDING_ALLOWANCE_PER_THREAD * torch.get_num_threads()
            buckets = split_by_padding(lengths, CPU_MAX_PADDING, allowance)
        else:
            buckets = split_by_padding(lengths, GPU_MAX_PADDING, GPU_PADDING_ALLOWANCE)
        most_tokens = max(1, LOGIT_BYTES // (self._vocab * 4))
        passes: list[list[int]] = []
        for bucket in buckets:
            width = max(lengths[i] for i in bucket)
            step = max(1, most_tokens // max(width, 1))
            passes += [bucket[start:start + step] for start in range(0, len(bucket), step)]
        return passes

    @torch.inference_mode()
    def forward(self, batch: Sequence[Sequence[int]]) -> list[np.ndarray]:
        out: list[np.ndarray] = [np.empty(0, dtype=SPARSE_ENTRY)] * len(batch)
        for positions in self._passes([len(ids) for ids in batch]):
            pooled = split_on_oom(self._pooled, [batch[i] for i in positions])
            rows, cols = pooled.nonzero(as_tuple=True)  # row-major: each row's indices ascending
            values = pooled[rows, cols].cpu().numpy()
            counts = torch.bincount(rows, minlength=len(positions)).cpu().numpy()
            cols_host = cols.cpu().numpy()
            start = 0
            for position, count in zip(positions, counts.tolist(), strict=True):
                entries = np.empty(count, dtype=SPARSE_ENTRY)
                entries["index"] = cols_host[start:start + count]
                entries["value"] = values[start:start + count]
                out[position] = entries
                start += count
        return out

    def warmup(self) -> None:
        self.forward(self.tokenize(WARMUP_TEXTS, None, True))
