"""Handler registry: settings -> a loaded ``EmbeddingHandler``. Torch is imported only by real handlers."""

from __future__ import annotations

import json
from pathlib import Path

from ..core.protocol import EmbeddingHandler, ImageEmbeddingHandler
from ..model_dir import resolve_model_dir
from ..settings import Settings


def model_family(folder: Path) -> str:
    """``clip`` for CLIP-style two-tower models, else ``text``; decided from config.json's model_type."""
    config = folder / "config.json"
    if config.is_file():
        from .clip import CLIP_MODEL_TYPES

        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type", "")
        if model_type in CLIP_MODEL_TYPES:
            return "clip"
    return "text"


def load_handler(settings: Settings) -> EmbeddingHandler:
    """Resolve the model folder and build the handler for its family (slow: loads weights)."""
    if settings.handler == "fake":
        from .fake import FakeEmbeddingHandler

        return FakeEmbeddingHandler.from_settings(None, settings)
    folder: Path = resolve_model_dir(settings)
    family = model_family(folder) if settings.handler == "auto" else settings.handler
    if family == "clip":
        from .clip import ClipEmbeddingHandler

        return ClipEmbeddingHandler.from_settings(folder, settings)
    from .text import TextEmbeddingHandler

    return TextEmbeddingHandler.from_settings(folder, settings)


__all__ = ["EmbeddingHandler", "ImageEmbeddingHandler", "load_handler", "model_family"]
