"""Token vectors of a late-interaction (ColBERT) model: ``EmbeddingClient.embed_multivector`` and its SageMaker
async form, over every transport.

The request is Jina's ``POST /v1/multi-vector`` body, ``{"input": [texts], "input_type", "dimensions"?,
"embedding_type", "normalized", "truncate", "model"?}``, sent to ``/v1/multi-vector`` on a local server, to
``/invocations`` on SageMaker and to the Azure ML scoring URI (a late-interaction model's ``/invocations`` reads it),
and on Vertex AI as ``{"instances": [texts], "parameters": {...}}``, each prediction one input's token vectors.

Answers are large (one vector per token), so requests are also cut by the answer's bound (``sizing``, as the
server's ``inference/endpoints/multivector/size.py``): a query has the model's query length of vectors, a document
at most its UTF-8 bytes plus 8, and at most the model's max length. The model's dimensions, query length and max
length come from ``GET /info`` on a local server; elsewhere the first answer shows the dimensions (and a query
answer the query length) and the rest are planned from them. Where the max length is unknown (SageMaker, Azure,
Vertex), a document whose bound alone is over the limit goes alone and the server judges it; a 413 for a request of
several inputs sends each half instead.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .asynchronous import AsyncJob
from .errors import EmbeddingServiceError
from .plumbing import ClientBase, Part
from .rerank import text_of
from .sizing import ASSUMED_DIMENSIONS, most_tokens, multivector_answer_bytes
from .wire import dumps, plan_batches

InputType = Literal["document", "query"]
Text = str | dict[str, str]
Vectors = list[np.ndarray] | dict[str, list[np.ndarray]]
ROUTE = "/v1/multi-vector"
Finish = Callable[[list[Part[dict[str, np.ndarray]]]], "MultiVectorResponse"]
_DTYPES = {"float": np.float32, "base64": np.float32, "binary": np.int8, "ubinary": np.uint8, "int8": np.int8,
           "uint8": np.uint8}


@dataclass(frozen=True, eq=False)
class MultiVectorResponse:
    """``embeddings``: per input (in order) its token vectors, one (tokens, d) array: float32 for ``float``,
    int8 (tokens, d/8) for ``binary``, uint8 for ``ubinary``; a list of types gives ``{type: [array, ...]}``.
    ``total_tokens``: the usage over all requests (0 through Vertex's ``:predict``, which carries none).
    Iterating, ``len`` and indexing go over the inputs."""

    embeddings: Vectors
    model: str
    total_tokens: int

    def _first(self) -> list[np.ndarray]:
        return self.embeddings if isinstance(self.embeddings, list) else next(iter(self.embeddings.values()))

    def __len__(self) -> int:
        return len(self._first())

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))

    def __getitem__(self, index: int) -> Any:
        """One input's array (a list of types: ``{type: array}``)."""
        if isinstance(self.embeddings, list):
            return self.embeddings[index]
        return {kind: arrays[index] for kind, arrays in self.embeddings.items()}


def _width(kind: str, dims: int | None) -> int:
    return 0 if dims is None else -(-dims // 8) if kind in ("binary", "ubinary") else dims


def _array(kind: str, rows: list[Any], width: int) -> np.ndarray:
    if not rows:
        return np.zeros((0, width), dtype=_DTYPES[kind])
    if kind == "base64":
        return np.stack([np.frombuffer(base64.b64decode(row), dtype="<f4") for row in rows]).astype(np.float32)
    return np.asarray(rows, dtype=_DTYPES[kind])


def decode_token_vectors(payload: Any, count: int, types: Sequence[str], dims: int | None) -> Part[dict[str, Any]]:
    """A multi-vector answer for ``count`` inputs -> (per input ``{type: (tokens, d) array}``, tokens, model).
    ``dims``: the width an input without token vectors gets (None: 0)."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list) or len(data) != count:
        got = len(data) if isinstance(data, list) else "no"
        raise EmbeddingServiceError(200, "bad_response", f"sent {count} inputs, got {got} token-vector entries")
    entries = sorted(data, key=lambda entry: entry["index"])
    if any("embeddings" not in entry for entry in entries):
        raise EmbeddingServiceError(200, "bad_response", "the answer holds no token vectors (\"embeddings\"): the "
                                    f"endpoint serves another kind of model: {str(entries[0]):.200}")  # fmt: skip
    values = [entry["embeddings"] for entry in entries]
    if len(types) == 1:
        values = [value if isinstance(value, dict) else {types[0]: value} for value in values]
    parts = [{kind: _array(kind, value[kind], _width(kind, dims)) for kind in types} for value in values]
    usage = payload.get("usage") or {}
    return parts, int(usage.get("total_tokens", 0)), str(payload.get("model", ""))


class MultiVectorMethods(ClientBase):
    def embed_multivector(
        self,
        texts: Text | Sequence[Text],
        *,
        input_type: InputType = "document",
        dimensions: int | None = None,
        embedding_type: str | Sequence[str] = "float",
        normalized: bool = True,
        truncate: bool = True,
    ) -> MultiVectorResponse:
        """Each text's token vectors from a late-interaction (ColBERT) model (see the module docstring).

        ``input_type``: ``"query"`` (the query marker, expanded to the model's query length) or ``"document"``;
        ``dimensions``: one of the model's widths (``/info``'s ``dimension_options``); ``embedding_type``: ``float``
        (fetched as ``base64``), ``base64``, ``binary``, ``ubinary``, or a list of them; ``normalized``: each token
        vector L2-normalised; ``truncate=False``: a document over the model's max length is a 400."""
        options: dict[str, Any] = {"input_type": input_type, "dimensions": dimensions, "embedding_type": embedding_type,
                   "normalized": normalized, "truncate": truncate}  # fmt: skip
        if self.mode == "async":
            return self.embed_multivector_async(texts, **options)
        items, body, finish = self._multivector_plan(texts, **options)
        batches = self._multivector_batches(items, body)
        parts: list[Part[dict[str, Any]]] = []
        if len(batches) > 1 and not self._multivector_known(body):  # the first answer shows the model's widths
            first = batches[0]
            parts.append(self._multivector_batch(items[first.start : first.stop], body))
            batches = [range(r.start + first.stop, r.stop + first.stop)
                       for r in self._multivector_batches(items[first.stop :], body)]  # fmt: skip
        parts += self._map(lambda batch: self._multivector_batch(items[batch.start : batch.stop], body), batches)
        return finish(parts)

    def embed_multivector_async(self, texts: Text | Sequence[Text], *, timeout_s: float | None = None,
                                **options: Any) -> MultiVectorResponse:  # fmt: skip
        """``embed_multivector`` through SageMaker Asynchronous Inference (``options``: its keyword arguments and
        ``submit_embed_async``'s ``s3_uri``, ``inference_id``, ``invocation_timeout_s``, ``request_ttl_s``)."""
        return self.submit_embed_multivector_async(texts, **options).wait(timeout_s)

    def submit_embed_multivector_async(
        self,
        texts: Text | Sequence[Text],
        *,
        input_type: InputType = "document",
        dimensions: int | None = None,
        embedding_type: str | Sequence[str] = "float",
        normalized: bool = True,
        truncate: bool = True,
        s3_uri: str | None = None,
        inference_id: str | None = None,
        invocation_timeout_s: int | None = None,
        request_ttl_s: int | None = None,
    ) -> AsyncJob[MultiVectorResponse]:
        """``embed_multivector``'s requests queued with ``InvokeEndpointAsync`` (see ``submit_embed_async``); the
        answers go to S3, so requests are cut by ``async_batch_size`` and ``max_async_body_bytes`` only."""
        items, body, finish = self._multivector_plan(
            texts, input_type=input_type, dimensions=dimensions, embedding_type=embedding_type, normalized=normalized,
            truncate=truncate,
        )  # fmt: skip
        batches = plan_batches(items, body, self.async_batch_size, self.max_async_body_bytes)
        types, dims = body["embedding_type"], body.get("dimensions")

        def decode(answers: list[bytes]) -> MultiVectorResponse:
            return finish([decode_token_vectors(json.loads(answer), len(batch), types, dims)
                           for answer, batch in zip(answers, batches, strict=True)])  # fmt: skip

        request = lambda batch: dumps({**body, "input": items[batch.start : batch.stop]})  # noqa: E731
        return self._submit_async(batches, request, decode, s3_uri, inference_id, invocation_timeout_s, request_ttl_s)

    def _multivector_plan(self, texts: Text | Sequence[Text], *, input_type: str, dimensions: int | None,
                          embedding_type: str | Sequence[str], normalized: bool,
                          truncate: bool) -> tuple[list[str], dict[str, Any], Finish]:  # fmt: skip
        """The texts, the request body's other fields, and how the decoded parts become the response."""
        if input_type not in ("document", "query"):
            raise ValueError(f'input_type must be "document" or "query", got {input_type!r}')
        raw = [texts] if isinstance(texts, (str, dict)) else list(texts)
        if isinstance(texts, bytes) or any(isinstance(text, bytes) for text in raw):
            raise TypeError("multi-vector inputs are texts (str or {'text': str}); images are not embedded per token")
        items = [text_of(text, f"texts[{i}]") for i, text in enumerate(raw)]
        if not items:
            raise ValueError("texts must not be empty")
        wanted = [embedding_type] if isinstance(embedding_type, str) else list(dict.fromkeys(embedding_type))
        wire = list(dict.fromkeys("base64" if kind == "float" else kind for kind in wanted))
        body: dict[str, Any] = {"input_type": input_type, "embedding_type": wire, "normalized": normalized,
                                "truncate": truncate}  # fmt: skip
        body.update({key: value for key, value in (("dimensions", dimensions), ("model", self.model)) if value})

        def finish(parts: list[Part[dict[str, np.ndarray]]]) -> MultiVectorResponse:
            inputs = [entry for part in parts for entry in part[0]]
            by_type = {kind: [entry["base64" if kind == "float" else kind] for entry in inputs] for kind in wanted}
            embeddings: Vectors = by_type if not isinstance(embedding_type, str) else by_type[wanted[0]]
            return MultiVectorResponse(embeddings, parts[0][2], sum(part[1] for part in parts))

        return items, body, finish

    def _multivector_known(self, body: dict[str, Any]) -> bool:
        """The model's widths (and for queries its query length) are known: answers can be bounded as the server
        bounds them."""
        facts = self.model_facts()
        dims = "dimensions" in body or "multivector_dimensions" in facts
        return dims and (body["input_type"] == "document" or bool(facts.get("query_length")))

    def _multivector_batches(self, items: list[str], body: dict[str, Any]) -> list[range]:
        facts = self.model_facts()
        dims = body.get("dimensions") or facts.get("multivector_dimensions") or ASSUMED_DIMENSIONS
        query_length, max_length = facts.get("query_length"), facts.get("max_length")
        answers = [multivector_answer_bytes(body["embedding_type"], dims,
                                            most_tokens(text, body["input_type"], query_length, max_length))
                   for text in items]  # fmt: skip
        exact = self._multivector_known(body) and bool(max_length)  # else the server judges a lone over-long text
        limit = self._body_limit(body, "input")
        return plan_batches(items, body, self.batch_size, limit, answer_bytes=answers,
                            max_answer_bytes=self.max_response_bytes, alone_if_over=not exact)  # fmt: skip

    def _multivector_batch(self, texts: list[str], body: dict[str, Any]) -> Part[dict[str, np.ndarray]]:
        facts = self.model_facts()

        def send(batch: list[str]) -> Part[dict[str, np.ndarray]]:
            answer = self._send(dumps({**body, "input": batch}), ROUTE, "multivector")
            dims = body.get("dimensions") or facts.get("multivector_dimensions")
            return decode_token_vectors(json.loads(answer), len(batch), body["embedding_type"], dims)

        part = self._split_on_413(texts, send)
        self._learn(part[0], body)
        return part

    def _learn(self, inputs: list[dict[str, np.ndarray]], body: dict[str, Any]) -> None:
        """What an answer shows: the model's widths (asked for none) and, for queries, its query length."""
        facts = self.model_facts()
        shaped = [(kind, array) for entry in inputs for kind, array in entry.items() if len(array)]
        if shaped and "dimensions" not in body and "multivector_dimensions" not in facts:
            kind, array = shaped[0]
            facts["multivector_dimensions"] = array.shape[1] * (8 if kind in ("binary", "ubinary") else 1)
        if body["input_type"] == "query" and inputs and not facts.get("query_length"):
            facts["query_length"] = max(len(next(iter(entry.values()))) for entry in inputs) or None
