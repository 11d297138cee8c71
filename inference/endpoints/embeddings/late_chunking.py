"""Late chunking (arXiv 2409.04701): encode the inputs as one sequence, mean-pool each input's tokens.

When the inputs together are longer than the model's maximum ("long late chunking"), they are packed, in order,
into windows of whole consecutive inputs that each fit the maximum, and each window is encoded as one sequence:
an input's vector then has the context of the inputs sharing its window. An input longer than the maximum on its
own is cut to it with ``truncate`` (it fills a window alone), else refused with a 400 naming it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...core.protocol import EmbeddingHandler
from ...errors import InvalidInputError
from .postprocess import mean_pool_spans


def _windows(contents: list[list[int]], room: int) -> list[list[int]]:
    """Consecutive input indices packed greedily into windows of at most ``room`` content tokens."""
    windows: list[list[int]] = [[]]
    used = 0
    for index, content in enumerate(contents):
        if windows[-1] and used + len(content) > room:
            windows.append([])
            used = 0
        windows[-1].append(index)
        used += len(content)
    return windows


def late_chunk(
    handler: EmbeddingHandler,
    sequences: list[list[int]],
    truncate: bool,
    forward_tokens: Callable[[list[int]], np.ndarray],
) -> tuple[np.ndarray, int]:
    """Pooled vectors, one per input, and the tokens encoded (the usage: every window's length).

    ``forward_tokens`` runs the model on one joined sequence (the engine's: admitted by work and deadline)."""
    limit = handler.info.max_length
    head, _, tail = handler.split_special(sequences[0])
    room = limit - len(head) - len(tail)
    contents = [handler.split_special(ids)[1] for ids in sequences]
    for index, content in enumerate(contents):
        if not content:
            raise InvalidInputError(f"late_chunking: input[{index}] has no tokens of its own", param=f"input[{index}]")
        if len(content) > room:
            if not truncate:
                raise InvalidInputError(
                    f"late_chunking: input[{index}] has {len(content) + len(head) + len(tail)} tokens, more than "
                    f"the model's maximum of {limit}; shorten it or send truncate=true",
                    param=f"input[{index}]",
                )
            contents[index] = content[:room]
    pooled = np.empty((len(sequences), 0), dtype=np.float32)
    tokens = 0
    for window in _windows(contents, room):
        joined, spans = list(head), []
        for index in window:
            spans.append((len(joined), len(joined) + len(contents[index])))
            joined.extend(contents[index])
        joined.extend(tail)
        vectors = mean_pool_spans(forward_tokens(joined), spans)
        if pooled.shape[1] == 0:
            pooled = np.empty((len(sequences), vectors.shape[1]), dtype=vectors.dtype)
        pooled[window] = vectors
        tokens += len(joined)
    return pooled, tokens
