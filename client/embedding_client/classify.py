"""Classification: ``EmbeddingClient.classify`` and its SageMaker async form, over every transport.

The request is Jina's ``POST /v1/classify`` body, ``{"input": [...], "labels"?, "model"?}``:

- a local server: ``/v1/classify``, which a classifier answers with its own labels (or the subset ``labels``
  names) and an embedding model answers zero-shot (``labels`` required);
- SageMaker ``/invocations`` and the Azure ML scoring URI: a classifier's container reads Jina's body there. An
  embedding model's ``/invocations`` reads embeddings bodies only, so zero-shot classification is out of reach on
  these platforms: with ``labels`` the server's 400 (unknown field) is raised with that explanation, and without
  them the embeddings it answers raise ``EmbeddingServiceError`` (``wrong_model_kind``);
- Vertex AI ``:predict``: ``{"instances": inputs, "parameters": {"labels"?}}``, each prediction one input's
  ``{"prediction", "score", "predictions"}`` (a classifier; no usage comes back: ``total_tokens`` is 0).

Every answer lists every label for every input, so requests are cut by the answer's bound too (``sizing``): the
labels given, else the classifier's (``GET /info`` on a local server, else the first answer's; before that 256
labels of 64 characters); a 413 for several inputs sends each half instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np

from .asynchronous import AsyncJob
from .errors import EmbeddingServiceError
from .plumbing import ClientBase, Part
from .sizing import ASSUMED_LABELS, classify_answer_bytes
from .wire import Input, dumps, item, plan_batches

ROUTE = "/v1/classify"
ZERO_SHOT = ("zero-shot classification (labels on an embedding model) is answered on POST /v1/classify only, which "
             "this transport does not reach (an embedding model's /invocations reads embeddings bodies): call the "
             "container itself with EmbeddingClient.local(url), or deploy a classifier")  # fmt: skip


@dataclass(frozen=True, slots=True)
class LabelScore:
    label: str
    score: float


@dataclass(frozen=True, slots=True)
class Classification:
    """One input's answer: the best label (the first of equals) and its score, and every label's score in label
    order."""

    index: int
    prediction: str
    score: float
    predictions: tuple[LabelScore, ...]


@dataclass(frozen=True, eq=False)
class ClassifyResponse:
    """``results``: one ``Classification`` per input, in input order. ``labels``: the labels listed (the request's,
    else the classifier's), ``scores``: (inputs, labels) float64 in that order. Iterating, ``len`` and indexing go
    over ``results``."""

    results: tuple[Classification, ...]
    labels: tuple[str, ...]
    scores: np.ndarray
    total_tokens: int

    def __iter__(self) -> Iterator[Classification]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    @overload
    def __getitem__(self, position: int) -> Classification: ...
    @overload
    def __getitem__(self, position: slice) -> tuple[Classification, ...]: ...
    def __getitem__(self, position: int | slice) -> Classification | tuple[Classification, ...]:
        return self.results[position]

    @property
    def predictions(self) -> list[str]:
        """Each input's best label."""
        return [result.prediction for result in self.results]


def _entry(index: int, entry: Any) -> Classification:
    if not isinstance(entry, dict) or "prediction" not in entry:
        if isinstance(entry, dict) and "embedding" in entry:
            raise EmbeddingServiceError(200, "wrong_model_kind", "the endpoint answered embeddings: it serves an "
                                        "embedding model, not a classifier; " + ZERO_SHOT)  # fmt: skip
        raise EmbeddingServiceError(200, "bad_response", f"not a classification: {str(entry):.200}")
    scores = tuple(LabelScore(str(p["label"]), float(p["score"])) for p in entry.get("predictions", []))
    return Classification(index, str(entry["prediction"]), float(entry["score"]), scores)


def decode_classifications(payload: Any, count: int, start: int = 0) -> Part[Classification]:
    """Jina's classify answer for ``count`` inputs (the first at position ``start``) -> (results, tokens, "")."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list) or len(data) != count:
        got = len(data) if isinstance(data, list) else "no"
        raise EmbeddingServiceError(200, "bad_response", f"sent {count} inputs, got {got} classifications")
    entries = sorted(data, key=lambda entry: entry.get("index", 0) if isinstance(entry, dict) else 0)
    results = [_entry(start + i, entry) for i, entry in enumerate(entries)]
    return results, int((payload.get("usage") or {}).get("total_tokens", 0)), ""


def build_response(results: list[Classification], total_tokens: int) -> ClassifyResponse:
    labels = tuple(p.label for p in results[0].predictions) if results else ()
    scores = np.array([[p.score for p in result.predictions] for result in results], dtype=np.float64)
    return ClassifyResponse(tuple(results), labels, scores.reshape(len(results), len(labels)), total_tokens)


class ClassifyMethods(ClientBase):
    def classify(self, inputs: Input | Sequence[Input], labels: Sequence[str] | None = None) -> ClassifyResponse:
        """Classify ``inputs`` (str, ``{"text"}``; images, as bytes or ``{"image"}``, zero-shot on an image model):
        a classifier answers with its own labels (``labels``: only these of them, in that order); an embedding
        model, on a local server, zero-shot over ``labels`` (required there). See the module docstring."""
        if self.mode == "async":
            return self.classify_async(inputs, labels)
        items, body = self._classify_plan(inputs, labels)
        known = labels or self.model_facts().get("labels")
        batches = self._classify_batches(items, body, known)
        parts: list[Part[Classification]] = []
        if len(batches) > 1 and not known:  # the first answer shows the classifier's labels
            first = batches[0]
            parts.append(self._classify_batch(items, first, body))
            batches = [range(r.start + first.stop, r.stop + first.stop) for r in
                       self._classify_batches(items[first.stop :], body, self.model_facts().get("labels"))]  # fmt: skip
        parts += self._map(lambda batch: self._classify_batch(items, batch, body), batches)
        return build_response([result for part in parts for result in part[0]], sum(part[1] for part in parts))

    def classify_async(self, inputs: Input | Sequence[Input], labels: Sequence[str] | None = None, *,
                       timeout_s: float | None = None, **options: Any) -> ClassifyResponse:  # fmt: skip
        """``classify`` through SageMaker Asynchronous Inference (``options``: ``submit_embed_async``'s)."""
        return self.submit_classify_async(inputs, labels, **options).wait(timeout_s)

    def submit_classify_async(
        self,
        inputs: Input | Sequence[Input],
        labels: Sequence[str] | None = None,
        *,
        s3_uri: str | None = None,
        inference_id: str | None = None,
        invocation_timeout_s: int | None = None,
        request_ttl_s: int | None = None,
    ) -> AsyncJob[ClassifyResponse]:
        """``classify``'s requests queued with ``InvokeEndpointAsync`` (see ``submit_embed_async``)."""
        items, body = self._classify_plan(inputs, labels)
        batches = plan_batches(items, body, self.async_batch_size, self.max_async_body_bytes)

        def decode(answers: list[bytes]) -> ClassifyResponse:
            parts = [decode_classifications(json.loads(answer), len(batch), batch.start)
                     for answer, batch in zip(answers, batches, strict=True)]  # fmt: skip
            return build_response([result for part in parts for result in part[0]], sum(part[1] for part in parts))

        request = lambda batch: dumps({**body, "input": items[batch.start : batch.stop]})  # noqa: E731
        return self._submit_async(batches, request, decode, s3_uri, inference_id, invocation_timeout_s, request_ttl_s)

    def _classify_plan(self, inputs: Input | Sequence[Input],
                       labels: Sequence[str] | None) -> tuple[list[Any], dict[str, Any]]:  # fmt: skip
        raw: list[Input] = [inputs] if isinstance(inputs, (str, bytes, dict)) else list(inputs)
        items = [item(value) for value in raw]
        if not items:
            raise ValueError("inputs must not be empty")
        if isinstance(labels, str) or (labels is not None and not all(isinstance(x, str) for x in labels)):
            raise TypeError("labels must be a list of str")
        body: dict[str, Any] = {} if labels is None else {"labels": list(labels)}
        if self.model:
            body["model"] = self.model
        return items, body

    def _classify_batches(self, items: list[Any], body: dict[str, Any], labels: Sequence[str] | None) -> list[range]:
        """Requests whose answers fit, bounded by ``labels`` (None: not known yet, a guess: an input whose guessed
        answer alone is over the limit goes alone, and the first answer shows the labels)."""
        answer = classify_answer_bytes(labels or ASSUMED_LABELS)
        return plan_batches(items, body, self.batch_size, self._body_limit(body, "input"), answer_bytes=answer,
                            max_answer_bytes=self.max_response_bytes, alone_if_over=not labels)  # fmt: skip

    def _classify_batch(self, items: list[Any], batch: range, body: dict[str, Any]) -> Part[Classification]:
        def send(positions: list[int]) -> Part[Classification]:
            request = dumps({**body, "input": [items[i] for i in positions]})
            try:
                answer = self._send(request, ROUTE, "classify")
            except EmbeddingServiceError as err:
                if err.status == 400 and "'labels'" in err.message and "unknown field" in err.message:
                    raise EmbeddingServiceError(400, err.code, f"{err.message} ({ZERO_SHOT})") from err
                raise
            return decode_classifications(json.loads(answer), len(positions), positions[0])

        part = self._split_on_413(list(batch), send)
        if part[0] and "labels" not in body:
            self.model_facts().setdefault("labels", tuple(p.label for p in part[0][0].predictions))
        return part
