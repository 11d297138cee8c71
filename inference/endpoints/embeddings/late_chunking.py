"""Late chunking (arXiv 2409.04701): encode all inputs as one sequence, mean-pool each input's tokens."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...core.protocol import EmbeddingHandler
from ...errors import InvalidInputError
from .postprocess import mean_pool_spans


def _join(handler: EmbeddingHandler, sequences: list[list[int]]) -> tuple[list[int], list[int], list[tuple[int, int]]]:
    """One sequence (the first input's leading specials, every input's content, its trailing specials) and
    each input's span in it."""
    head, _, tail = handler.split_special(sequences[0])
    joined, spans = list(head), []
    for ids in sequences:
        _, content, _ = handler.split_special(ids)
        spans.append((len(joined), len(joined) + len(content)))
        joined.extend(content)
    joined.extend(tail)
    return joined, list(tail), spans


def late_chunk(
    handler: EmbeddingHandler,
    sequences: list[list[int]],
    truncate: bool,
    forward_tokens: Callable[[list[int]], np.ndarray],
) -> tuple[np.ndarray, list[int]]:
    """Pooled vectors, one per input, and the joined sequence that was encoded (its length is the usage).

    ``forward_tokens`` runs the model on the joined sequence (the engine's: admitted by work and deadline)."""
    joined, tail, spans = _join(handler, sequences)
    limit = handler.info.max_length
    if len(joined) > limit:
        if not truncate:
            raise InvalidInputError(
                f"late_chunking: the concatenated inputs have {len(joined)} tokens, more than the "
                f"model's maximum of {limit}; send fewer inputs or truncate=true",
                param="input",
            )
        joined = joined[: limit - len(tail)] + tail
    end = len(joined) - len(tail)
    spans = [(min(a, end), min(b, end)) for a, b in spans]
    empty = [i for i, (a, b) in enumerate(spans) if a >= b]
    if empty:
        raise InvalidInputError(
            f"late_chunking: input[{empty[0]}] falls beyond the model's maximum of {limit} tokens",
            param=f"input[{empty[0]}]",
        )
    token_vectors = forward_tokens(joined)
    return mean_pool_spans(token_vectors, spans), joined
