"""ModelEngine: loads the model in the background, warms it up, and runs it behind the micro-batcher.

Readiness of the model lives here: ``ready`` only after the warm-up batch ran; a load failure is kept for
``/ping`` (never raised). Endpoint services submit payloads with a batch key ``(modality, task)``: a
micro-batch never mixes modalities or tasks. Framework-free: no HTTP, no torch (the handler holds it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any, cast

import numpy as np

from ..errors import ModelNotReadyError
from ..settings import Settings
from .batching import MicroBatcher
from .heap import HeapTrimmer
from .protocol import EmbeddingHandler, ImageEmbeddingHandler

log = logging.getLogger(__name__)

TEXT, IMAGE = "text", "image"
BatchKey = tuple[str, str | None]  # (modality, task)
Loader = Callable[[Settings], EmbeddingHandler]


def forward_for(handler: EmbeddingHandler, heap: HeapTrimmer | None = None) -> Callable[..., np.ndarray]:
    """The batcher's forward: text batches go to ``forward`` with their task, image batches to
    ``forward_images``. After each pass freed host memory goes back to the OS once enough piled up (heap.py)."""
    trimmer = heap or HeapTrimmer()

    def forward(payloads: Sequence[Any], key: Hashable) -> np.ndarray:
        kind, task = cast(BatchKey, key)  # every key is a BatchKey (engine.submit)
        try:
            if kind == IMAGE:
                assert isinstance(handler, ImageEmbeddingHandler)
                return handler.forward_images(payloads)
            return handler.forward(payloads, task)
        finally:
            trimmer.after_forward()

    return forward


class ModelEngine:
    """Owns the handler and the batcher; ``submit`` is safe to call from many threads."""

    def __init__(self, settings: Settings, loader: Loader) -> None:
        self._settings = settings
        self._loader = loader
        self._handler: EmbeddingHandler | None = None
        self._batcher: MicroBatcher | None = None
        self._error: str | None = None
        self._ready = threading.Event()

    def start_loading(self) -> threading.Thread:
        thread = threading.Thread(target=self.load, name="model-loader", daemon=True)
        thread.start()
        return thread

    def load(self) -> None:
        """Load the model and warm it up; failures are logged and kept for /ping, never raised."""
        try:
            handler = self._loader(self._settings)
            if self._settings.warmup:
                handler.warmup()
        except Exception as err:  # noqa: BLE001 - any load failure must leave the server up and unready
            self._error = f"{type(err).__name__}: {err}"
            log.error("model failed to load: %s", self._error, exc_info=True)
            return
        s = self._settings
        self._batcher = MicroBatcher(
            forward_for(handler),
            max_batch_size=s.max_batch_size,
            max_batch_tokens=max(s.max_batch_tokens, handler.info.max_length),
            wait_s=s.batch_wait_ms / 1000,
            max_queue=s.max_queue_inputs,
        )
        self._handler = handler
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
        return f"model failed to load: {self._error}" if self._error else "model is loading"

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    @property
    def handler(self) -> EmbeddingHandler:
        """The loaded handler; ``ModelNotReadyError`` (503) while loading or after a failed load."""
        if self._handler is None:
            raise ModelNotReadyError(self.not_ready_reason())
        return self._handler

    def submit(self, payloads: Sequence[Any], key: BatchKey, costs: Sequence[int] | None = None) -> np.ndarray:
        """Run ``payloads`` through the model in shared micro-batches; ``(n, d)`` vectors in input order."""
        if self._batcher is None:
            raise ModelNotReadyError(self.not_ready_reason())
        return self._batcher.submit(payloads, key, costs)
