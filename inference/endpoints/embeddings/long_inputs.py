"""Texts longer than the model's context, opt-in per request (``"long_input": "split"``; ``split_long``).

Windows (``window_spans``): a text's content tokens (its special tokens left out) are cut into windows of
``room`` tokens, the model's max length less its special tokens (all-MiniLM-L6-v2: 256 - 2 = 254). Window ``k``
starts at ``k * (room - overlap)``, so consecutive windows share ``overlap = room // OVERLAP_DIVISOR`` tokens
(MiniLM: 31), and windows stop once the text's end is covered (the last one may be shorter). With that overlap
every token past the first window is encoded with at least ``overlap`` tokens of left context (a token at a
window's start, in the overlap, is the previous window's, near its end), for about 1/7 more tokens than the
text (``room / (room - overlap)``); the share stays the same as contexts grow (1,023 tokens on an 8,192-token
model). A text that fits one model input is never split: it is embedded as without the option.

Split (``split_windows``, ``SplitPlan.combine``): each window is a normal input (the text's leading and trailing
special tokens around it) through the batcher; the text's vector is the mean of its windows' pooled
(unnormalised) vectors weighted by each window's content-token count, overlap included:
``sum(n_k * v_k) / sum(n_k)``. Normalisation, Matryoshka and encoding follow as usual; ``usage`` counts every
window's tokens. A task prompt is part of the text, so only its first window has it.

Long late chunking with overlapping macro windows (``late_chunk_overlapping``; Günther et al. 2024, "Late
Chunking", arXiv 2409.04701): the request's inputs (chunks of one document) are joined, content tokens only, and
cut into the same windows ("macro chunks"); each is encoded as one sequence with the special tokens around it,
and a token's embedding is taken from the first window that holds it: each later window's first ``overlap``
token embeddings are dropped (they only give it context). Each input is then the mean of its tokens'
embeddings, wherever its tokens fell, so a chunk of any length (longer than the context too) gets one vector.
Unlike the paper's reference code (jina-ai/late-chunking ``_embed_with_overlap``), every window has the special
tokens (the reference cuts the encoded sequence, so only the first has ``[CLS]`` and only the last ``[SEP]``) and
no window is run that adds no new token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ...core.protocol import EmbeddingHandler
from ...errors import InvalidInputError
from .postprocess import mean_pool_spans

OVERLAP_DIVISOR = 8  # consecutive windows share room // 8 content tokens


def overlap_of(room: int) -> int:
    """Content tokens shared by consecutive windows of ``room`` content tokens."""
    return room // OVERLAP_DIVISOR


def window_spans(total: int, room: int) -> list[tuple[int, int]]:
    """``[start, end)`` of each window over ``total`` content tokens: one window when they fit in ``room``."""
    if room < 1:
        raise InvalidInputError("the model's special tokens leave no room for a window", param="long_input")
    if total <= room:
        return [(0, total)]
    overlap = overlap_of(room)
    step = room - overlap
    return [(start, min(start + room, total)) for start in range(0, total - overlap, step)]


@dataclass(frozen=True, slots=True)
class SplitPlan:
    """Every window of every text, in order: ``sequences`` (model-ready ids), ``weights`` (content tokens of each)
    and ``bounds`` (text ``i``'s windows are ``sequences[bounds[i][0]:bounds[i][1]]``)."""

    sequences: list[list[int]]
    weights: list[int]
    bounds: list[tuple[int, int]]

    def combine(self, pooled: np.ndarray) -> np.ndarray:
        """One vector per text from the windows' pooled vectors (row ``k`` is window ``k``): a lone window's as
        it is, else the mean weighted by content tokens (in float64)."""
        out = np.empty((len(self.bounds), pooled.shape[1]), dtype=np.float32)
        for text, (start, end) in enumerate(self.bounds):
            if end - start == 1:
                out[text] = pooled[start]
                continue
            weights = np.asarray(self.weights[start:end], dtype=np.float64)
            out[text] = weights @ pooled[start:end].astype(np.float64) / weights.sum()
        return out


def split_windows(handler: EmbeddingHandler, sequences: Sequence[list[int]]) -> SplitPlan:
    """The windows of each tokenised text (uncut, special tokens included); a text within the max length is one
    window, unchanged."""
    limit = handler.info.max_length
    windows: list[list[int]] = []
    weights: list[int] = []
    bounds: list[tuple[int, int]] = []
    for ids in sequences:
        first = len(windows)
        if len(ids) <= limit:
            windows.append(ids)
            weights.append(len(ids))
        else:
            head, content, tail = handler.split_special(ids)
            for start, end in window_spans(len(content), limit - len(head) - len(tail)):
                windows.append([*head, *content[start:end], *tail])
                weights.append(end - start)
        bounds.append((first, len(windows)))
    return SplitPlan(windows, weights, bounds)


def late_chunk_overlapping(
    handler: EmbeddingHandler,
    sequences: list[list[int]],
    forward_tokens: Callable[[list[int]], np.ndarray],
) -> tuple[np.ndarray, int]:
    """Pooled vectors, one per input, and the tokens encoded (every macro window's length, special tokens
    included). ``forward_tokens`` runs the model on one sequence (the engine's: admitted by work and deadline)."""
    head, _, tail = handler.split_special(sequences[0])
    room = handler.info.max_length - len(head) - len(tail)
    contents = [handler.split_special(ids)[1] for ids in sequences]
    for index, content in enumerate(contents):
        if not content:
            raise InvalidInputError(f"late_chunking: input[{index}] has no tokens of its own", param=f"input[{index}]")
    joined = [token for content in contents for token in content]
    overlap, pieces, tokens = overlap_of(room), [], 0
    for number, (start, end) in enumerate(window_spans(len(joined), room)):
        window = [*head, *joined[start:end], *tail]
        rows = forward_tokens(window)[len(head) : len(head) + end - start]
        pieces.append(rows if number == 0 else rows[overlap:])  # the overlap's embeddings: the earlier window's
        tokens += len(window)
    token_vectors = np.concatenate(pieces)
    ends = np.cumsum([len(content) for content in contents]).tolist()
    spans = list(zip([0, *ends[:-1]], ends, strict=True))
    return mean_pool_spans(token_vectors, spans), tokens
