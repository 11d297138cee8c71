"""What every model handler answers alike: it is built from a model folder and the settings, and keeps its
``ModelInfo`` and its tokenizer (``/tokenize``, ``/decode``, the segmenter). Each family's handler sets both in
its constructor and inherits the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from ..core.types import ModelInfo
from ..settings import Settings
from .text_tokenizer import HFTextTokenizer

# The small batch every handler's ``warmup`` runs, so the first request does not pay for lazy initialisation.
WARMUP_TEXTS = ("warm-up", "a slightly longer warm-up sentence for the model")


class LoadedHandler:
    _info: ModelInfo
    _text_tokenizer: HFTextTokenizer

    def __init__(self, folder: Path, settings: Settings) -> None:
        raise NotImplementedError  # each family's handler loads its model here

    @classmethod
    def from_settings(cls, folder: Path, settings: Settings) -> Self:
        return cls(folder, settings)

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def text_tokenizer(self) -> HFTextTokenizer:
        return self._text_tokenizer
