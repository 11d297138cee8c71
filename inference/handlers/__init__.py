"""Handler registry: settings -> a loaded ``EmbeddingHandler`` or ``RerankHandler``. Torch is imported only by
real handlers."""

from __future__ import annotations

import json
from pathlib import Path

from ..core.protocol import EmbeddingHandler, ImageEmbeddingHandler, RerankHandler
from ..model_dir import resolve_model_dir
from ..settings import Settings


def model_family(folder: Path) -> str:
    """``rerank`` for cross-encoders (``*ForSequenceClassification``: Hugging Face, sentence-transformers
    CrossEncoder and Jina's rerankers), ``jina-v3`` / ``jina-clip`` for Jina's own model code (``handlers/jina.py``),
    ``clip`` for CLIP-style two-tower models, else ``text``; decided from config.json (model_type, auto_map,
    architectures)."""
    config = folder / "config.json"
    if config.is_file():
        from .clip import CLIP_MODEL_TYPES
        from .jina import jina_family

        data = json.loads(config.read_text(encoding="utf-8"))
        if any(str(name).endswith("ForSequenceClassification") for name in data.get("architectures") or ()):
            return "rerank"
        if family := jina_family(data):
            return family
        if data.get("model_type", "") in CLIP_MODEL_TYPES:
            return "clip"
    return "text"


def load_handler(settings: Settings) -> EmbeddingHandler | RerankHandler:
    """Resolve the model folder and build the handler for its family (slow: loads weights)."""
    if settings.handler == "fake":
        from .fake import FakeEmbeddingHandler

        return FakeEmbeddingHandler.from_settings(None, settings)
    folder: Path = resolve_model_dir(settings)
    family = model_family(folder) if settings.handler == "auto" else settings.handler
    if family == "rerank":
        from .rerank import CrossEncoderHandler

        return CrossEncoderHandler.from_settings(folder, settings)
    if family.startswith("jina-"):
        from .jina import load_jina

        return load_jina(family, folder, settings)
    if family == "clip":
        from .clip import ClipEmbeddingHandler

        return ClipEmbeddingHandler.from_settings(folder, settings)
    from .text import TextEmbeddingHandler

    return TextEmbeddingHandler.from_settings(folder, settings)


__all__ = ["EmbeddingHandler", "ImageEmbeddingHandler", "RerankHandler", "load_handler", "model_family"]
