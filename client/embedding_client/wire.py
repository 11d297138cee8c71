"""The request and response bodies: inputs as JSON items, requests cut to fit the body limit, embeddings
decoded into numpy arrays, rerank results merged across requests."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from .sizing import FRAME_BYTES

_DTYPES = {"float": np.float32, "base64": np.float32, "binary": np.int8, "ubinary": np.uint8, "int8": np.int8,
           "uint8": np.uint8}

Input = str | dict[str, str] | bytes


def item(value: Input) -> str | dict[str, str]:
    if isinstance(value, bytes):
        return {"image": base64.b64encode(value).decode("ascii")}
    if isinstance(value, str) or (isinstance(value, dict) and len(value) == 1 and {"text", "image"} & set(value)):
        return value
    raise TypeError(f"inputs must be str, bytes or {{'text'|'image': str}}, got {value!r:.80}")


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def plan_batches(
    items: Sequence[Any], options: dict[str, Any], batch_size: int, max_body_bytes: int, key: str = "input",
    answer_bytes: int | Sequence[int] = 0, max_answer_bytes: int | None = None, alone_if_over: bool = False,
) -> list[range]:
    """Split ``items`` into consecutive ranges whose request body ``{**options, key: [...]}`` fits, and whose
    answer (``FRAME_BYTES`` and at most ``answer_bytes`` per item: one number, or one per item) fits
    ``max_answer_bytes`` (None: any). An item whose answer alone may not fit raises ``ValueError``, or with
    ``alone_if_over`` goes alone (the bound is the client's guess; the server judges it)."""
    answers = [answer_bytes] * len(items) if isinstance(answer_bytes, int) else list(answer_bytes)
    budget = None if max_answer_bytes is None else max_answer_bytes - FRAME_BYTES
    overhead = len(dumps({**options, key: []}))
    batches: list[range] = []
    start, size, answered = 0, overhead, 0
    for index, item in enumerate(items):
        answer = answers[index]
        if budget is not None and answer > budget and not alone_if_over:
            raise ValueError(f"one {key}'s answer may take {FRAME_BYTES + answer} bytes, more than the "
                             f"{max_answer_bytes} the endpoint returns: ask for fewer dimensions or another type")
        item_bytes = len(dumps(item))
        if overhead + item_bytes > max_body_bytes:
            raise ValueError(f"{key}[{index}] alone makes a {overhead + item_bytes}-byte body (> {max_body_bytes})")
        over = budget is not None and answered + answer > budget
        if index > start and (index - start >= batch_size or size + 1 + item_bytes > max_body_bytes or over):
            batches.append(range(start, index))
            start, size, answered = index, overhead, 0
        size += item_bytes + (1 if index > start else 0)  # a comma before every input but the first
        answered += answer
    if start < len(items):
        batches.append(range(start, len(items)))
    return batches


def decode_embeddings(data: list[dict[str, Any]], types: Sequence[str], as_dict: bool) -> dict[str, np.ndarray]:
    """Response ``data`` (sorted by ``index``) -> one (n, d) array per type, as the wire types name them."""
    rows = [entry["embedding"] for entry in sorted(data, key=lambda entry: entry["index"])]
    out: dict[str, np.ndarray] = {}
    for kind in types:
        values = [row[kind] if as_dict else row for row in rows]
        if kind == "base64":
            out[kind] = np.stack([np.frombuffer(base64.b64decode(v), dtype="<f4") for v in values]).astype(np.float32)
        else:
            out[kind] = np.asarray(values, dtype=_DTYPES[kind])
    return out
