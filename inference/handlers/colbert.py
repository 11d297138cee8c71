"""Late-interaction (ColBERT-style) handler: one vector per token, as Sentence Transformers 6's
``MultiVectorEncoder.encode_query`` / ``encode_document`` return them (the reference), for PyLate folders
(jina-colbert-v2) and Sentence Transformers' own multi-vector saves (colbert_folder.py reads both).

A query is its marker token, its text and expansion (mask) tokens up to the query length; with
``attend_to_expansion_tokens`` false the encoder does not attend to the expansion tokens, but their vectors are
returned with the others. A document is its marker and text, cut to the document length; padding and skip-list
tokens (punctuation) are not returned. Every vector is projected (the Dense modules), L2-normalised, and cut to
``truncate_dim`` and re-normalised when the folder sets one.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file

from ..core.padding import split_by_padding
from ..core.types import DOCUMENT, MULTIVECTOR, QUERY, ModelInfo
from ..model_dir import default_model_name
from ..settings import Settings
from .buckets import CPU_MAX_PADDING, CPU_PADDING_ALLOWANCE_PER_THREAD, GPU_MAX_PADDING, GPU_PADDING_ALLOWANCE
from .colbert_folder import DenseLayer, read_colbert_folder
from .colbert_tokens import ColbertTokens, lowercase_inputs, register_markers
from .device import dtype_name, padded_batch, split_on_oom
from .handler_base import WARMUP_TEXTS, LoadedHandler
from .loading import load_hf_model
from .memory import plan_forward_tokens
from .st_config import ModelFolderError
from .text_tokenizer import HFTextTokenizer
from .tokenization import model_max_length

log = logging.getLogger(__name__)

Item = tuple[Sequence[int], np.ndarray]  # one sequence's ids, and which of its positions' vectors are returned


def _activation(path: str) -> torch.nn.Module:
    """The activation a Dense config names (a ``torch.*`` class path, as the reference accepts without remote code)."""
    module_name, _, class_name = path.rpartition(".")
    try:
        activation = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as err:
        raise ModelFolderError(f"unknown Dense activation {path!r}") from err
    if not (isinstance(activation, type) and issubclass(activation, torch.nn.Module)):
        raise ModelFolderError(f"Dense activation {path!r} is not a torch.nn.Module class")
    module: torch.nn.Module = activation()
    return module


class Projection(torch.nn.Module):
    """One Dense module: ``activation(linear(x))``, plus the input (or its own projection of it) when residual."""

    def __init__(self, layer: DenseLayer) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(layer.in_features, layer.out_features, bias=layer.bias)
        self.activation_function = _activation(layer.activation)
        self.use_residual = layer.residual
        if layer.residual and layer.in_features != layer.out_features:
            self.residual = torch.nn.Linear(layer.in_features, layer.out_features, bias=False)
        weights = layer.path / "model.safetensors"
        if not weights.is_file():
            raise ModelFolderError(f"{layer.path} has no model.safetensors (only safetensors are loaded)")
        self.load_state_dict(load_file(str(weights)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.activation_function(self.linear(x))
        if self.use_residual:
            out = out + (self.residual(x) if hasattr(self, "residual") else x)
        return out


class ColbertHandler(LoadedHandler):
    """``MultiVectorHandler`` for late-interaction models."""

    def __init__(self, folder: Path, settings: Settings) -> None:
        layout = read_colbert_folder(folder)
        loaded = load_hf_model(layout.transformer_dir, settings)
        config, hf_tokenizer = loaded.config, loaded.tokenizer
        self._model, self._device = loaded.model, loaded.device
        if layout.do_lower_case:
            lowercase_inputs(hf_tokenizer)
        register_markers(hf_tokenizer, layout.markers)
        # Without an explicit length the reference cuts at the tokenizer's limit (max_seq_length when saved);
        # document_length replaces it, within the position embeddings.
        default_limit = model_max_length(config, hf_tokenizer.model_max_length, layout.max_seq_length)
        positions = model_max_length(config, 0, None)
        max_length = min(layout.document_length, positions) if layout.document_length else default_limit
        if settings.max_length:
            max_length = min(max_length, settings.max_length)
        self._hf_tokenizer = hf_tokenizer
        self._text_tokenizer = HFTextTokenizer(hf_tokenizer, dict(layout.prompts))
        self._tokens = ColbertTokens(hf_tokenizer, layout, default_limit, max_length)
        self._attend = layout.expansion is None or layout.expansion.attend
        self._head = torch.nn.Sequential(*(Projection(layer) for layer in layout.dense)).to(self._device).eval()
        self._normalize = layout.normalize
        self._truncate = layout.truncate_dim
        full = layout.dense[-1].out_features if layout.dense else int(config.hidden_size)
        width, options = layout.widths(full)
        self._info = ModelInfo(
            name=default_model_name(settings, folder),
            dimensions=width,
            max_length=max_length,
            pooling=layout.similarity,
            late_chunking=False,
            device=str(self._device),
            dtype=dtype_name(loaded.dtype),
            max_forward_tokens=plan_forward_tokens(loaded, max_length),
            kind=MULTIVECTOR,
            dimension_options=options,
            query_length=self._tokens.query_length,
        )
        log.info("loaded late-interaction model %s (query expansion %s, skip-list %d words)", self._info,
                 layout.expansion, len(layout.mask.skiplist_words))  # fmt: skip

    def tokenize(self, texts: Sequence[str], input_type: str, truncate: bool) -> list[list[int]]:
        return self._tokens.tokenize(texts, input_type, truncate)

    def _attention(self, batch: Sequence[Sequence[int]], mask: torch.Tensor, input_type: str) -> torch.Tensor:
        """The encoder's attention mask: without ``attend``, a query's expansion tokens are masked out."""
        if input_type != QUERY or self._attend:
            return mask
        real = torch.as_tensor([len(ids) - self._tokens.expanded(ids) for ids in batch], device=mask.device)
        return (torch.arange(mask.shape[1], device=mask.device)[None, :] < real[:, None]).to(mask.dtype)

    def _vectors(self, items: Sequence[Item], input_type: str) -> torch.Tensor:
        """One padded pass: the returned positions' vectors of every sequence, in order, one after another.
        Call under ``torch.inference_mode``."""
        batch = [ids for ids, _ in items]
        input_ids, mask = padded_batch(batch, self._tokens.pad_id, self._device)
        hidden = self._model(input_ids=input_ids, attention_mask=self._attention(batch, mask, input_type))[0]
        keep = np.zeros(tuple(input_ids.shape), dtype=bool)
        for row, (_, kept) in enumerate(items):
            keep[row, : len(kept)] = kept
        vectors: torch.Tensor = self._head(hidden[torch.from_numpy(keep).to(hidden.device)].float())
        if self._normalize:
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=-1)
        if self._truncate is not None:
            vectors = torch.nn.functional.normalize(vectors[:, : self._truncate], p=2, dim=-1)
        return vectors

    def _buckets(self, lengths: list[int]) -> list[list[int]]:
        if len(lengths) < 2:
            return [list(range(len(lengths)))]
        if self._device.type == "cpu":
            allowance = CPU_PADDING_ALLOWANCE_PER_THREAD * torch.get_num_threads()
            return split_by_padding(lengths, CPU_MAX_PADDING, allowance)
        return split_by_padding(lengths, GPU_MAX_PADDING, GPU_PADDING_ALLOWANCE)

    @torch.inference_mode()
    def forward(self, batch: Sequence[Sequence[int]], input_type: str) -> list[np.ndarray]:
        """Each sequence's token vectors, float32 ``(returned tokens, info.dimensions)``. Length buckets are
        queued on the device one after another (each halved and retried on CUDA out-of-memory) and the vectors
        come back in one copy."""
        if not batch:
            return []
        items = [(ids, self._tokens.kept(ids, input_type)) for ids in batch]
        buckets = self._buckets([len(ids) for ids in batch])
        run = partial(self._vectors, input_type=input_type)
        parts = [split_on_oom(run, [items[i] for i in bucket]) for bucket in buckets]
        flat = (parts[0] if len(parts) == 1 else torch.cat(parts)).cpu().numpy().astype(np.float32, copy=False)
        order = [i for bucket in buckets for i in bucket]
        counts = np.cumsum([int(items[i][1].sum()) for i in order])[:-1]
        out: list[Any] = [None] * len(batch)
        for index, vectors in zip(order, np.split(flat, counts), strict=True):
            out[index] = np.ascontiguousarray(vectors)
        return out

    def warmup(self) -> None:
        self.forward(self.tokenize(WARMUP_TEXTS[:1], QUERY, True), QUERY)
        self.forward(self.tokenize(WARMUP_TEXTS, DOCUMENT, True), DOCUMENT)
