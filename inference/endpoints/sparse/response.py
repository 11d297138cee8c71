"""The sparse answer (the one writer of it): TEI's list, one per input, of its nonzero entries
``{"index": int, "value": float}`` in ascending index order."""

from __future__ import annotations

from typing import Any

import numpy as np

from .types import SparseResult


def sparse_entries(vector: np.ndarray) -> list[dict[str, Any]]:
    """One input's answer: its nonzero entries (``SPARSE_ENTRY`` records) as TEI writes them."""
    return [{"index": int(index), "value": float(value)}
            for index, value in zip(vector["index"].tolist(), vector["value"].tolist(), strict=True)]  # fmt: skip


def build_response(result: SparseResult) -> list[list[dict[str, Any]]]:
    return [sparse_entries(vector) for vector in result.vectors]
