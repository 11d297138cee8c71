"""CLIP-style handler (CLIPModel and siblings such as SigLIP): text and images in one shared space.

Texts go through the text tower + text projection, images through the model's own image
processor config + vision tower + visual projection. Both return ``(n, projection_dim)`` vectors.
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

from ..core.types import ModelInfo
from ..model_dir import default_model_name
from ..settings import Settings
from .clip_folder import FIXED_LENGTH_TYPES
from .device import dtype_name, padded_batch, split_on_oom
from .handler_base import LoadedHandler
from .loading import load_hf_model
from .text_tokenizer import HFTextTokenizer
from .tokenization import FastTokenizers

log = logging.getLogger(__name__)


def _features(output: Any) -> torch.Tensor:
    """transformers 4 returns the projected tensor, 5 a ModelOutput whose pooler_output is projected."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output



def processor_pixels(processor: Any, images: Sequence[Image.Image]) -> list[torch.Tensor]:
    """The model's own image processor on the CPU (resize, crop, normalise): one pixel tensor per image."""
    return list(processor(images=list(images), return_tensors="pt")["pixel_values"])


def pixels_on_device(batch: Sequence[torch.Tensor], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Stack preprocessed images and copy them to ``device`` (pinned, non-blocking on CUDA)."""
    pixels = torch.stack(list(batch))
    if device.type == "cuda":
        pixels = pixels.pin_memory()
    return pixels.to(device, dtype=dtype, non_blocking=True)

class ClipEmbeddingHandler(LoadedHandler):
    """``EmbeddingHandler`` with image support for CLIP-family models."""

    def __init__(self, folder: Path, settings: Settings) -> None:
        loaded = load_hf_model(folder, settings)
        config, hf_tokenizer, dtype = loaded.config, loaded.tokenizer, loaded.dtype
        self._model, self._device = loaded.model, loaded.device
        self._model_type = config.model_type
        self._processor = AutoImageProcessor.from_pretrained(  # type: ignore[no-untyped-call,unused-ignore]  # untyped upstream
            folder, trust_remote_code=settings.trust_remote_code
        )
        text_config = config.text_config
        max_length = int(text_config.max_position_embeddings)
        if settings.max_length:
            max_length = min(max_length, settings.max_length)
        self._tokens = FastTokenizers.from_hf(hf_tokenizer, max_length)
        self._text_tokenizer = HFTextTokenizer(hf_tokenizer, {})
        dims = getattr(config, "projection_dim", None) or text_config.hidden_size
        self._info = ModelInfo(
            name=default_model_name(settings, folder),
            dimensions=int(dims),
            max_length=max_length,
            pooling="projection",
            modalities=frozenset({"text", "image"}),
            late_chunking=False,
            device=str(self._device),
            dtype=dtype_name(dtype),
        )
        self._dtype = dtype
        log.info("loaded CLIP-style model %s", self._info)

    # -- text --------------------------------------------------------------------------------
    def tokenize(self, texts: Sequence[str], task: str | None, truncate: bool) -> list[list[int]]:
        return self._tokens.encode(texts, truncate)

    def split_special(self, ids: Sequence[int]) -> tuple[list[int], list[int], list[int]]:
        return self._tokens.split_special(ids)

    def _text_features(self, batch: Sequence[Sequence[int]]) -> np.ndarray:
        fixed = self._model_type in FIXED_LENGTH_TYPES
        width = self._info.max_length if fixed else None
        input_ids, mask = padded_batch(batch, self._tokens.pad_id, self._device, width)
        with torch.inference_mode():
            kwargs = {} if fixed else {"attention_mask": mask}
            return _features(self._model.get_text_features(input_ids=input_ids, **kwargs)).float().cpu().numpy()

    def forward(self, batch: Sequence[Sequence[int]], task: str | None) -> np.ndarray:
        return split_on_oom(self._text_features, batch)

    def forward_tokens(self, ids: Sequence[int], task: str | None) -> np.ndarray:
        raise NotImplementedError("CLIP-style text towers pool one token; late chunking is not offered")

    # -- images ------------------------------------------------------------------------------
    def preprocess_images(self, images: Sequence[Image.Image]) -> list[torch.Tensor]:
        """CPU: resize / crop / normalise with the model's processor config; one tensor per image."""
        return processor_pixels(self._processor, images)

    def _image_features(self, batch: Sequence[torch.Tensor]) -> np.ndarray:
        pixels = pixels_on_device(batch, self._device, self._dtype)
        with torch.inference_mode():
            return _features(self._model.get_image_features(pixel_values=pixels)).float().cpu().numpy()

    def forward_images(self, batch: Sequence[torch.Tensor]) -> np.ndarray:
        return split_on_oom(self._image_features, batch)

    def warmup(self) -> None:
        self.forward(self.tokenize(["warm-up"], None, True), None)
        self.forward_images(self.preprocess_images([Image.new("RGB", (64, 64), (127, 127, 127))]))
