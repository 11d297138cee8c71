"""Vector post-processing: Matryoshka truncation and L2 normalisation (numpy, batch-wide)."""

from __future__ import annotations

import numpy as np


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalized: np.ndarray = vectors / np.maximum(norms, 1e-12)
    return normalized


def finish_vectors(pooled: np.ndarray, dimensions: int | None, normalized: bool) -> np.ndarray:
    """Truncate to ``dimensions`` (Matryoshka) first, then re-normalise when ``normalized``."""
    vectors = pooled[:, :dimensions] if dimensions else pooled
    vectors = l2_normalize(vectors) if normalized else vectors
    return np.ascontiguousarray(vectors, dtype=np.float32)


def mean_pool_spans(token_vectors: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """Mean of ``token_vectors[start:end]`` for each span (late chunking)."""
    return np.stack([token_vectors[start:end].mean(axis=0) for start, end in spans])
