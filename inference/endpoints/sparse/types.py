"""Framework-free request and result types of the sparse slice."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class SparseRequest:
    """A validated request: the texts, whether over-long ones are cut, and the named prompt (None: the default)."""

    inputs: tuple[str, ...]
    truncate: bool = False
    prompt_name: str | None = None


@dataclass(frozen=True, slots=True)
class SparseResult:
    vectors: list[np.ndarray]  # per input, its nonzero entries (core.protocol.SPARSE_ENTRY), ascending index
    tokens: int
    model: str
