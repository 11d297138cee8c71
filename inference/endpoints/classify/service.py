"""ClassifyService: label scores for each input, from a classifier model or, zero-shot, an embedding model.

No HTTP types here.

- A classifier (``info.kind == CLASSIFY``): its inputs (texts or text pairs) are tokenised by the handler and run
  through the engine's micro-batcher (batch key ``(LABELS, None)``), admitted by work and deadline like every
  other request; the scores are the handler's activation of the logits (the logits with ``raw_scores``).
- Zero-shot on an embedding model (Jina's ``/v1/classify``): the inputs and the labels are embedded in one
  embeddings request (``EmbeddingService.embed``: admission, batching, images) with the model's
  ``classification`` task where it has one, and each input's scores are
  ``softmax(scale * cosine(input, label))`` over the labels. ``scale`` is fixed: ``IMAGE_MODEL_SCALE`` (100) for
  models with the image modality (CLIP-style: CLIP's learned logit scale is trained up to its cap of 100, which
  is where released CLIP checkpoints sit, so the scores are CLIP's own zero-shot probabilities), else
  ``TEXT_MODEL_SCALE`` (20: a temperature of 0.05, the scale sentence-transformers' contrastive losses train
  text embedding models with).
"""

from __future__ import annotations

import threading

import numpy as np

from ...core.engine import ModelEngine
from ...core.forward import LABELS
from ...core.types import EMBED, ImageInput, TextInput
from ...errors import InvalidInputError
from ..embeddings.service import EmbeddingService
from ..embeddings.types import EmbedRequest
from ..token_bounds import least_tokens
from .types import ClassifyInput, ClassifyRequest, ClassifyResult

IMAGE_MODEL_SCALE = 100.0
TEXT_MODEL_SCALE = 20.0
ZERO_SHOT_TASK = "classification"  # the embedding model's task used, where it has one (jina-embeddings-v3)


def zero_shot_scores(inputs: np.ndarray, labels: np.ndarray, scale: float) -> np.ndarray:
    """``softmax(scale * cosine)`` of each input over the labels (rows: inputs; any vector norms)."""
    a = np.asarray(inputs, dtype=np.float64)
    b = np.asarray(labels, dtype=np.float64)
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    logits = scale * (a @ b.T)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    scores: np.ndarray = (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
    return scores


class ClassifyService:
    """``classify`` is safe to call from many threads."""

    def __init__(self, engine: ModelEngine, embeddings: EmbeddingService) -> None:
        self._engine = engine
        self._embeddings = embeddings

    def default_deadline(self) -> float:
        return self._engine.default_deadline()

    def classify(self, request: ClassifyRequest, zero_shot: bool, deadline: float | None = None,
                 cancelled: threading.Event | None = None) -> ClassifyResult:  # fmt: skip
        """Scores of each input over its labels by ``deadline``. ``zero_shot``: an embedding model may answer
        (Jina's API); otherwise only a classifier does (``WrongModelKindError`` for any other kind)."""
        deadline = self.default_deadline() if deadline is None else deadline
        if zero_shot and self._engine.info.kind == EMBED:
            return self._zero_shot(request, deadline, cancelled)
        return self._classifier(request, deadline, cancelled)

    def _classifier(self, request: ClassifyRequest, deadline: float,
                    cancelled: threading.Event | None) -> ClassifyResult:  # fmt: skip
        handler = self._engine.classifier
        info = handler.info
        columns = _columns(request.labels, info.labels)
        texts = [_text_or_pair(index, item) for index, item in enumerate(request.inputs)]
        reservation = self._engine.reserve(least_input_tokens(texts, info.max_length), len(texts), deadline)
        try:
            ids = handler.tokenize(texts, request.truncate)
            logits = self._engine.submit(ids, (LABELS, None), [len(item) for item in ids], deadline=deadline,
                                         cancelled=cancelled, reservation=reservation)  # fmt: skip
        finally:
            reservation.release()  # no-op once the submit took it
        logits = np.asarray(logits, dtype=np.float32).reshape(len(texts), len(info.labels))
        scores = logits if request.raw_scores else handler.activation(logits)
        labels = tuple(info.labels[column] for column in columns)
        return ClassifyResult(scores[:, columns], labels, sum(len(item) for item in ids), info.name)

    def _zero_shot(self, request: ClassifyRequest, deadline: float,
                   cancelled: threading.Event | None) -> ClassifyResult:  # fmt: skip
        info = self._engine.handler.info  # WrongModelKindError unless an embedding model is loaded
        if not request.labels:
            raise InvalidInputError(f"zero-shot classification with the embedding model {info.name!r} needs "
                                    "'labels': the candidate labels to choose from", param="labels")  # fmt: skip
        items = [item for item in request.inputs if not isinstance(item, tuple)]
        if len(items) != len(request.inputs):
            raise InvalidInputError("text pairs need a classifier model; zero-shot inputs are texts or images")
        task = ZERO_SHOT_TASK if ZERO_SHOT_TASK in info.tasks else None
        embed = EmbedRequest(inputs=(*items, *(TextInput(label) for label in request.labels)), task=task)
        result = self._embeddings.embed(embed, deadline, cancelled)
        scale = IMAGE_MODEL_SCALE if "image" in info.modalities else TEXT_MODEL_SCALE
        scores = zero_shot_scores(result.vectors[: len(items)], result.vectors[len(items) :], scale)
        return ClassifyResult(scores, request.labels, result.prompt_tokens, info.name)


def _text_or_pair(index: int, item: ClassifyInput) -> str | tuple[str, str]:
    if isinstance(item, ImageInput):
        raise InvalidInputError(f"input[{index}] is an image, but a classifier reads text", param=f"input[{index}]")
    return item.text if isinstance(item, TextInput) else item


def _columns(requested: tuple[str, ...] | None, labels: tuple[str, ...]) -> list[int]:
    """The model's outputs to answer: all of them, or the requested labels' (each must be one of the model's)."""
    if requested is None:
        return list(range(len(labels)))
    unknown = [label for label in requested if label not in labels]
    if unknown:
        raise InvalidInputError(
            f"label {unknown[0]!r} is not one of this classifier's labels ({', '.join(labels)}); a classifier "
            "answers its own labels: send a subset of them, or no 'labels'", param="labels")
    return [labels.index(label) for label in requested]


def least_input_tokens(texts: list[str | tuple[str, str]], max_length: int) -> int:
    """A lower bound of the tokens these texts and pairs cost (each cut at ``max_length``), from their words."""
    total = 0
    for text in texts:
        parts = text if isinstance(text, tuple) else (text,)
        total += min(max_length, sum(least_tokens([part], max_length) for part in parts))
    return total


def least_request_tokens(request: ClassifyRequest, max_length: int) -> int:
    """A lower bound of a request's usage (rate limits): its texts and pairs by their words, an image one token.
    Zero-shot labels are left out (a classifier's labels cost nothing), so it is never above the charge."""
    texts = [item.text if isinstance(item, TextInput) else item for item in request.inputs
             if not isinstance(item, ImageInput)]  # fmt: skip
    return least_input_tokens(texts, max_length) + len(request.inputs) - len(texts)
