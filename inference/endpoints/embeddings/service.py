"""EmbeddingService: validate a request against the model, tokenise, submit to the engine, post-process.

No HTTP types here. The engine (core/engine.py) owns the model, its loading and its batcher. Every model call
of a request carries its deadline and cancellation event: admitted by work and deadline, dropped unrun when
nobody waits for it any more (core/budget.py, core/batching.py).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from ...codecs.images import ImagePolicy
from ...codecs.pixel_gate import TRIM_FREE_BYTES, PixelGate
from ...core.budget import Reservation
from ...core.engine import ModelEngine
from ...core.forward import IMAGE, TEXT
from ...core.heap import HeapTrimmer
from ...core.protocol import EmbeddingHandler, ImageEmbeddingHandler
from ...core.task_rows import TaskRow, mixes_tasks
from ...core.types import ImageInput, ModelInfo, TextInput
from ...errors import InvalidInputError
from ..token_bounds import least_tokens
from .image_inputs import IMAGE_BATCH_COST, RequestImages
from .late_chunking import late_chunk
from .long_inputs import late_chunk_overlapping, split_windows
from .postprocess import finish_vectors
from .types import EmbedRequest, EmbedResult

UNCUT = 1 << 62  # the admission bound's per-text cap when long texts are split (never cut): none
# Jina's task names: accepted (and ignored) by models that define no tasks, so Jina clients work unchanged.
JINA_TASKS = ("retrieval.query", "retrieval.passage", "text-matching", "classification", "separation")


class EmbeddingService:
    """``embed`` is safe to call from many threads."""

    def __init__(self, engine: ModelEngine, image_policy: ImagePolicy) -> None:
        self._engine = engine
        self._image_policy = image_policy
        # One per worker: its decodes at once; after a large one the freed heap goes back to the OS.
        self._decode_gate = PixelGate(image_policy.decode_pixels,
                                      release_heap=HeapTrimmer(TRIM_FREE_BYTES).after_forward)  # fmt: skip

    def default_deadline(self) -> float:
        """The deadline of a request arriving now: ``EMB_REQUEST_DEADLINE_S`` from now (``time.monotonic()``)."""
        return self._engine.default_deadline()

    def embed(
        self, request: EmbedRequest, deadline: float | None = None, cancelled: threading.Event | None = None
    ) -> EmbedResult:
        """Embed ``request`` by ``deadline`` (absolute ``time.monotonic()``; default: ``default_deadline()``);
        ``cancelled`` is set when its client is gone. 413 / 503 when it cannot finish in time (core/budget.py)."""
        deadline = self.default_deadline() if deadline is None else deadline
        handler = self._engine.handler
        info = handler.info
        _validate(request, info)
        task = request.prompt_name or (request.task if request.task in info.tasks else None) or next(
            (name for name in request.task_candidates if name in info.tasks), None)
        text_at = [i for i, item in enumerate(request.inputs) if isinstance(item, TextInput)]
        image_at = [i for i, item in enumerate(request.inputs) if isinstance(item, ImageInput)]
        texts = [_text(request, i) for i in text_at]
        images = RequestImages(request.inputs, image_at, self._image_policy)  # 400s from headers, nothing decoded
        # Admitted first on a lower bound of its cost, before tokenising and decoding (which cost CPU the model
        # needs when most requests are refused); the first submit swaps the reservation for the exact cost.
        least = least_tokens(texts, UNCUT if request.split_long else info.max_length) + images.admission_cost()
        admitted = _Admitted(deadline, cancelled, self._engine.reserve(least, len(request.inputs), deadline))
        try:
            sequences = _tokenize(handler, request, texts, task)
            if not request.truncate and not request.split_long:
                _check_lengths(sequences, text_at, info.max_length)
            if request.late_chunking:
                forward = partial(self._engine.forward_tokens, task=task, **admitted.options())
                if request.split_long:
                    pooled, tokens = late_chunk_overlapping(handler, sequences, forward)
                else:
                    pooled, tokens = late_chunk(handler, sequences, request.truncate, forward)
            elif request.split_long:  # texts only (_validate): every window is an input of its own
                plan = split_windows(handler, sequences)
                windows = list(range(len(plan.sequences)))
                pooled, tokens = self._pooled(handler, len(windows), task, plan.sequences, admitted, windows, images)
                pooled = plan.combine(pooled)
            else:
                count = len(request.inputs)
                pooled, tokens = self._pooled(handler, count, task, sequences, admitted, text_at, images)
        finally:
            admitted.reservation.release()  # no-op once a submit took it
        vectors = finish_vectors(pooled, request.dimensions, request.normalized)
        return EmbedResult(vectors=vectors, prompt_tokens=tokens, model=info.name)

    def _pooled(self, handler: EmbeddingHandler, count: int, task: str | None,
                sequences: list[list[int]], admitted: _Admitted, text_at: list[int],
                images: RequestImages) -> tuple[np.ndarray, int]:  # fmt: skip
        """One vector per input of ``count`` (texts at ``text_at``, images at ``images``' positions), each kind
        through the batcher. Images are decoded first, while the reservation that counts their pixels is held."""
        pooled = np.empty((count, handler.info.dimensions), dtype=np.float32)
        tokens = sum(len(ids) for ids in sequences)
        payloads: list[object] = []
        if images:
            assert isinstance(handler, ImageEmbeddingHandler)
            payloads, image_usage = images.prepare(handler, self._decode_gate, admitted.deadline, admitted.cancelled)
            tokens += image_usage
        if sequences and mixes_tasks(handler):  # adapters chosen per row: every task shares one batch key
            rows = [TaskRow(ids, task) for ids in sequences]
            pooled[text_at] = self._engine.submit(rows, (TEXT, None), **admitted.options())
        elif sequences:
            pooled[text_at] = self._engine.submit(sequences, (TEXT, task), **admitted.options())
        if payloads:
            costs = [IMAGE_BATCH_COST] * len(payloads)
            pooled[images.positions] = self._engine.submit(payloads, (IMAGE, None), costs, **admitted.options())
        return pooled, tokens


@dataclass(frozen=True, slots=True)
class _Admitted:
    """A request's deadline, cancellation and the reservation its first submit swaps for its exact cost."""

    deadline: float
    cancelled: threading.Event | None
    reservation: Reservation

    def options(self) -> dict[str, Any]:
        return {"deadline": self.deadline, "cancelled": self.cancelled, "reservation": self.reservation}


def _text(request: EmbedRequest, index: int) -> str:
    item = request.inputs[index]
    assert isinstance(item, TextInput)
    return item.text


def _tokenize(handler: EmbeddingHandler, request: EmbedRequest, texts: list[str], task: str | None) -> list[list[int]]:
    """Token ids of ``texts``; with ``truncate``, cut to the model's maximum at ``truncation_direction``'s end
    (left: the last tokens are kept, the special tokens around them too)."""
    if not texts:
        return []
    truncate = request.truncate and not request.split_long  # split: every token is embedded, in windows
    left = truncate and request.truncation_direction == "left"
    sequences = handler.tokenize(texts, task, truncate=truncate and not left)
    return [_cut_left(handler, ids, handler.info.max_length) for ids in sequences] if left else sequences


def _cut_left(handler: EmbeddingHandler, ids: list[int], max_length: int) -> list[int]:
    if len(ids) <= max_length:
        return ids
    head, content, tail = handler.split_special(ids)
    keep = max(0, max_length - len(head) - len(tail))
    return [*head, *content[len(content) - keep :], *tail]


def _validate(request: EmbedRequest, info: ModelInfo) -> None:
    images = [i for i, item in enumerate(request.inputs) if isinstance(item, ImageInput)]
    if images and "image" not in info.modalities:
        raise InvalidInputError(f"input[{images[0]}] is an image but model {info.name} embeds text only")
    if request.late_chunking and (images or not info.late_chunking):
        raise InvalidInputError(f"late_chunking needs text inputs and a model that offers it ({info.name})")
    if request.split_long and images:
        raise InvalidInputError(f"long_input=split applies to texts; input[{images[0]}] is an image",
                                param="long_input")  # fmt: skip
    if request.dimensions is not None and request.dimensions > info.dimensions:
        raise InvalidInputError(
            f"dimensions={request.dimensions} exceeds the model's {info.dimensions}", param="dimensions"
        )
    if request.prompt_name is not None and request.prompt_name not in info.tasks:
        valid = ", ".join(info.tasks) or "none (send no prompt_name)"
        raise InvalidInputError(
            f"unknown prompt_name {request.prompt_name!r}; this model's prompts: {valid}", param="prompt_name"
        )
    if request.task is not None and request.task not in info.tasks:
        if info.tasks or request.task not in JINA_TASKS:
            valid = ", ".join(info.tasks or JINA_TASKS)
            raise InvalidInputError(f"unknown task {request.task!r}; valid tasks: {valid}", param="task")


def _check_lengths(sequences: Sequence[Sequence[int]], positions: Sequence[int], max_length: int) -> None:
    for index, ids in zip(positions, sequences, strict=True):
        if len(ids) > max_length:
            raise InvalidInputError(
                f"input[{index}] has {len(ids)} tokens, more than the model's maximum of {max_length}; "
                "shorten it or send truncate=true",
                param=f"input[{index}]",
            )
