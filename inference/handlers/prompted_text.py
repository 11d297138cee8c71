"""What the text encoder handlers (torch: text.py, ONNX Runtime: onnx_text.py) share before the model runs: the
sentence-transformers metadata, the task's prompt and the tokenization. No torch."""

from __future__ import annotations

from collections.abc import Sequence

from .st_config import STConfig
from .tokenization import FastTokenizers


class PromptedTextTokens:
    """Mixin: ``tokenize`` with the task's prompt (sentence-transformers' ``prompts``, or config.json's
    ``task_instructions``) and ``split_special``; the handler sets ``_st``, ``_prompts`` and ``_tokens``."""

    _st: STConfig
    _prompts: dict[str, str]
    _tokens: FastTokenizers

    @property
    def st_config(self) -> STConfig:
        return self._st

    def _with_prompt(self, texts: Sequence[str], task: str | None) -> list[str]:
        name = task if task in self._prompts else self._st.default_prompt_name
        prompt = self._prompts.get(name or "", "") or ""
        return [prompt + text for text in texts] if prompt else list(texts)

    def tokenize(self, texts: Sequence[str], task: str | None, truncate: bool) -> list[list[int]]:
        return self._tokens.encode(self._with_prompt(texts, task), truncate)

    def split_special(self, ids: Sequence[int]) -> tuple[list[int], list[int], list[int]]:
        return self._tokens.split_special(ids)
