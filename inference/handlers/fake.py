"""Deterministic fake handler: hash-seeded vectors, no torch. For API and container tests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..core.types import ModelInfo
from ..settings import Settings

FAKE_DIMENSIONS = 32
FAKE_MAX_LENGTH = 64
FAKE_TASKS = ("query", "passage")
_CLS, _SEP = 1, 2


class FakeEmbeddingHandler:
    """One token per whitespace-separated word; a token's vector depends only on the token id.

    A task the model defines is a ``"<task>:"`` word before the text; ``tasks=()`` is a model without tasks.
    """

    def __init__(
        self, settings: Settings, dimensions: int = FAKE_DIMENSIONS, tasks: tuple[str, ...] = FAKE_TASKS
    ) -> None:
        self._info = ModelInfo(
            name=settings.served_model_name or "fake",
            dimensions=dimensions,
            max_length=FAKE_MAX_LENGTH,
            tasks=tuple(tasks),
        )

    @classmethod
    def from_settings(cls, folder: Path | None, settings: Settings) -> FakeEmbeddingHandler:
        return cls(settings)

    @property
    def info(self) -> ModelInfo:
        return self._info

    @staticmethod
    def _word_id(word: str) -> int:
        return 3 + int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little") % 30000

    def tokenize(self, texts: Sequence[str], task: str | None, truncate: bool) -> list[list[int]]:
        prefix = [f"{task}:"] if task else []
        out = []
        for text in texts:
            ids = [_CLS, *(self._word_id(w) for w in prefix + text.split()), _SEP]
            if truncate and len(ids) > FAKE_MAX_LENGTH:
                ids = ids[: FAKE_MAX_LENGTH - 1] + [_SEP]
            out.append(ids)
        return out

    def split_special(self, ids: Sequence[int]) -> tuple[list[int], list[int], list[int]]:
        return [ids[0]], list(ids[1:-1]), [ids[-1]]

    def _token_vectors(self, ids: Sequence[int]) -> np.ndarray:
        return np.stack([np.random.default_rng(i).standard_normal(self._info.dimensions) for i in ids]).astype(
            np.float32
        )

    def forward(self, batch: Sequence[Sequence[int]], task: str | None) -> np.ndarray:
        return np.stack([self._token_vectors(ids).mean(axis=0) for ids in batch])

    def forward_tokens(self, ids: Sequence[int], task: str | None) -> np.ndarray:
        return self._token_vectors(ids)

    def warmup(self) -> None:
        self.forward(self.tokenize(["warm-up"], None, True), None)
