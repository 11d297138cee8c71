"""Cross-encoder reranker handler: ``*ForSequenceClassification`` folders with one label (Hugging Face,
sentence-transformers CrossEncoder, Jina's remote-code rerankers with ``EMB_TRUST_REMOTE_CODE=true``).

Query and document make one pair (``pair_tokens``: the query tokenised once per request, a long text only as far
as the max length needs, cut as ``CrossEncoder.predict`` cuts a pair). The score is what
sentence-transformers' ``CrossEncoder.predict`` returns: the activation of the one logit (sigmoid by default,
or the activation the folder's config names), raw logits on request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification

from ..core.types import RERANK, ModelInfo, PairIds
from ..model_dir import default_model_name
from ..settings import Settings
from .device import dtype_name, padded_batch, split_on_oom
from .handler_base import LoadedHandler
from .loading import load_hf_model
from .memory import plan_forward_tokens
from .pair_tokens import PairTokenizer
from .st_config import ModelFolderError, read_st_config
from .text_tokenizer import HFTextTokenizer
from .tokenization import model_max_length

log = logging.getLogger(__name__)

WARMUP_PAIRS = ("warm-up query", ("a document", "a slightly longer document for the warm-up pass"))


def _activation_name(raw: dict[str, Any]) -> str:
    """``sigmoid`` or ``identity``: the folder's declared CrossEncoder activation, else sigmoid (one label)."""
    declared = (raw.get("sentence_transformers") or {}).get("activation_fn") or raw.get(
        "sbert_ce_default_activation_function"
    )
    if declared:
        return "identity" if declared.rsplit(".", 1)[-1] == "Identity" else "sigmoid"
    return "sigmoid"


def _require_trust_for_remote_code(folder: Path, raw: dict[str, Any], settings: Settings) -> None:
    """A folder whose ``auto_map`` names its own classifier (Jina's rerankers) runs only with that code: refuse
    before transformers is asked, naming the setting (transformers' own message names its argument instead)."""
    source = (raw.get("auto_map") or {}).get("AutoModelForSequenceClassification")
    if source and not settings.trust_remote_code:
        raise ModelFolderError(
            f"{folder} holds a reranker that runs only with its own Python code (config.json auto_map "
            f"AutoModelForSequenceClassification -> {source}); set EMB_TRUST_REMOTE_CODE=true to allow it"
        )


class CrossEncoderHandler(LoadedHandler):
    """``RerankHandler`` for sequence-classification cross-encoders with one output label."""

    def __init__(self, folder: Path, settings: Settings) -> None:
        st = read_st_config(folder)
        raw = json.loads((st.transformer_dir / "config.json").read_text(encoding="utf-8"))
        _require_trust_for_remote_code(st.transformer_dir, raw, settings)
        loaded = load_hf_model(st.transformer_dir, settings, AutoModelForSequenceClassification)
        config, tokenizer = loaded.config, loaded.tokenizer
        if int(getattr(config, "num_labels", 1)) != 1:
            raise ModelFolderError(f"a reranker needs one output label; {folder} has {config.num_labels}")
        self._model, self._device, self._tokenizer = loaded.model, loaded.device, tokenizer
        max_length = model_max_length(config, tokenizer.model_max_length, st.max_seq_length)
        if settings.max_length:
            max_length = min(max_length, settings.max_length)
        self._types = "token_type_ids" in tokenizer.model_input_names
        self._pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self._pairs = PairTokenizer.from_hf(tokenizer, max_length, self._types)
        self._text_tokenizer = HFTextTokenizer(tokenizer, {})
        self._activation = _activation_name(raw)
        self._info = ModelInfo(
            name=default_model_name(settings, folder),
            dimensions=1,
            max_length=max_length,
            pooling="none",
            late_chunking=False,
            device=str(self._device),
            dtype=dtype_name(loaded.dtype),
            max_forward_tokens=plan_forward_tokens(loaded, max_length),
            kind=RERANK,
        )
        log.info("loaded reranker %s (activation %s)", self._info, self._activation)

    def tokenize_pairs(self, query: str, documents: Sequence[str], truncate: bool) -> list[PairIds]:
        return self._pairs.pairs(query, documents, truncate)

    def _logits(self, batch: Sequence[PairIds]) -> torch.Tensor:
        input_ids, mask = padded_batch([pair.ids for pair in batch], self._pad_id, self._device)
        inputs = {"input_ids": input_ids, "attention_mask": mask}
        if self._types:
            types, _ = padded_batch([pair.types or [] for pair in batch], 0, self._device, input_ids.shape[1])
            inputs["token_type_ids"] = types
        logits: torch.Tensor = self._model(**inputs).logits.float()
        return logits

    @torch.inference_mode()
    def score(self, batch: Sequence[PairIds]) -> np.ndarray:
        logits: torch.Tensor = split_on_oom(self._logits, batch)
        return logits.cpu().numpy().astype(np.float32).reshape(len(batch), 1)

    def activation(self, logits: np.ndarray) -> np.ndarray:
        if self._activation == "identity":
            return logits.astype(np.float32)
        return (1.0 / (1.0 + np.exp(-logits.astype(np.float64)))).astype(np.float32)

    def warmup(self) -> None:
        query, documents = WARMUP_PAIRS
        self.score(self.tokenize_pairs(query, documents, True))
