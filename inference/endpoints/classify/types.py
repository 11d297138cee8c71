"""Framework-free request and result types of the classify slice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ...core.types import InputItem

# The answer's shape: Jina's ``{"usage", "data": [{"object": "classification", ...}]}``, TEI's bare lists of
# ``{"score", "label"}``, or Infinity's ``{"object": "classify", "data": [[...]], ...}``.
ClassifyShape = Literal["jina", "tei", "infinity"]
Pair = tuple[str, str]  # a text and its text_pair (TEI's ``[text, text_pair]``), read together by the classifier
ClassifyInput = InputItem | Pair


@dataclass(frozen=True, slots=True)
class ClassifyRequest:
    """``labels``: zero-shot candidates (embedding models), or a subset of a classifier's own labels (None: all
    of them). ``raw_scores``: a classifier's logits instead of its activation."""

    inputs: tuple[ClassifyInput, ...]
    labels: tuple[str, ...] | None = None
    raw_scores: bool = False
    truncate: bool = True


@dataclass(frozen=True, slots=True)
class ClassifyCall:
    """A parsed request and the shape to answer in. ``single``: TEI's one input sent alone (a string or one pair),
    answered as one list rather than a list of lists."""

    request: ClassifyRequest
    shape: ClassifyShape = "jina"
    single: bool = False


@dataclass(frozen=True, slots=True)
class ClassifyResult:
    scores: np.ndarray  # (inputs, labels) float32, request order; columns in ``labels`` order
    labels: tuple[str, ...]
    tokens: int
    model: str
