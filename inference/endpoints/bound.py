"""What every response-size bound is made of (response_size.py and the slices' own bounds): ``Bound``, and the
worst-case values the real writers are measured on."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from itertools import accumulate

import numpy as np

WORST_FLOAT32 = np.float32(-1.40372895e-05)  # orjson writes "-0.0000140372895": 16 characters, the most
WORST_SCORE = -1.3118662508860245e-05  # "-0.000013118662508860245": 24 characters, a float64's most
MOST_TOKENS = 2**64 - 1  # the widest integer orjson writes (20 digits): wider than any usage count


@dataclass(frozen=True, slots=True)
class Bound:
    """An answer's bytes at most: ``frame`` around its parts, and each part's (with its separator). ``unit``:
    what a part is (inputs, records, documents); ``what``: what each answers; ``advice``: what shrinks it."""

    frame: int
    parts: list[int]
    unit: str
    what: str = ""
    advice: str = ""

    @property
    def bytes(self) -> int:
        return self.frame + sum(self.parts)

    def fitting(self, limit: int) -> int:
        """How many parts fit in ``limit`` bytes, whichever they are (the largest first)."""
        sums = list(accumulate(sorted(self.parts, reverse=True)))
        return bisect.bisect_right(sums, limit - self.frame)


def digits(count: int) -> int:
    """The widest index of ``count`` parts, in characters."""
    return len(str(max(count - 1, 0)))


def worst(kind: str, dims: int) -> np.ndarray:
    # binary -1: no bit set, -128; ubinary 1: all set, 255; int8 -1: the range's bottom, -128; uint8 1: its top, 255
    value = {"binary": -1.0, "ubinary": 1.0, "int8": -1.0, "uint8": 1.0}.get(kind, WORST_FLOAT32)
    return np.full((1, dims), value, dtype=np.float32)
