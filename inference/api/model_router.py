"""Several models in one server (model_set.py): each model keeps its own engine, batcher, work budget and endpoint
slices, so one model's queue never holds another's requests; the routes pick the model per request.

A request names its model in the body's ``model`` field (OpenAI, Jina, Cohere and Vertex's ``parameters.model``)
or the ``X-Model`` header (bodies without such a field: TEI's, Batch Transform records). An unknown name is a 404
naming the served ones. Without a name a route gets the first served model of a kind it answers (``/v1/rerank`` the
first reranker, ``/v1/embeddings`` the first embedding model); ``/invocations`` and Vertex's predict route the first
reranker when the JSON body has a ``query``, else the first model.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Response, request

from ..core.budget import WorkBudget, WorkSnapshot
from ..core.engine import ModelEngine
from ..core.memory_plan import DeviceShare, device_share
from ..core.types import CLASSIFY as CLASSIFY_KIND
from ..core.types import EMBED as EMBED_KIND
from ..core.types import MULTIVECTOR as MULTIVECTOR_KIND
from ..core.types import RERANK as RERANK_KIND
from ..core.types import SPARSE as SPARSE_KIND
from ..core.types import ModelInfo
from ..errors import ModelNotReadyError, NotFoundError, OverloadedError
from .route_table import (
    CLASSIFY,
    CLASSIFY_INFINITY,
    COHERE_EMBED,
    COHERE_RERANK,
    EMBED,
    MULTIVECTOR,
    PREDICT,
    RERANK,
    SPARSE,
)

View = Callable[..., Response]
MODEL_HEADER = "X-Model"
# The kinds that answer each route, in order of preference, for a request that names no model; routes not listed
# (invocations, Vertex, the tokenizer routes) take any kind.
KINDS_OF_ACTION: dict[str, tuple[str, ...]] = {
    EMBED: (EMBED_KIND, MULTIVECTOR_KIND), COHERE_EMBED: (EMBED_KIND,), RERANK: (RERANK_KIND, MULTIVECTOR_KIND),
    COHERE_RERANK: (RERANK_KIND, MULTIVECTOR_KIND), MULTIVECTOR: (MULTIVECTOR_KIND,), SPARSE: (SPARSE_KIND,),
    CLASSIFY: (CLASSIFY_KIND, EMBED_KIND), PREDICT: (CLASSIFY_KIND,), CLASSIFY_INFINITY: (CLASSIFY_KIND,),
}  # fmt: skip


@dataclass(frozen=True)
class ModelSlot:
    """One served model: its name, its kind (from its folder, known before it loads), its engine and views."""

    name: str
    kind: str
    engine: ModelEngine
    views: dict[str, View]
    weight_bytes: int = 0  # its weight files' size: reserved on the device while the models before it load


class GroupBudget:
    """The head gate's check before a body is read: refused only when every model's queue would refuse it."""

    def __init__(self, budgets: Sequence[WorkBudget]) -> None:
        self._budgets = budgets

    def refuse_unread(self, body_bytes: int | None) -> OverloadedError | None:
        refusals = [budget.refuse_unread(body_bytes) for budget in self._budgets]
        return refusals[0] if all(refusal is not None for refusal in refusals) else None


class EngineGroup:
    """What the server, the health routes and the head gate ask of "the engine", answered for every model: ready
    once all are, work summed; ``info``: the first model's. The models load one after the other, so each plans its
    memory with the others' weights already in place."""

    def __init__(self, slots: Sequence[ModelSlot]) -> None:
        self.slots = list(slots)
        self.budget = GroupBudget([slot.engine.budget for slot in self.slots])

    @property
    def ready(self) -> bool:
        return all(slot.engine.ready for slot in self.slots)

    @property
    def load_error(self) -> str | None:
        return next((f"{s.name}: {s.engine.load_error}" for s in self.slots if s.engine.load_error), None)

    def wait_ready(self, timeout: float | None = None) -> bool:
        end = None if timeout is None else time.monotonic() + timeout
        for slot in self.slots:
            left = None if end is None else max(0.0, end - time.monotonic())
            if not slot.engine.wait_ready(left):
                return False
        return True

    def not_ready_reason(self) -> str:
        waiting = [slot for slot in self.slots if not slot.engine.ready]
        return "; ".join(f"{slot.name}: {slot.engine.not_ready_reason()}" for slot in waiting) or "ready"

    @property
    def info(self) -> ModelInfo:
        if not self.ready:
            raise ModelNotReadyError(self.not_ready_reason())
        return self.slots[0].engine.info

    def infos(self) -> list[ModelInfo]:
        return [slot.engine.info for slot in self.slots]

    def work(self) -> WorkSnapshot:
        works = [slot.engine.work() for slot in self.slots]
        rates = [work.tokens_per_s for work in works if work.tokens_per_s is not None]
        return WorkSnapshot(sum(w.queued_tokens for w in works), sum(w.queued_requests for w in works),
                            min(rates) if rates else None)  # fmt: skip

    def load(self) -> None:
        """Each model in turn, planning its device memory for its share: the weights of the models after it kept
        free, the rest split between all (core/memory_plan.py ``device_share``)."""
        for index, slot in enumerate(self.slots):
            later = sum(other.weight_bytes for other in self.slots[index + 1 :])
            with device_share(DeviceShare(later_weight_bytes=later, models=len(self.slots))):
                slot.engine.load()

    def start_loading(self) -> threading.Thread:
        thread = threading.Thread(target=self.load, name="model-loader", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        for slot in self.slots:
            slot.engine.stop()


def _named(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    parameters = body.get("parameters")
    name = body.get("model") or (parameters.get("model") if isinstance(parameters, dict) else None)
    return name if isinstance(name, str) and name else None


def _json_body() -> Any:
    if not (request.content_type or "").split(";")[0].strip().lower().endswith("json"):
        return None
    try:
        return json.loads(request.get_data(cache=True))  # cached: the model's view reads the same bytes
    except ValueError:
        return None  # the model's view answers the parse error


def route_views(slots: Sequence[ModelSlot], actions: Sequence[str]) -> dict[str, View]:
    """One view per action that hands each request to the view of the model it names (or the route's default)."""
    by_name = {slot.name: slot for slot in slots}
    served = ", ".join(f"{slot.name} ({slot.kind})" for slot in slots)

    def pick(action: str) -> ModelSlot:
        body = _json_body()
        name = request.headers.get(MODEL_HEADER) or _named(body)
        if name is not None:
            if name not in by_name:
                raise NotFoundError(f"model {name!r} is not served here; served models: {served}")
            return by_name[name]
        kinds = KINDS_OF_ACTION.get(action)
        if kinds is None and isinstance(body, dict) and "query" in body:
            kinds = (RERANK_KIND, MULTIVECTOR_KIND)
        for kind in kinds or ():
            found = next((slot for slot in slots if slot.kind == kind), None)
            if found is not None:
                return found
        return slots[0]

    def view_of(action: str) -> View:
        def view(**path: str) -> Response:  # the route's path parameters, as Flask passes them (e.g. <name>)
            return pick(action).views[action](**path)

        return view

    return {action: view_of(action) for action in actions}

