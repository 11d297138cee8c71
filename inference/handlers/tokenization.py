"""Rust fast-tokenizer plumbing shared by the handlers: one uncut and one cutting tokenizer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

from .st_config import ModelFolderError


def uncut_tokenizer(hf_tokenizer: object, what: str = "model") -> Tokenizer:
    """A copy of a transformers tokenizer's Rust tokenizer that neither truncates nor pads."""
    backend = getattr(hf_tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ModelFolderError(f"the {what} has no fast (Rust) tokenizer; add tokenizer.json")
    tokenizer = Tokenizer.from_str(backend.to_str())
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


@dataclass(frozen=True)
class FastTokenizers:
    """``full`` never truncates (to count tokens); ``cut`` truncates to ``max_length`` keeping special tokens."""

    full: Tokenizer
    cut: Tokenizer
    special_ids: frozenset[int]
    pad_id: int

    @classmethod
    def from_hf(cls, hf_tokenizer: object, max_length: int) -> FastTokenizers:
        pad_id = getattr(hf_tokenizer, "pad_token_id", None)
        specials = frozenset(getattr(hf_tokenizer, "all_special_ids", ()))
        return cls.from_rust(uncut_tokenizer(hf_tokenizer), specials, pad_id if pad_id is not None else 0, max_length)

    @classmethod
    def from_rust(cls, tokenizer: Tokenizer, special_ids: frozenset[int], pad_id: int, max_length: int
                  ) -> FastTokenizers:  # fmt: skip
        """From a Rust tokenizer (copied: ``tokenizer`` is left as it was) without transformers."""
        full = Tokenizer.from_str(tokenizer.to_str())
        full.no_truncation()
        full.no_padding()
        cut = Tokenizer.from_str(full.to_str())
        cut.enable_truncation(max_length)
        cut.no_padding()
        return cls(full, cut, special_ids, pad_id)

    def encode(self, texts: Sequence[str], truncate: bool) -> list[list[int]]:
        tokenizer = self.cut if truncate else self.full
        return [encoding.ids for encoding in tokenizer.encode_batch(list(texts))]

    def split_special(self, ids: Sequence[int]) -> tuple[list[int], list[int], list[int]]:
        ids = list(ids)
        start, end = 0, len(ids)
        while start < end and ids[start] in self.special_ids:
            start += 1
        while end > start and ids[end - 1] in self.special_ids:
            end -= 1
        return ids[:start], ids[start:end], ids[end:]


def require_safetensors(folder: Path) -> None:
    if not any(folder.glob("*.safetensors")):
        raise ModelFolderError(f"{folder} has no *.safetensors weights (only safetensors are loaded)")


def model_max_length(config: object, tokenizer_max: int, st_max: int | None) -> int:
    """The longest input the model takes: the least of sentence-transformers' max_seq_length, the tokenizer's
    model_max_length and the position embeddings (512 when none is known)."""
    limits = [st_max] if st_max else []
    if 0 < tokenizer_max < 1_000_000:
        limits.append(tokenizer_max)
    positions = getattr(config, "max_position_embeddings", None)
    if positions:
        pad = getattr(config, "pad_token_id", None)
        # RoBERTa-style position ids start after padding_idx, which costs pad_token_id + 1 slots.
        offset = pad + 1 if getattr(config, "model_type", "") in {"roberta", "xlm-roberta", "camembert"} and pad else 0
        limits.append(positions - offset)
    return min(limits) if limits else 512
