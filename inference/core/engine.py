"""ModelEngine: loads the model in the background, warms it up, and runs it behind the micro-batcher.

Readiness of the model lives here: ``ready`` only after the warm-up batch ran; a load failure is kept for
``/ping`` (never raised). Endpoint services submit payloads with a batch key ``(modality, task)``: a
micro-batch never mixes modalities or tasks. Every submission is admitted by work and deadline (budget.py);
the throughput estimate is seeded by a calibration forward after the warm-up. Framework-free: no HTTP, no torch
(the handler holds it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

from .. import metrics
from ..errors import ClientClosedRequestError, HostUnfitError, ModelNotReadyError, WrongModelKindError
from ..settings import Settings
from .batching import MicroBatcher
from .budget import Reservation, WorkBudget, WorkSnapshot
from .forward import BatchKey, Handler, calibrate, forward_for
from .memory_plan import batch_token_budget
from .protocol import (
    ClassifierHandler,
    EmbeddingHandler,
    MultiVectorHandler,
    RerankHandler,
    SparseHandler,
    TextTokenizer,
)
from .types import CLASSIFY, EMBED, MULTIVECTOR, RERANK, SPARSE, ModelInfo

log = logging.getLogger(__name__)


Loader = Callable[[Settings], Handler]
Progress = Callable[[], str | None]  # what the model's loading is waiting for, told to callers (e.g. a copy's bytes)
# What each kind of model answers, told when a request reaches a route of another kind (400).
HINTS = {
    EMBED: "send embedding requests to POST /v1/embeddings, /embed or /invocations",
    RERANK: "send rerank requests ({query, documents}) to POST /v1/rerank, /rerank or /invocations",
    MULTIVECTOR: "send multi-vector requests to POST /v1/multi-vector, /v1/embeddings or /invocations, and rerank "
    "requests to POST /v1/rerank or /rerank",
    CLASSIFY: "send classification requests to POST /v1/classify, /predict, /classify or /invocations",
    SPARSE: "send sparse-vector requests to POST /embed_sparse or /invocations",
}
KIND_NAMES = {EMBED: "embedding model", RERANK: "reranker", MULTIVECTOR: "multi-vector (late-interaction) model",
              CLASSIFY: "classifier", SPARSE: "sparse (SPLADE) model"}  # fmt: skip


def _article(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


class ModelEngine:
    """Owns the handler and the batcher; ``submit`` is safe to call from many threads."""

    def __init__(self, settings: Settings, loader: Loader, progress: Progress | None = None) -> None:
        self._settings = settings
        self._loader = loader
        self._progress = progress
        self._handler: Handler | None = None
        self._batcher: MicroBatcher | None = None
        self._error: str | None = None
        self._public_error: str | None = None
        self._ready = threading.Event()
        self._budget = WorkBudget(settings.request_deadline_s)

    def start_loading(self) -> threading.Thread:
        thread = threading.Thread(target=self.load, name="model-loader", daemon=True)
        thread.start()
        return thread

    def load(self) -> None:
        """Load the model and warm it up; failures are logged and kept for /ping, never raised."""
        started = time.perf_counter()
        try:
            handler = self._loader(self._settings)
            forward = forward_for(handler)
            if self._settings.warmup:
                handler.warmup()
                calibrate(handler, forward, self._budget)
        except Exception as err:  # noqa: BLE001 - any load failure must leave the server up and unready
            self._error = f"{type(err).__name__}: {err}"
            self._public_error = self._error if isinstance(err, HostUnfitError) else None
            log.error("model failed to load: %s", self._error, exc_info=True)
            return
        s = self._settings
        self._batcher = MicroBatcher(
            forward,
            max_batch_size=s.max_batch_size,
            max_batch_tokens=batch_token_budget(
                s.max_batch_tokens, handler.info.max_length, handler.info.max_forward_tokens
            ),
            wait_s=s.batch_wait_ms / 1000,
            max_queue=s.max_queue_inputs,
            budget=self._budget,
        )
        self._handler = handler
        metrics.MODEL_LOAD.set(time.perf_counter() - started)
        self._ready.set()
        log.info("model ready: %s", handler.info)

    def stop(self) -> None:
        if self._batcher is not None:
            self._batcher.stop()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def load_error(self) -> str | None:
        return self._error

    def not_ready_reason(self) -> str:
        """What callers are told (503): never the load error itself, which may name paths, hosts or settings
        (the log line of the failure has it); while loading, what the load waits for when ``progress`` says."""
        if self._public_error:  # written for whoever deploys the server (errors.HostUnfitError)
            return f"model failed to load: {self._public_error}"
        if self._error:
            return "model failed to load; the server log says why"
        return (self._progress() if self._progress is not None else None) or "model is loading"

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    @property
    def info(self) -> ModelInfo:
        """The loaded model's description, either kind; ``ModelNotReadyError`` (503) until it is loaded."""
        if self._handler is None:
            raise ModelNotReadyError(self.not_ready_reason())
        return self._handler.info

    @property
    def handler(self) -> EmbeddingHandler:
        """The loaded embedding model; ``ModelNotReadyError`` (503) while loading or after a failed load, and
        ``WrongModelKindError`` (400) when the loaded model is of another kind."""
        return cast(EmbeddingHandler, self._of_kind(EMBED))

    @property
    def reranker(self) -> RerankHandler:
        """The loaded cross-encoder; ``WrongModelKindError`` (400) when the loaded model is of another kind."""
        return cast(RerankHandler, self._of_kind(RERANK, "reranking needs a reranker (docs/models/rerankers.md)"))

    @property
    def multivector(self) -> MultiVectorHandler:
        """The loaded late-interaction model; ``WrongModelKindError`` (400) for any other kind."""
        return cast(MultiVectorHandler, self._of_kind(MULTIVECTOR, "multi-vector output needs a late-interaction "
                                                      "model (docs/models/multi-vector.md)"))  # fmt: skip

    @property
    def classifier(self) -> ClassifierHandler:
        """The loaded sequence classifier; ``WrongModelKindError`` (400) for any other kind."""
        return cast(ClassifierHandler, self._of_kind(CLASSIFY, "these routes need a classifier model "
                                                    "(docs/models/classifiers.md)"))  # fmt: skip

    @property
    def sparse(self) -> SparseHandler:
        """The loaded SPLADE model; ``WrongModelKindError`` (400) for any other kind."""
        return cast(SparseHandler, self._of_kind(SPARSE, "sparse vectors need a SPLADE model "
                                                 "(docs/models/sparse.md)"))  # fmt: skip

    @property
    def text_tokenizer(self) -> TextTokenizer:
        """The loaded model's tokenizer, whatever its kind (``/tokenize``, ``/decode``, the segmenter)."""
        tokenizer: TextTokenizer = getattr(self._loaded(), "text_tokenizer")  # noqa: B009 - every handler has one
        return tokenizer

    def _of_kind(self, kind: str, need: str = "") -> Handler:
        handler = self._loaded()
        loaded = handler.info.kind
        if loaded != kind:
            raise WrongModelKindError(
                f"this endpoint serves the {KIND_NAMES.get(loaded, loaded)} {handler.info.name!r}, not "
                f"{_article(KIND_NAMES[kind])}: {HINTS.get(loaded, '')}" + (f"; {need}" if need else "")
            )
        return handler

    def _loaded(self) -> Handler:
        if self._handler is None:
            raise ModelNotReadyError(self.not_ready_reason())
        return self._handler

    @property
    def budget(self) -> WorkBudget:
        return self._budget

    def work(self) -> WorkSnapshot:
        """Work queued on this worker (tokens, requests) and its throughput estimate (``/ping``)."""
        return self._budget.snapshot()

    def default_deadline(self) -> float:
        """The deadline of a request arriving now (``EMB_REQUEST_DEADLINE_S``), absolute ``time.monotonic()``."""
        return time.monotonic() + self._settings.request_deadline_s

    def reserve(self, cost: int, inputs: int, deadline: float) -> Reservation:
        """Admit ``cost`` (a lower bound of the request's tokens) before it is measured exactly: 413 / 503 at once
        when even that cannot be done by ``deadline``. The first ``submit`` / ``forward_tokens`` given the
        reservation swaps it for the exact cost; release it if the request ends before."""
        return self._budget.reserve(cost, inputs, deadline)

    def submit(self, payloads: Sequence[Any], key: BatchKey, costs: Sequence[int] | None = None,
               **options: Any) -> np.ndarray:  # fmt: skip
        """Run ``payloads`` through the model in shared micro-batches; ``(n, d)`` vectors in input order
        (``submit_each``'s outputs, stacked)."""
        return np.stack(self.submit_each(payloads, key, costs, **options))

    def submit_each(
        self,
        payloads: Sequence[Any],
        key: BatchKey,
        costs: Sequence[int] | None = None,
        *,
        deadline: float | None = None,
        cancelled: threading.Event | None = None,
        reservation: Reservation | None = None,
    ) -> list[np.ndarray]:
        """Each payload's output, in input order (shapes may differ: a multi-vector model's tokens), from shared
        micro-batches. Admitted by work and ``deadline`` (413 / 503 at once); dropped unrun once the deadline
        passed or ``cancelled`` is set (batching.py)."""
        if self._batcher is None:
            raise ModelNotReadyError(self.not_ready_reason())
        return self._batcher.submit_each(payloads, key, costs, deadline=deadline, cancelled=cancelled,
                                         reservation=reservation)  # fmt: skip

    def forward_tokens(
        self,
        ids: Sequence[int],
        task: str | None,
        *,
        deadline: float | None,
        cancelled: threading.Event | None,
        reservation: Reservation | None = None,
    ) -> np.ndarray:
        """Per-token vectors of one sequence (late chunking), run in the calling thread but admitted like
        ``submit``: its tokens count as queued work until it is done."""
        handler = self.handler
        self._budget.admit_reserved(reservation, len(ids), 1, deadline)
        try:
            if cancelled is not None and cancelled.is_set():
                raise ClientClosedRequestError("the client closed the connection; its work was dropped")
            return handler.forward_tokens(ids, task)
        finally:
            self._budget.release(len(ids), 1)
