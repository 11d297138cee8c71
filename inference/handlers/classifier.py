"""Sequence classifier handler: ``*ForSequenceClassification`` folders with several labels (``info.kind ==
CLASSIFY``; one-label folders are cross-encoders, rerank.py).

An input is one text or a text pair, tokenised by the model's own Rust tokenizer with its special tokens (a pair
with its pair template), as ``transformers``' text-classification pipeline tokenises ``text`` / ``text_pair``.
``truncate=True`` cuts at the model's max length as Hugging Face's ``truncation=True`` does (``longest_first``
for pairs, special tokens kept); ``truncate=False`` refuses an over-long input (``InvalidInputError``).

Scores are the pipeline's with ``top_k=None``: the activation of each input's logits by the folder's
``problem_type``: sigmoid for ``multi_label_classification``, none for ``regression``, else softmax (single-label
classification, or no problem type with several labels). Labels come from ``config.json``'s ``id2label``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForSequenceClassification

from ..core.types import CLASSIFY, ModelInfo, PairIds
from ..errors import InvalidInputError
from ..model_dir import default_model_name
from ..settings import Settings
from .device import dtype_name, padded_batch, split_on_oom
from .handler_base import LoadedHandler
from .loading import load_hf_model
from .memory import plan_forward_tokens
from .st_config import ModelFolderError, read_st_config
from .text_tokenizer import HFTextTokenizer
from .tokenization import model_max_length, uncut_tokenizer

log = logging.getLogger(__name__)

WARMUP_INPUTS: tuple[str | tuple[str, str], ...] = ("warm-up", ("a text", "and a slightly longer second text"))
SIGMOID, SOFTMAX, NONE = "sigmoid", "softmax", "none"


def activation_name(problem_type: str | None) -> str:
    """The text-classification pipeline's default function for a model of several labels and ``problem_type``."""
    if problem_type == "regression":
        return NONE
    return SIGMOID if problem_type == "multi_label_classification" else SOFTMAX


def activate(logits: np.ndarray, name: str) -> np.ndarray:
    """``name``'s function of each row of ``logits`` (float64 inside, float32 out)."""
    values = np.asarray(logits, dtype=np.float64)
    if name == SIGMOID:
        values = 1.0 / (1.0 + np.exp(-values))
    elif name == SOFTMAX:
        shifted = np.exp(values - values.max(axis=-1, keepdims=True))
        values = shifted / shifted.sum(axis=-1, keepdims=True)
    return values.astype(np.float32)


def model_labels(config: Any) -> tuple[str, ...]:
    """The label of each output, by index (``id2label``; transformers fills ``LABEL_i`` when it is missing)."""
    count = int(getattr(config, "num_labels", 0) or 0)
    names = {int(key): str(value) for key, value in (getattr(config, "id2label", None) or {}).items()}
    return tuple(names.get(index, f"LABEL_{index}") for index in range(count))


class SequenceClassifierHandler(LoadedHandler):
    """``ClassifierHandler`` for Hugging Face sequence classifiers with two labels or more."""

    def __init__(self, folder: Path, settings: Settings) -> None:
        st = read_st_config(folder)
        raw = json.loads((st.transformer_dir / "config.json").read_text(encoding="utf-8"))
        source = (raw.get("auto_map") or {}).get("AutoModelForSequenceClassification")
        if source and not settings.trust_remote_code:
            raise ModelFolderError(f"{folder} holds a classifier that runs only with its own Python code ({source}); "
                                   "set EMB_TRUST_REMOTE_CODE=true to allow it")  # fmt: skip
        loaded = load_hf_model(st.transformer_dir, settings, AutoModelForSequenceClassification)
        config, tokenizer = loaded.config, loaded.tokenizer
        labels = model_labels(config)
        if len(labels) < 2:
            raise ModelFolderError(f"a classifier needs two labels or more; {folder} has {len(labels)}")
        self._model, self._device = loaded.model, loaded.device
        max_length = model_max_length(config, tokenizer.model_max_length, st.max_seq_length)
        if settings.max_length:
            max_length = min(max_length, settings.max_length)
        self._types = "token_type_ids" in tokenizer.model_input_names
        self._pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self._full = uncut_tokenizer(tokenizer, "classifier")
        self._cut = Tokenizer.from_str(self._full.to_str())
        self._cut.enable_truncation(max_length)  # longest_first for pairs, special tokens kept (as HF's)
        self._text_tokenizer = HFTextTokenizer(tokenizer, {})
        self._activation = activation_name(getattr(config, "problem_type", None))
        self._info = ModelInfo(
            name=default_model_name(settings, folder),
            dimensions=len(labels),
            max_length=max_length,
            pooling="none",
            late_chunking=False,
            device=str(self._device),
            dtype=dtype_name(loaded.dtype),
            max_forward_tokens=plan_forward_tokens(loaded, max_length),
            kind=CLASSIFY,
            labels=labels,
        )
        log.info("loaded classifier %s (activation %s)", self._info, self._activation)

    @property
    def activation_name(self) -> str:
        return self._activation

    def tokenize(self, inputs: Sequence[str | tuple[str, str]], truncate: bool) -> list[PairIds]:
        if not inputs:
            return []
        tokenizer = self._cut if truncate else self._full
        encodings = tokenizer.encode_batch(list(inputs), add_special_tokens=True)
        out = []
        for index, encoding in enumerate(encodings):
            if len(encoding.ids) > self._info.max_length:
                raise InvalidInputError(
                    f"inputs[{index}] has {len(encoding.ids)} tokens, more than the model's maximum of "
                    f"{self._info.max_length}; shorten it or send truncate=true",
                    param=f"inputs[{index}]",
                )
            out.append(PairIds(list(encoding.ids), list(encoding.type_ids) if self._types else None))
        return out

    def _logits(self, batch: Sequence[PairIds]) -> torch.Tensor:
        input_ids, mask = padded_batch([item.ids for item in batch], self._pad_id, self._device)
        inputs = {"input_ids": input_ids, "attention_mask": mask}
        if self._types:
            types, _ = padded_batch([item.types or [] for item in batch], 0, self._device, input_ids.shape[1])
            inputs["token_type_ids"] = types
        logits: torch.Tensor = self._model(**inputs).logits.float()
        return logits

    @torch.inference_mode()
    def logits(self, batch: Sequence[PairIds]) -> np.ndarray:
        logits: torch.Tensor = split_on_oom(self._logits, batch)
        return logits.cpu().numpy().astype(np.float32).reshape(len(batch), len(self._info.labels))

    def activation(self, logits: np.ndarray) -> np.ndarray:
        return activate(logits, self._activation)

    def warmup(self) -> None:
        self.logits(self.tokenize(WARMUP_INPUTS, True))
