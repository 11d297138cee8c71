"""Text encoder handler for any Hugging Face encoder folder (BERT, XLM-RoBERTa, MPNet, ...).

Reads sentence-transformers metadata when present (pooling, max_seq_length, prompts), loads
safetensors weights only, and runs padded, length-sorted micro-batches under ``inference_mode``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..core.task_rows import row_task
from ..core.types import ModelInfo
from ..model_dir import default_model_name
from ..settings import Settings
from .buckets import cpu_buckets, gpu_buckets
from .device import dtype_name, padded_batch, split_on_oom
from .handler_base import WARMUP_TEXTS, LoadedHandler
from .loading import load_hf_model
from .lora import BASE, attach_adapters, find_adapters
from .memory import plan_forward_tokens
from .onnx_backend import open_encoder
from .pooling import pool
from .prompted_text import PromptedTextTokens
from .st_config import read_st_config
from .text_tokenizer import HFTextTokenizer
from .tokenization import FastTokenizers, model_max_length

log = logging.getLogger(__name__)



class TextEmbeddingHandler(PromptedTextTokens, LoadedHandler):
    """``EmbeddingHandler`` for Hugging Face text encoders."""

    def __init__(self, folder: Path, settings: Settings) -> None:
        st = read_st_config(folder)
        # PEFT task LoRA adapters (lora.py): attached unmerged, chosen per row, so one batch mixes tasks.
        lora = find_adapters(folder)
        self._lora = tuple(lora)
        attach = (lambda model, device: attach_adapters(model, lora, device)) if lora else None
        self.mixes_tasks = bool(self._lora)
        loaded = load_hf_model(st.transformer_dir, settings, attach=attach)
        config, hf_tokenizer, dtype = loaded.config, loaded.tokenizer, loaded.dtype
        self._model, self._device = loaded.model, loaded.device
        own_max = model_max_length(config, hf_tokenizer.model_max_length, st.max_seq_length)
        max_length = min(own_max, settings.max_length or own_max)
        self._st = st
        self._tokens = FastTokenizers.from_hf(hf_tokenizer, max_length)
        # jina-embeddings-v3 style: task LoRA adapters (selected by index) and per-task instructions.
        self._adapters = tuple(getattr(config, "lora_adaptations", None) or ())
        self._prompts = {**(getattr(config, "task_instructions", None) or {}), **st.prompts}
        self._text_tokenizer = HFTextTokenizer(hf_tokenizer, self._prompts)
        self._info = ModelInfo(
            name=default_model_name(settings, folder),
            dimensions=int(config.hidden_size),
            max_length=max_length,
            pooling=st.pooling,
            tasks=tuple(dict.fromkeys([*self._adapters, *self._lora, *self._prompts])),
            device=str(self._device),
            dtype=dtype_name(dtype),
            max_forward_tokens=plan_forward_tokens(loaded, max_length),
        )
        # EMB_CPU_BACKEND (onnx_backend.py): ONNX Runtime runs the encoder; the torch weights are then let go.
        self._onnx = open_encoder(loaded, st.transformer_dir, settings, bool(lora), own_max)
        if self._onnx is not None:
            self._model = None
            self._info = replace(self._info, backend=settings.cpu_backend)
        log.info("loaded text model %s", self._info)

    def _hidden(self, batch: Sequence[Sequence[int]], task: str | None) -> tuple[torch.Tensor, torch.Tensor]:
        input_ids, mask = padded_batch(batch, self._tokens.pad_id, self._device)
        if self._onnx is not None:  # no task adapters (open_encoder)
            return self._onnx.hidden(input_ids, mask), mask
        extra: dict[str, object] = {}
        if task in self._adapters:
            index = self._adapters.index(task)
            extra["adapter_mask"] = torch.full((len(batch),), index, dtype=torch.int32, device=self._device)
        elif self._lora:  # each row's own task (TaskRow) or the batch's; no adapter task: the base weights
            names = (row_task(ids, task) for ids in batch)
            extra["adapter_names"] = [name if name in self._lora else BASE for name in names]
        output = self._model(input_ids=input_ids, attention_mask=mask, **extra)
        return output[0], mask

    def _pooled(self, batch: Sequence[Sequence[int]], task: str | None) -> torch.Tensor:
        """One padded forward pass, pooled, left on the device; on CUDA out-of-memory the batch is halved and
        retried (``split_on_oom``). Call under ``torch.inference_mode``."""
        return split_on_oom(lambda part: pool(*self._hidden(part, task), self._info.pooling), batch)

    def _buckets(self, lengths: list[int]) -> list[list[int]]:
        if self._device.type == "cpu":
            return cpu_buckets(lengths, torch.get_num_threads())
        return gpu_buckets(lengths)

    @torch.inference_mode()
    def forward(self, batch: Sequence[Sequence[int]], task: str | None) -> np.ndarray:
        """Pooled embeddings, in length buckets; every pass (each bucket too) goes through ``_pooled``.

        On CUDA every bucket is queued before anything is copied back: the host pads and pins the next bucket
        while the GPU computes the last (inputs go to the device with non-blocking copies), and the vectors come
        back in one device-to-host copy at the end instead of one synchronising copy per bucket.
        """
        buckets = self._buckets([len(ids) for ids in batch]) if len(batch) > 1 else [list(range(len(batch)))]
        if len(buckets) == 1:
            return self._pooled(batch, task).cpu().numpy()
        parts = [(bucket, self._pooled([batch[i] for i in bucket], task)) for bucket in buckets]
        out = parts[0][1].new_empty((len(batch), parts[0][1].shape[1]))
        for bucket, vectors in parts:
            out[torch.as_tensor(bucket, device=out.device)] = vectors
        return out.cpu().numpy()

    def forward_tokens(self, ids: Sequence[int], task: str | None) -> np.ndarray:
        """Token vectors of one sequence (late chunking); out-of-memory on it is ``DeviceOutOfMemoryError``."""

        def run(one: Sequence[Sequence[int]]) -> np.ndarray:
            with torch.inference_mode():
                hidden, _ = self._hidden(one, task)
                return hidden.float().cpu().numpy()

        vectors: np.ndarray = split_on_oom(run, [ids])[0]
        return vectors

    def warmup(self) -> None:
        self.forward(self.tokenize(WARMUP_TEXTS, None, True), None)
