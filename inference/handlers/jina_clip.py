"""jina-clip-v2: Jina's ``JinaCLIPModel`` (``model_type`` ``jina_clip``), texts and images in one space.

Called the way Jina's own ``encode_text`` / ``encode_image`` call the model:

* texts: the task's instruction (``text_model.get_instruction_from_task``; no task gives the default instruction,
  none in v2) goes in front, then ``get_text_features(input_ids=...)`` alone: Jina's text tower derives its
  attention mask from the pad token, so padding uses the pad id and no mask is passed. The tower picks its LoRA
  adapter itself (``default_lora_task``); as in Jina's ``encode_text``, ``task`` chooses only the instruction.
* images: the model's own image processor (``AutoImageProcessor``, ``JinaCLIPImageProcessor``) gives
  ``pixel_values``, then ``get_image_features(pixel_values=...)``.
* width: ``projection_dim`` when ``add_projections`` else the text tower's ``embed_dim``, or ``truncate_dim`` when
  set. ``matryoshka_dimensions`` is kept; a request's ``dimensions`` cuts and re-normalises as for every model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from transformers import AutoImageProcessor
from transformers.dynamic_module_utils import get_class_from_dynamic_module

from ..core.types import ModelInfo
from ..model_dir import default_model_name
from ..settings import Settings
from .clip import _features, pixels_on_device, processor_pixels
from .device import dtype_name, padded_batch, split_on_oom
from .handler_base import LoadedHandler
from .jina import matryoshka
from .loading import load_hf_model
from .st_config import ModelFolderError
from .text_tokenizer import HFTextTokenizer
from .tokenization import FastTokenizers

log = logging.getLogger(__name__)
FALLBACK_MAX_LENGTH = 512  # Jina's encode_text default when neither tokenizer nor tower says more


def _max_length(tokenizer_max: int, tower: Any, pad: int) -> int:
    limits = [tokenizer_max] if 0 < tokenizer_max < 1_000_000 else []
    positions = int(getattr(tower, "context_length", 0) or 0)  # HFTextEncoder: max_position_embeddings
    if positions:
        limits.append(positions - (pad + 1))  # XLM-RoBERTa position ids start after the padding index
    return min(limits) if limits else FALLBACK_MAX_LENGTH


class _OwnConfigModel:
    """``auto_class`` for ``load_hf_model``: builds ``JinaCLIPModel`` on a config of its own module's class.

    transformers 5 gives each remote-code file of a local folder its own module copy (hashed per file with its
    relative imports), so ``configuration_clip.py`` is imported once for ``AutoConfig`` and again as
    ``modeling_clip.py``'s relative import: two ``JinaCLIPTextConfig`` classes. Jina's ``JinaCLIPModel`` refuses a
    ``text_config`` that is not an instance of its own, so the config is re-read with the model's ``config_class``.
    (Code fetched from a hub repo, as the published ``auto_map`` names it, shares one module and is unaffected.)
    """

    @staticmethod
    def from_pretrained(folder: Path, *, config: Any, trust_remote_code: bool, **kwargs: Any) -> Any:
        model_class: Any = get_class_from_dynamic_module(config.auto_map["AutoModel"], str(folder))
        own_config = model_class.config_class.from_pretrained(folder)
        return model_class.from_pretrained(folder, config=own_config, **kwargs)


class JinaClipHandler(LoadedHandler):
    """``ImageEmbeddingHandler`` for ``jina_clip`` folders."""

    def __init__(self, folder: Path, settings: Settings) -> None:
        loaded = load_hf_model(folder, settings, auto_class=_OwnConfigModel)
        config, self._model, self._device, self._dtype = loaded.config, loaded.model, loaded.device, loaded.dtype
        self._processor = AutoImageProcessor.from_pretrained(  # type: ignore[no-untyped-call,unused-ignore]  # untyped upstream
            folder, trust_remote_code=settings.trust_remote_code
        )
        tower = self._model.text_model
        tower_pad = getattr(getattr(tower, "config", None), "pad_token_id", None)
        max_length = _max_length(loaded.tokenizer.model_max_length, tower, tower_pad if tower_pad is not None else 1)
        if settings.max_length:
            max_length = min(max_length, settings.max_length)
        self._tokens = FastTokenizers.from_hf(loaded.tokenizer, max_length)
        if tower_pad is not None and tower_pad != self._tokens.pad_id:
            raise ModelFolderError(
                f"the tokenizer pads with id {self._tokens.pad_id} but the text tower masks id {tower_pad}"
            )
        instruction = getattr(tower, "get_instruction_from_task", lambda task: None)  # absent: no instructions
        tasks = getattr(tower, "task_instructions", None) or {}
        self._instructions = {str(task): instruction(task) or "" for task in tasks}
        self._default_instruction = instruction(None) or ""
        self._text_tokenizer = HFTextTokenizer(loaded.tokenizer, {k: v for k, v in self._instructions.items() if v})
        full = config.projection_dim if config.add_projections else config.text_config.embed_dim
        self._matryoshka, width = matryoshka(config, int(full))
        self._width = width if width < int(full) else None
        self._info = ModelInfo(
            name=default_model_name(settings, folder),
            dimensions=width,
            max_length=max_length,
            pooling="projection",
            tasks=tuple(self._instructions),
            modalities=frozenset({"text", "image"}),
            late_chunking=False,
            device=str(self._device),
            dtype=dtype_name(self._dtype),
        )
        log.info("loaded jina-clip model %s (matryoshka %s)", self._info, list(self._matryoshka))

    @property
    def matryoshka_dimensions(self) -> tuple[int, ...]:
        return self._matryoshka

    def _cut(self, vectors: torch.Tensor) -> np.ndarray:
        vectors = vectors[:, : self._width] if self._width else vectors
        array: np.ndarray = vectors.float().cpu().numpy()
        return array

    # -- text --------------------------------------------------------------------------------
    def tokenize(self, texts: Sequence[str], task: str | None, truncate: bool) -> list[list[int]]:
        prefix = self._instructions.get(task or "", self._default_instruction)
        return self._tokens.encode([prefix + text for text in texts] if prefix else texts, truncate)

    def split_special(self, ids: Sequence[int]) -> tuple[list[int], list[int], list[int]]:
        return self._tokens.split_special(ids)

    def _text_features(self, batch: Sequence[Sequence[int]]) -> np.ndarray:
        input_ids, _ = padded_batch(batch, self._tokens.pad_id, self._device)
        with torch.inference_mode():
            return self._cut(_features(self._model.get_text_features(input_ids=input_ids)))

    def forward(self, batch: Sequence[Sequence[int]], task: str | None) -> np.ndarray:
        return split_on_oom(self._text_features, batch)

    def forward_tokens(self, ids: Sequence[int], task: str | None) -> np.ndarray:
        raise NotImplementedError("jina-clip's text tower pools inside the model; late chunking is not offered")

    # -- images ------------------------------------------------------------------------------
    def preprocess_images(self, images: Sequence[Image.Image]) -> list[torch.Tensor]:
        """CPU: the model's own processor (resize, crop, normalise); one tensor per image."""
        return processor_pixels(self._processor, images)

    def _image_features(self, batch: Sequence[torch.Tensor]) -> np.ndarray:
        pixels = pixels_on_device(batch, self._device, self._dtype)
        with torch.inference_mode():
            return self._cut(_features(self._model.get_image_features(pixel_values=pixels)))

    def forward_images(self, batch: Sequence[torch.Tensor]) -> np.ndarray:
        return split_on_oom(self._image_features, batch)

    def warmup(self) -> None:
        self.forward(self.tokenize(["warm-up"], None, True), None)
        self.forward_images(self.preprocess_images([Image.new("RGB", (64, 64), (127, 127, 127))]))
