"""Text encoder handler on ONNX Runtime, without torch or transformers: what a CPU worker runs when the model ships a
verified ONNX package (onnx_package.py) and ``EMB_CPU_BACKEND`` is ``auto`` or ``onnx``.

It answers as ``TextEmbeddingHandler`` does (the same tokenizer, length, pooling, prompts and length buckets, and
the same vectors to 1e-5), and it starts in a fraction of the time: importing torch and transformers and building
the torch model were most of a cold start (docs/performance/startup.md). Anything the package cannot serve
(task adapters, a GPU, ``EMB_COMPILE``, another dtype, an unknown family) goes to the torch handler.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from ..core.types import ModelInfo
from ..gpu_host import visible_gpus
from ..model_dir import default_model_name
from ..settings import Settings
from .buckets import cpu_buckets
from .handler_base import WARMUP_TEXTS, LoadedHandler
from .onnx_package import OnnxPackage, find_package
from .onnx_session import OnnxSession
from .pooling_numpy import pool_numpy
from .prompted_text import PromptedTextTokens
from .st_config import STConfig, read_st_config
from .text_tokenizer import HFTextTokenizer
from .tokenization import FastTokenizers

log = logging.getLogger(__name__)

# Built-in encoder families (config.json's model_type) the export covers: BERT and XLM-R are tested; the rest share
# their graph, and every export is checked against torch on a probe batch.
FAMILIES = frozenset({"bert", "xlm-roberta", "roberta", "camembert", "mpnet", "distilbert", "electra"})
# `EMB_CPU_BACKEND=auto` serves a package only for models of at most this many tokens: the exported attention
# materialises every score (memory ~ length^2), where torch's SDPA does not, so long-context models stay on torch
# unless EMB_CPU_BACKEND=onnx asks.
AUTO_MAX_LENGTH = 512


def _threads(settings: Settings) -> int:
    if settings.torch_threads:
        return settings.torch_threads
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _on_cpu(settings: Settings) -> bool:
    """Whether this worker computes on the CPU, decided without torch: asked for, or ``auto`` with no NVIDIA GPU."""
    if settings.device == "cpu":
        return True
    return settings.device == "auto" and not visible_gpus()


def has_task_adapters(folder: Path, st: STConfig) -> bool:
    """Whether the folder carries PEFT task adapters (lora.py finds and checks them; served on torch)."""
    return (folder / "adapters").is_dir() or (st.transformer_dir / "adapters").is_dir()


def _why_torch(folder: Path, st: STConfig, settings: Settings) -> str | None:
    """Why the settings or the folder need the torch handler whatever packages exist; None when none does."""
    if settings.cpu_backend not in ("auto", "onnx"):
        return f"EMB_CPU_BACKEND={settings.cpu_backend}"
    if not _on_cpu(settings):
        return f"EMB_DEVICE={settings.device} on a host with a GPU"
    if settings.compile != "off":
        return f"EMB_COMPILE={settings.compile}"
    if settings.dtype not in ("auto", "float32"):
        return f"EMB_DTYPE={settings.dtype}"
    if has_task_adapters(folder, st):
        return "task adapters"
    return None


def package_to_serve(folder: Path, settings: Settings) -> OnnxPackage | None:
    """The ONNX package this worker serves ``folder`` with, or None: the torch handler serves (logged why)."""
    st = read_st_config(folder)
    why = _why_torch(folder, st, settings)
    package = None if why else find_package(st.transformer_dir, settings)
    if why is None and package is None:
        why = "no ONNX package exported for this model (embed-serve export-onnx)"
    elif package is not None:
        length = min(package.max_length, settings.max_length or package.max_length)
        if package.model_type not in FAMILIES:
            why = f"family {package.model_type!r}"
        elif settings.cpu_backend == "auto" and length > AUTO_MAX_LENGTH:
            why = f"EMB_CPU_BACKEND=auto and {length} tokens per input (over {AUTO_MAX_LENGTH})"
    if why is not None:
        if settings.cpu_backend != "torch":
            log.info("ONNX Runtime text handler not used for %s: %s; torch serves", folder, why)
        return None
    return package


class OnnxTextEmbeddingHandler(PromptedTextTokens, LoadedHandler):
    """``EmbeddingHandler`` of a text encoder's ONNX package (no task adapters: one task per batch)."""

    mixes_tasks = False

    def __init__(self, folder: Path, settings: Settings, package: OnnxPackage | None = None) -> None:
        st = read_st_config(folder)
        package = package or find_package(st.transformer_dir, settings)
        if package is None:
            raise FileNotFoundError(f"{folder}: no ONNX package (embed-serve export-onnx {folder})")
        max_length = min(package.max_length, settings.max_length or package.max_length)
        tokenizer = Tokenizer.from_file(str(package.tokenizer_path))
        self._st = st
        self._tokens = FastTokenizers.from_rust(tokenizer, package.special_ids, package.pad_id, max_length)
        self._prompts = {**_task_instructions(st.transformer_dir), **st.prompts}
        self._text_tokenizer = HFTextTokenizer.from_rust(self._tokens.full, package.special_ids, self._prompts)
        self._session = OnnxSession(package.model_path, _threads(settings))
        self._info = ModelInfo(
            name=default_model_name(settings, folder), dimensions=package.dimensions, max_length=max_length,
            pooling=st.pooling, tasks=tuple(self._prompts), device="cpu", dtype="float32", backend="onnx",
        )  # fmt: skip
        log.info("loaded text model %s from the ONNX package %s (%d threads)", self._info, package.folder,
                 self._session.threads)  # fmt: skip

    def _padded(self, batch: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
        width = max(len(ids) for ids in batch)
        input_ids = np.full((len(batch), width), self._tokens.pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        return input_ids, mask

    def _pooled(self, batch: Sequence[Sequence[int]]) -> np.ndarray:
        input_ids, mask = self._padded(batch)
        return pool_numpy(self._session.hidden(input_ids, mask), mask, self._info.pooling)

    def forward(self, batch: Sequence[Sequence[int]], task: str | None) -> np.ndarray:
        """Pooled embeddings, in the torch handler's CPU length buckets."""
        if len(batch) <= 1:
            return self._pooled(batch)
        buckets = cpu_buckets([len(ids) for ids in batch], self._session.threads)
        if len(buckets) == 1:
            return self._pooled(batch)
        out = np.empty((len(batch), self._info.dimensions), dtype=np.float32)
        for bucket in buckets:
            out[bucket] = self._pooled([batch[i] for i in bucket])
        return out

    def forward_tokens(self, ids: Sequence[int], task: str | None) -> np.ndarray:
        input_ids, mask = self._padded([ids])
        return np.ascontiguousarray(self._session.hidden(input_ids, mask)[0], dtype=np.float32)

    def warmup(self) -> None:
        self.forward(self.tokenize(WARMUP_TEXTS, None, True), None)


def _task_instructions(transformer_dir: Path) -> dict[str, str]:
    """config.json's ``task_instructions`` (jina-embeddings-v3 style prompts), as the torch handler reads them."""
    try:
        data = json.loads((transformer_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    found = data.get("task_instructions") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}
