"""Framework-free request types of the tokenizer slice."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TokenizeRequest:
    """TEI's ``/tokenize``: each text's tokens (the named prompt first), with or without special tokens."""

    texts: tuple[str, ...]
    add_special_tokens: bool = True
    prompt_name: str | None = None


@dataclass(frozen=True, slots=True)
class DecodeRequest:
    """TEI's ``/decode``: the text of each sequence of ids."""

    sequences: tuple[tuple[int, ...], ...]
    skip_special_tokens: bool = True


@dataclass(frozen=True, slots=True)
class SegmentRequest:
    """Jina's Segmenter: count ``content``'s tokens and cut it into chunks of at most ``max_chunk_length`` tokens
    (None: the most one input of the served model holds); ``head`` / ``tail``: only its first / last N tokens."""

    content: str
    max_chunk_length: int | None = None
    return_tokens: bool = False
    return_chunks: bool = False
    head: int | None = None
    tail: int | None = None
    tokenizer: str | None = None  # Jina's tokenizer name: here only the served model's
