"""Handler registry: settings -> a loaded ``EmbeddingHandler``. Torch is imported only by real handlers."""

from __future__ import annotations

from pathlib import Path

from ..settings import Settings, resolve_model_dir
from .base import EmbeddingHandler


def load_handler(settings: Settings) -> EmbeddingHandler:
    """Resolve the model folder and build the handler for it (slow: loads weights)."""
    if settings.handler == "fake":
        from .fake import FakeEmbeddingHandler

        return FakeEmbeddingHandler.from_settings(None, settings)
    folder: Path = resolve_model_dir(settings)
    from .text import TextEmbeddingHandler

    return TextEmbeddingHandler.from_settings(folder, settings)


__all__ = ["EmbeddingHandler", "load_handler"]
