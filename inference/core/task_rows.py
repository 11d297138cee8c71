"""Token ids that carry their own task, for models that pick an adapter per row (PEFT task LoRA: handlers/lora.py).

Such a model's handler says ``mixes_tasks = True``; the embeddings service then submits every text with the batch
key ``(TEXT, None)`` and each row as a ``TaskRow``, so requests of different tasks share micro-batches and forward
passes. A row that is a plain sequence runs with its batch's task, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class TaskRow(list[int]):
    """One input's token ids (already carrying its task's prompt) and the task whose adapter it runs with."""

    __slots__ = ("task",)

    def __init__(self, ids: Iterable[int], task: str | None) -> None:
        super().__init__(ids)
        self.task = task


def row_task(ids: Sequence[int], batch_task: str | None) -> str | None:
    """The task ``ids`` runs with: its own (a ``TaskRow``) or its batch's."""
    return ids.task if isinstance(ids, TaskRow) else batch_task


def mixes_tasks(handler: object) -> bool:
    """Whether ``handler`` takes rows of several tasks in one batch (its ``mixes_tasks`` attribute)."""
    return bool(getattr(handler, "mixes_tasks", False))
