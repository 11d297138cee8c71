"""Text encoder handler for any Hugging Face encoder folder (BERT, XLM-RoBERTa, MPNet, ...).

Reads sentence-transformers metadata when present (pooling, max_seq_length, prompts), loads
safetensors weights only, and runs padded, length-sorted micro-batches under ``inference_mode``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import AutoConfig, AutoModel, AutoTokenizer
from transformers.utils import logging as hf_logging

from ..errors import DeviceOutOfMemoryError
from ..settings import Settings, default_model_name
from ..types import ModelInfo
from .device import dtype_name, pick_device, pick_dtype
from .pooling import pool
from .st_config import ModelFolderError, STConfig, read_st_config

log = logging.getLogger(__name__)

WARMUP_TEXTS = ("warm-up", "a slightly longer warm-up sentence for the model")


def _model_max_length(config: object, tokenizer_max: int, st_max: int | None) -> int:
    limits = [st_max] if st_max else []
    if 0 < tokenizer_max < 1_000_000:
        limits.append(tokenizer_max)
    positions = getattr(config, "max_position_embeddings", None)
    if positions:
        pad = getattr(config, "pad_token_id", None)
        # RoBERTa-style position ids start after padding_idx, which costs pad_token_id + 1 slots.
        offset = pad + 1 if getattr(config, "model_type", "") in {"roberta", "xlm-roberta", "camembert"} and pad else 0
        limits.append(positions - offset)
    return min(limits) if limits else 512


def _require_safetensors(folder: Path) -> None:
    if not any(folder.glob("*.safetensors")):
        raise ModelFolderError(f"{folder} has no *.safetensors weights (only safetensors are loaded)")


class TextEmbeddingHandler:
    """``EmbeddingHandler`` for Hugging Face text encoders."""

    def __init__(self, folder: Path, settings: Settings) -> None:
        hf_logging.disable_progress_bar()
        st = read_st_config(folder)
        _require_safetensors(st.transformer_dir)
        self._device = pick_device(settings.device)
        if self._device.type == "cpu" and settings.torch_threads:
            torch.set_num_threads(settings.torch_threads)
        dtype = pick_dtype(settings.dtype, self._device)
        trust = settings.trust_remote_code
        config = AutoConfig.from_pretrained(st.transformer_dir, trust_remote_code=trust)
        hf_tokenizer = AutoTokenizer.from_pretrained(st.transformer_dir, trust_remote_code=trust)
        self._model = AutoModel.from_pretrained(
            st.transformer_dir, config=config, dtype=dtype, use_safetensors=True, trust_remote_code=trust
        )
        self._model.to(self._device).eval()
        max_length = _model_max_length(config, hf_tokenizer.model_max_length, st.max_seq_length)
        if settings.max_length:
            max_length = min(max_length, settings.max_length)
        self._st = st
        self._pad_id = hf_tokenizer.pad_token_id if hf_tokenizer.pad_token_id is not None else 0
        self._tok_full, self._tok_cut = self._fast_tokenizers(hf_tokenizer, max_length)
        self._special_ids = frozenset(hf_tokenizer.all_special_ids)
        self._info = ModelInfo(
            name=default_model_name(settings, folder),
            dimensions=int(config.hidden_size),
            max_length=max_length,
            pooling=st.pooling,
            tasks=tuple(st.prompts),
            device=str(self._device),
            dtype=dtype_name(dtype),
        )
        log.info("loaded text model %s", self._info)

    @staticmethod
    def _fast_tokenizers(hf_tokenizer: object, max_length: int) -> tuple[Tokenizer, Tokenizer]:
        backend = getattr(hf_tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise ModelFolderError("the model has no fast (Rust) tokenizer; add tokenizer.json")
        full = Tokenizer.from_str(backend.to_str())
        full.no_truncation()
        full.no_padding()
        cut = Tokenizer.from_str(backend.to_str())
        cut.enable_truncation(max_length)
        cut.no_padding()
        return full, cut

    @classmethod
    def from_settings(cls, folder: Path, settings: Settings) -> TextEmbeddingHandler:
        return cls(folder, settings)

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def st_config(self) -> STConfig:
        return self._st

    def _with_prompt(self, texts: Sequence[str], task: str | None) -> list[str]:
        name = task if task in self._st.prompts else self._st.default_prompt_name
        prompt = self._st.prompts.get(name or "", "")
        return [prompt + text for text in texts] if prompt else list(texts)

    def tokenize(self, texts: Sequence[str], task: str | None, truncate: bool) -> list[list[int]]:
        tokenizer = self._tok_cut if truncate else self._tok_full
        encodings = tokenizer.encode_batch(self._with_prompt(texts, task))
        return [encoding.ids for encoding in encodings]

    def split_special(self, ids: Sequence[int]) -> tuple[list[int], list[int], list[int]]:
        ids = list(ids)
        start, end = 0, len(ids)
        while start < end and ids[start] in self._special_ids:
            start += 1
        while end > start and ids[end - 1] in self._special_ids:
            end -= 1
        return ids[:start], ids[start:end], ids[end:]

    def _hidden(self, batch: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = torch.as_tensor(ids, dtype=torch.long)
            mask[row, : len(ids)] = 1
        if self._device.type == "cuda":
            input_ids, mask = input_ids.pin_memory(), mask.pin_memory()
        input_ids = input_ids.to(self._device, non_blocking=True)
        mask = mask.to(self._device, non_blocking=True)
        output = self._model(input_ids=input_ids, attention_mask=mask)
        return output[0], mask

    def _forward_pooled(self, batch: Sequence[Sequence[int]]) -> np.ndarray:
        with torch.inference_mode():
            hidden, mask = self._hidden(batch)
            return pool(hidden, mask, self._info.pooling).cpu().numpy()

    def forward(self, batch: Sequence[Sequence[int]], task: str | None) -> np.ndarray:
        """Pooled embeddings; on CUDA out-of-memory the batch is halved and retried."""
        try:
            return self._forward_pooled(batch)
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            if len(batch) == 1:
                raise DeviceOutOfMemoryError("input does not fit in accelerator memory") from None
            half = len(batch) // 2
            log.warning("CUDA out of memory on a batch of %d; splitting", len(batch))
            return np.concatenate([self.forward(batch[:half], task), self.forward(batch[half:], task)])

    def forward_tokens(self, ids: Sequence[int], task: str | None) -> np.ndarray:
        with torch.inference_mode():
            hidden, _ = self._hidden([ids])
            return hidden[0].float().cpu().numpy()

    def warmup(self) -> None:
        self.forward(self.tokenize(WARMUP_TEXTS, None, True), None)
