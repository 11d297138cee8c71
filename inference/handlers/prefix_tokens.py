"""A text's first tokens without tokenising all of it: a few megabytes of query cost what its first few thousand
characters cost when only its first ``limit`` tokens (or whether it has more) matter.

A prefix of the text is tokenised, then one twice as long; the tokens the two agree on (less the last, which may
still be cut at the shorter prefix's end) are the text's first tokens. Tokenisers decide a token from the text
around it (a word, a pre-tokeniser piece), never from text thousands of characters on, so those tokens are the
ones the whole text gives. The prefix doubles until it holds more than ``limit`` such tokens, or is the whole text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tokenizers import Tokenizer

MIN_CHARS = 1024  # the first prefix: at least this many characters ...
CHARS_PER_TOKEN = 8  # ... and this many per token wanted (most tokens are shorter; a longer one costs a doubling)


@dataclass(frozen=True, slots=True)
class Tokens:
    """A text's first tokens (without special tokens). ``complete``: these are all of them; else the text has
    more than ``len(ids)`` tokens."""

    ids: list[int]
    complete: bool

    @property
    def least(self) -> int:
        """A lower bound of the text's token count: exact when complete."""
        return len(self.ids) if self.complete else len(self.ids) + 1


def _common_prefix(shorter: list[int], longer: list[int]) -> int:
    size = min(len(shorter), len(longer))
    differ = np.flatnonzero(np.asarray(shorter[:size]) != np.asarray(longer[:size]))
    return int(differ[0]) if differ.size else size


def prefix_chars(limit: int) -> int:
    """The first prefix tokenised for ``limit`` tokens: a text no longer than this is tokenised whole."""
    return max(MIN_CHARS, CHARS_PER_TOKEN * (limit + 1))


def first_tokens(tokenizer: Tokenizer, text: str, limit: int) -> Tokens:
    """The first ``limit`` tokens of ``text`` (``tokenizer`` adds no truncation), tokenising a prefix of about
    ``CHARS_PER_TOKEN * limit`` characters unless its tokens are longer than that."""
    size = prefix_chars(limit)
    previous: list[int] | None = None
    while size < len(text):
        ids = tokenizer.encode(text[:size], add_special_tokens=False).ids
        if previous is not None and _common_prefix(previous, ids) - 1 > limit:
            return Tokens(previous[:limit], complete=False)
        previous, size = ids, size * 2
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    return Tokens(ids[:limit], complete=len(ids) <= limit)


def first_tokens_of_each(tokenizer: Tokenizer, texts: Sequence[str], limit: int) -> list[Tokens]:
    """``first_tokens`` of each text: those no longer than the first prefix tokenised together, in one batch (the
    Rust tokenizer spreads a batch over the cores), the longer ones a prefix at a time."""
    size = prefix_chars(limit)
    short = [text for text in texts if len(text) <= size]
    batch = iter(tokenizer.encode_batch(short, add_special_tokens=False) if short else ())
    found = []
    for text in texts:
        if len(text) > size:
            found.append(first_tokens(tokenizer, text, limit))
            continue
        ids = next(batch).ids
        found.append(Tokens(ids[:limit], complete=len(ids) <= limit))
    return found


class LazyTokens:
    """One text's first tokens (``known``), tokenised further only when asked (``upto``)."""

    def __init__(self, tokenizer: Tokenizer, text: str, known: Tokens) -> None:
        self._tokenizer, self._text = tokenizer, text
        self.known = known

    def upto(self, limit: int) -> Tokens:
        """At least the first ``limit`` tokens (all of them when the text has no more)."""
        if not self.known.complete and len(self.known.ids) < limit:
            self.known = first_tokens(self._tokenizer, self._text, limit)
        return self.known


def not_shorter(first: LazyTokens, second: LazyTokens, cap: int) -> bool:
    """Whether ``second`` has at least as many tokens as ``first``, tokenising neither beyond ``cap`` tokens: when
    both have more, True (taken as a tie)."""
    for _ in range(2):
        one, two = first.known, second.known
        if one.complete and (two.complete or len(two.ids) >= len(one.ids)):
            return len(two.ids) >= len(one.ids)
        if two.complete and len(one.ids) >= len(two.ids):
            return False  # ``first`` has more than len(one.ids) >= len(two.ids) tokens
        first.upto(cap)
        second.upto(cap)
    return True  # both have more than ``cap`` tokens
