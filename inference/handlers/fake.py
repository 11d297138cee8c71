"""Deterministic fake handler: hash-seeded vectors, no torch. For API and container tests."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..core.types import ModelInfo, Token
from ..errors import InvalidInputError
from ..settings import Settings

FAKE_DIMENSIONS = 32
FAKE_MAX_LENGTH = 64
FAKE_TASKS = ("query", "passage")
_CLS, _SEP = 1, 2
_VOCAB = 30003  # ids 0..2 are special, words hash onto 3..30002


def _word_id(word: str) -> int:
    return 3 + int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little") % 30000


class WhitespaceTokenizer:
    """The fake model's ``TextTokenizer``: one token per whitespace-separated word, ``[CLS]``/``[SEP]`` around."""

    def __init__(self, tasks: Sequence[str]) -> None:
        self._prompts = {task: f"{task}: " for task in tasks}
        self._words: dict[int, str] = {}

    @property
    def prompts(self) -> dict[str, str]:
        return dict(self._prompts)

    def tokens(self, text: str, add_special_tokens: bool) -> list[Token]:
        words = []
        for match in re.finditer(r"\S+", text):
            self._words[_word_id(match.group())] = match.group()
            words.append(Token(_word_id(match.group()), match.group(), False, match.start(), match.end()))
        if not add_special_tokens:
            return words
        return [Token(_CLS, "[CLS]", True, None, None), *words, Token(_SEP, "[SEP]", True, None, None)]

    def spans(self, text: str) -> list[tuple[int, int]]:
        return [(t.start, t.stop) for t in self.tokens(text, False) if t.start is not None and t.stop is not None]

    def count(self, texts: Sequence[str], add_special_tokens: bool) -> list[int]:
        return [len(text.split()) + (2 if add_special_tokens else 0) for text in texts]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool) -> str:
        if any(not 0 <= i < _VOCAB for i in ids):
            raise InvalidInputError(f"token ids must be 0 to {_VOCAB - 1}", param="ids")
        special = {0: "[PAD]", _CLS: "[CLS]", _SEP: "[SEP]"}
        words = [special[i] if i in special else self._words.get(i, "[UNK]") for i in ids]
        return " ".join(w for i, w in zip(ids, words, strict=True) if not (skip_special_tokens and i in special))


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
        self._text_tokenizer = WhitespaceTokenizer(tasks)

    @classmethod
    def from_settings(cls, folder: Path | None, settings: Settings) -> FakeEmbeddingHandler:
        return cls(settings)

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def text_tokenizer(self) -> WhitespaceTokenizer:
        return self._text_tokenizer

    @staticmethod
    def _word_id(word: str) -> int:
        return _word_id(word)

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
