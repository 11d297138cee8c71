"""The segmenter's chunker: cut a text into chunks of at most ``budget`` tokens, at the strongest boundary in reach.

Works on the served tokenizer's tokens of the whole text (their character spans, no special tokens). A chunk ends
where a token starts, so every chunk holds at least one token and the chunks, joined, are the text: the first
takes any leading whitespace, each the whitespace after it. Chunks are as long as the budget allows; each is cut
at the strongest boundary of the last half of its reach (paragraph: a blank line; line; sentence: ``.!?`` and
their CJK forms, closing quotes or brackets allowed, then whitespace), else at the last sentence or line boundary
in its reach, else between words, else between tokens (never inside a character that several tokens share).

Each chunk is then tokenised alone (``count``): what an embeddings request (``late_chunking`` too) will see. A
tokenizer whose tokens depend on what precedes (byte-level BPE at a cut between tokens of one word) may give a
chunk more tokens alone than in the text; such a chunk is cut again with a budget smaller by the excess.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ...errors import InvalidInputError

TOKEN, WORD, SENTENCE, LINE, PARAGRAPH = 0, 1, 2, 3, 4
NO_CUT = 255  # a token that starts inside the previous one's characters (or the first token): no cut before it
NONE = -1
SENTENCE_ENDS = frozenset(".!?…")
CJK_SENTENCE_ENDS = frozenset("。！？")  # end a sentence without a following space
CLOSERS = frozenset("\"')]}»”’」』")
MAX_CLOSERS = 3
MAX_REFITS = 16

Span = tuple[int, int]  # a token's characters, [start, stop)
Count = Callable[[list[str]], list[int]]  # texts -> their token counts (no special tokens)


def _sentence_end(text: str, stop: int, gap: str) -> bool:
    """Whether the text up to ``stop`` (a token's end) ends a sentence before ``gap``: a few closers allowed."""
    end = stop
    while end > 0 and stop - end < MAX_CLOSERS and text[end - 1] in CLOSERS:
        end -= 1
    if end == 0:
        return False
    last = text[end - 1]
    return last in CJK_SENTENCE_ENDS or (last in SENTENCE_ENDS and gap != "" and gap[0].isspace())


def boundary_levels(text: str, spans: Sequence[Span]) -> bytearray:
    """The level of a cut before each token (index 0: never cut there)."""
    levels = bytearray(len(spans))
    if spans:
        levels[0] = NO_CUT
    for j in range(1, len(spans)):
        (start0, stop0), (start, _) = spans[j - 1], spans[j]
        if start < stop0 or start <= start0:
            levels[j] = NO_CUT
            continue
        gap = text[stop0:start]
        newlines = gap.count("\n")
        if newlines >= 2:
            levels[j] = PARAGRAPH
        elif newlines:
            levels[j] = LINE
        elif _sentence_end(text, stop0, gap):
            levels[j] = SENTENCE
        elif gap:
            levels[j] = WORD
        else:
            levels[j] = TOKEN
    return levels


class Cuts:
    """For each level, the last token index at or before ``j`` where a cut of that level or stronger may go."""

    def __init__(self, levels: bytearray) -> None:
        found = np.frombuffer(bytes(levels), dtype=np.uint8)
        index = np.arange(len(found), dtype=np.int64)
        allowed = found != NO_CUT
        self._last = [np.maximum.accumulate(np.where(allowed & (found >= level), index, NONE)) if len(found) else index
                      for level in range(PARAGRAPH + 1)]  # fmt: skip

    def last(self, level: int, j: int) -> int:
        return int(self._last[level][j])

    def choose(self, first: int, reach: int, budget: int) -> int:
        """Where the chunk starting at token ``first`` ends (exclusive), ``reach`` its furthest end."""
        half = first + max(1, budget // 2)
        for level in (PARAGRAPH, LINE, SENTENCE):
            if (j := self.last(level, reach)) >= half:
                return j
        for level in (LINE, SENTENCE, WORD, TOKEN):
            if (j := self.last(level, reach)) > first:
                return j
        return NONE


def _greedy(cuts: Cuts, first: int, last: int, budget: int) -> list[int]:
    """Token indices where the chunks of tokens ``[first, last)`` end, the last one ``last``."""
    ends, start = [], first
    while last - start > budget:
        end = cuts.choose(start, start + budget, budget)
        if end == NONE:  # no cut in reach: the next one past it (a character worth more tokens than the budget)
            end = next((j for j in range(start + budget + 1, last) if cuts.last(TOKEN, j) == j), last)
            if end - start > budget:
                raise InvalidInputError(
                    f"max_chunk_length {budget} is too small: {end - start} tokens of this text cannot be cut apart "
                    f"(one character's bytes); ask for at least {end - start}", param="max_chunk_length")
        ends.append(end)
        start = end
    ends.append(last)
    return ends


def chunk(text: str, spans: Sequence[Span], budget: int, count: Count, window: tuple[int, int] | None = None,
          chars: Span | None = None) -> list[Span]:  # fmt: skip
    """The chunks of ``text`` as character ranges, each at most ``budget`` tokens when tokenised alone.

    ``spans``: the whole text's tokens; ``window``: the tokens to cut (default all) and ``chars`` the characters
    they stand for (default the whole text). No tokens: no chunks."""
    first, last = window or (0, len(spans))
    begin, finish = chars or (0, len(text))
    if last <= first:
        return []
    cuts = Cuts(boundary_levels(text, spans))

    def place(end: int) -> int:
        return finish if end == last else spans[end][0]

    pending = [(first, last, budget)]
    done: dict[int, int] = {}  # chunk start token -> end token
    for _ in range(MAX_REFITS):
        found: list[tuple[int, int, int]] = []
        for start, stop, room in pending:
            ends = _greedy(cuts, start, stop, room)
            found += [(a, b, room) for a, b in zip([start, *ends[:-1]], ends, strict=True)]
        texts = [text[(begin if a == first else spans[a][0]) : place(b)] for a, b, _ in found]
        pending = []
        for (a, b, room), size in zip(found, count(texts), strict=True):
            if size <= budget or b - a <= 1:
                done[a] = b
            else:  # more tokens alone than in the text: cut again, the excess off the budget
                pending.append((a, b, max(1, room - (size - budget))))
        if not pending:
            break
    else:
        raise InvalidInputError(f"the text cannot be cut into chunks of at most {budget} tokens",
                                param="max_chunk_length")  # fmt: skip
    starts = sorted(done)
    return [(begin if a == first else spans[a][0], place(done[a])) for a in starts]
