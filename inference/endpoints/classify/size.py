"""The most bytes a classify answer takes, before any model work (response_size.py's bound for this slice): the
real writer's output for one input with every score as long as a float64 gets, the longest label predicted, and
the widest numbers; every input's answer lists the same labels."""

from __future__ import annotations

import uuid
from dataclasses import replace

import numpy as np

from ...codecs.json import dumps
from ...core.types import ModelInfo
from ..bound import MOST_TOKENS, WORST_SCORE, Bound, digits
from .response import build_response
from .types import ClassifyCall, ClassifyResult

CREATED, ANSWER_ID = MOST_TOKENS, f"classify-{uuid.UUID(int=0)}"  # Infinity's, at their widest


def answered_labels(call: ClassifyCall, info: ModelInfo) -> tuple[str, ...]:
    """The labels an answer to ``call`` lists: the request's (zero-shot, or a classifier's subset), else the
    model's own."""
    return call.request.labels if call.request.labels is not None else info.labels


def classify_bound(call: ClassifyCall, info: ModelInfo, frame: int | None = None) -> Bound:
    """``call``'s answer at most (``frame``: the bytes around the inputs' answers, when another writer's)."""
    labels = answered_labels(call, info)
    count = len(call.request.inputs)
    longest = max(labels, key=lambda label: len(dumps(label)), default="")
    ordered = (longest, *[label for label in labels if label != longest])  # the longest one predicted (Jina)
    worst = ClassifyResult(np.full((1, len(ordered)), WORST_SCORE), ordered, MOST_TOKENS, info.name)
    empty = ClassifyResult(np.zeros((0, len(ordered))), ordered, MOST_TOKENS, info.name)
    one = replace(call, request=replace(call.request, inputs=call.request.inputs[:1]), single=False)
    none = replace(one, request=replace(one.request, inputs=()))
    around = len(dumps(build_response(none, empty, created=CREATED, answer_id=ANSWER_ID)))
    answer = len(dumps(build_response(one, worst, created=CREATED, answer_id=ANSWER_ID)))
    part = answer - around + 1 + digits(count)  # with its separator and its index at the widest
    what = f"scores of {len(labels)} labels"
    advice = "send fewer inputs" + (" or labels" if call.request.labels else "")
    return Bound(around if frame is None else frame, [part] * count, "inputs", what, advice)
