"""EmbeddingService: validate a request against the model, tokenise, batch, post-process.

No HTTP types here. Readiness lives here too: the model loads in a background thread and the
service reports ``ready`` only after the warm-up batch ran.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import numpy as np

from .batching import MicroBatcher
from .codecs.images import ImagePolicy, decode_image, image_tokens
from .errors import InvalidInputError, ModelNotReadyError
from .handlers.base import EmbeddingHandler, ImageEmbeddingHandler
from .heap import HeapTrimmer
from .postprocess import finish_vectors, mean_pool_spans
from .settings import Settings
from .types import EmbedRequest, EmbedResult, ImageInput, ModelInfo, TextInput

log = logging.getLogger(__name__)

# Jina's task names: accepted (and ignored) by models that define no tasks, so Jina clients work unchanged.
JINA_TASKS = ("retrieval.query", "retrieval.passage", "text-matching", "classification", "separation")
# Token-budget cost of one image in a micro-batch (about a 16x16-patch vision tower's sequence).
IMAGE_BATCH_COST = 256
TEXT, IMAGE = "text", "image"


class EmbeddingService:
    """Owns the handler and the batcher; ``embed`` is safe to call from many threads."""

    def __init__(self, settings: Settings, loader: Callable[[Settings], EmbeddingHandler]) -> None:
        self._settings = settings
        self._loader = loader
        self._handler: EmbeddingHandler | None = None
        self._batcher: MicroBatcher | None = None
        self._error: str | None = None
        self._ready = threading.Event()
        self._image_policy = ImagePolicy.from_settings(settings)

    # -- lifecycle ---------------------------------------------------------------------------
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
            self._forward_for(handler),
            max_batch_size=s.max_batch_size,
            max_batch_tokens=max(s.max_batch_tokens, handler.info.max_length),
            wait_s=s.batch_wait_ms / 1000,
            max_queue=s.max_queue_inputs,
        )
        self._handler = handler
        self._ready.set()
        log.info("model ready: %s", handler.info)

    @staticmethod
    def _forward_for(
        handler: EmbeddingHandler, heap: HeapTrimmer | None = None
    ) -> Callable[[Sequence[object], tuple[str, str | None]], np.ndarray]:
        """The batcher's forward: batch keys are ``(modality, task)``, so a batch is never mixed. After each
        pass, freed host memory goes back to the OS once enough has piled up (heap.py)."""
        heap = heap or HeapTrimmer()

        def forward(payloads: Sequence[object], key: tuple[str, str | None]) -> np.ndarray:
            kind, task = key
            try:
                if kind == IMAGE:
                    return handler.forward_images(payloads)  # type: ignore[attr-defined]
                return handler.forward(payloads, task)  # type: ignore[arg-type]
            finally:
                heap.after_forward()

        return forward

    def stop(self) -> None:
        if self._batcher is not None:
            self._batcher.stop()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def load_error(self) -> str | None:
        return self._error

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    @property
    def info(self) -> ModelInfo:
        return self._require()[0].info

    def _require(self) -> tuple[EmbeddingHandler, MicroBatcher]:
        if self._handler is None or self._batcher is None:
            reason = f"model failed to load: {self._error}" if self._error else "model is loading"
            raise ModelNotReadyError(reason)
        return self._handler, self._batcher

    # -- request path ------------------------------------------------------------------------
    def embed(self, request: EmbedRequest) -> EmbedResult:
        handler, batcher = self._require()
        info = handler.info
        self._validate(request, info)
        task = request.task if request.task in info.tasks else None
        text_at = [i for i, item in enumerate(request.inputs) if isinstance(item, TextInput)]
        image_at = [i for i, item in enumerate(request.inputs) if isinstance(item, ImageInput)]
        texts = [request.inputs[i].text for i in text_at]  # type: ignore[union-attr]
        sequences = handler.tokenize(texts, task, truncate=request.truncate) if texts else []
        if not request.truncate:
            self._check_lengths(sequences, text_at, info.max_length)
        if request.late_chunking:
            pooled, sequences = self._late_chunk(handler, sequences, task, request.truncate)
            tokens = len(sequences[0])
        else:
            pooled = np.empty((len(request.inputs), info.dimensions), dtype=np.float32)
            tokens = sum(len(ids) for ids in sequences)
            if sequences:
                pooled[text_at] = batcher.submit(sequences, (TEXT, task))
            if image_at:
                payloads, tokens_images = self._prepare_images(handler, request, image_at)
                pooled[image_at] = batcher.submit(payloads, (IMAGE, None), [IMAGE_BATCH_COST] * len(payloads))
                tokens += tokens_images
        vectors = finish_vectors(pooled, request.dimensions, request.normalized)
        return EmbedResult(vectors=vectors, prompt_tokens=tokens, model=info.name)

    def _prepare_images(
        self, handler: EmbeddingHandler, request: EmbedRequest, image_at: list[int]
    ) -> tuple[list[object], int]:
        """Decode and check each image (400 names its index), then run the model's preprocessing.

        One image at a time: only one full-size decoded image is held at once. A few KB of lossless WebP can
        decode to 40 Mpx (120 MB), so holding all of a request's decoded images could take hundreds of GB.
        """
        assert isinstance(handler, ImageEmbeddingHandler)
        payloads: list[object] = []
        tokens = 0
        for index in image_at:
            try:
                image = decode_image(request.inputs[index].image, self._image_policy)  # type: ignore[union-attr]
            except InvalidInputError as err:
                raise InvalidInputError(f"input[{index}]: {err.message}", param=f"input[{index}]") from None
            tokens += image_tokens(image, self._image_policy)
            payloads.extend(handler.preprocess_images([image]))
            del image
        return payloads, tokens

    @staticmethod
    def _validate(request: EmbedRequest, info: ModelInfo) -> None:
        images = [i for i, item in enumerate(request.inputs) if isinstance(item, ImageInput)]
        if images and "image" not in info.modalities:
            raise InvalidInputError(f"input[{images[0]}] is an image but model {info.name} embeds text only")
        if request.late_chunking and (images or not info.late_chunking):
            raise InvalidInputError(f"late_chunking needs text inputs and a model that offers it ({info.name})")
        if request.dimensions is not None and request.dimensions > info.dimensions:
            raise InvalidInputError(
                f"dimensions={request.dimensions} exceeds the model's {info.dimensions}", param="dimensions"
            )
        if request.task is not None and request.task not in info.tasks:
            if info.tasks or request.task not in JINA_TASKS:
                valid = ", ".join(info.tasks or JINA_TASKS)
                raise InvalidInputError(f"unknown task {request.task!r}; valid tasks: {valid}", param="task")

    @staticmethod
    def _check_lengths(sequences: Sequence[Sequence[int]], positions: Sequence[int], max_length: int) -> None:
        for index, ids in zip(positions, sequences, strict=True):
            if len(ids) > max_length:
                raise InvalidInputError(
                    f"input[{index}] has {len(ids)} tokens, more than the model's maximum of {max_length}; "
                    "shorten it or send truncate=true",
                    param=f"input[{index}]",
                )

    @staticmethod
    def _late_chunk(
        handler: EmbeddingHandler, sequences: list[list[int]], task: str | None, truncate: bool
    ) -> tuple[np.ndarray, list[list[int]]]:
        """Encode all inputs as one sequence and mean-pool each input's tokens (arXiv 2409.04701)."""
        head, _, tail = handler.split_special(sequences[0])
        joined, spans = list(head), []
        for ids in sequences:
            _, content, _ = handler.split_special(ids)
            spans.append((len(joined), len(joined) + len(content)))
            joined.extend(content)
        joined.extend(tail)
        limit = handler.info.max_length
        if len(joined) > limit:
            if not truncate:
                raise InvalidInputError(
                    f"late_chunking: the concatenated inputs have {len(joined)} tokens, more than the "
                    f"model's maximum of {limit}; send fewer inputs or truncate=true",
                    param="input",
                )
            joined = joined[: limit - len(tail)] + list(tail)
        end = len(joined) - len(tail)
        spans = [(min(a, end), min(b, end)) for a, b in spans]
        if any(a >= b for a, b in spans):
            first = next(i for i, (a, b) in enumerate(spans) if a >= b)
            raise InvalidInputError(
                f"late_chunking: input[{first}] falls beyond the model's maximum of {limit} tokens",
                param=f"input[{first}]",
            )
        token_vectors = handler.forward_tokens(joined, task)
        return mean_pool_spans(token_vectors, spans), [joined]
