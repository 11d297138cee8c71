"""Sparse vectors of a SPLADE model: ``EmbeddingClient.embed_sparse`` and its SageMaker async form, over every
transport.

The request is Text Embeddings Inference's ``POST /embed_sparse`` body, ``{"inputs": [texts], "truncate",
"prompt_name"?}``, sent to ``/embed_sparse`` on a local server, to ``/invocations`` on SageMaker and to the Azure ML
scoring URI (a SPLADE model's ``/invocations`` reads it), and on Vertex AI as ``{"instances": [texts],
"parameters": {...}}``, each prediction one input's entries. The answer is TEI's list, one per input, of its
nonzero entries ``{"index", "value"}`` in ascending index order; it carries no usage (``total_tokens`` is 0).

A SPLADE vector may hold every vocabulary entry, so requests are also cut by the answer's bound (``sizing``, as the
server's ``inference/endpoints/sparse/size.py``): the vocabulary (``GET /info``'s ``dimensions`` on a local server;
elsewhere BERT's 30,522, a guess: an input whose guessed bound alone is over the limit goes alone) of entries at
their widest per input; a 413 for a request of several inputs sends each half instead.
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
from .rerank import text_of
from .sizing import ASSUMED_VOCABULARY, sparse_answer_bytes
from .wire import dumps, plan_batches

Text = str | dict[str, str]
ROUTE = "/embed_sparse"


@dataclass(frozen=True, slots=True, eq=False)
class SparseVector:
    """One input's sparse vector: its nonzero entries, ``indices`` (int64 vocabulary ids, ascending) and
    ``values`` (float32, each > 0), of equal length."""

    indices: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.indices)

    def to_dict(self) -> dict[int, float]:
        """``{index: value}`` for each nonzero entry."""
        return dict(zip(self.indices.tolist(), self.values.tolist(), strict=True))

    def to_dense(self, size: int) -> np.ndarray:
        """A float32 (size,) array (``size``: the vocabulary, ``GET /info``'s ``dimensions``), zero elsewhere."""
        dense = np.zeros(size, dtype=np.float32)
        dense[self.indices] = self.values
        return dense


@dataclass(frozen=True, eq=False)
class SparseResponse:
    """``vectors``: one ``SparseVector`` per input, in input order. ``total_tokens``: 0 (TEI's sparse answer
    carries no usage). Iterating, ``len`` and indexing go over ``vectors``."""

    vectors: tuple[SparseVector, ...]
    total_tokens: int

    def __iter__(self) -> Iterator[SparseVector]:
        return iter(self.vectors)

    def __len__(self) -> int:
        return len(self.vectors)

    @overload
    def __getitem__(self, position: int) -> SparseVector: ...
    @overload
    def __getitem__(self, position: slice) -> tuple[SparseVector, ...]: ...
    def __getitem__(self, position: int | slice) -> SparseVector | tuple[SparseVector, ...]:
        return self.vectors[position]


def _vector(position: int, entries: Any) -> SparseVector:
    if isinstance(entries, list) and entries and all(isinstance(e, (int, float)) for e in entries):
        raise EmbeddingServiceError(200, "wrong_model_kind", "the endpoint answered dense embeddings (TEI's "
                                    "/embed answer to the same body): it serves an embedding model, not a SPLADE "
                                    "model")  # fmt: skip
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "index" in e and "value" in e
                                                for e in entries):  # fmt: skip
        raise EmbeddingServiceError(200, "bad_response", f"input {position}: not a list of {{index, value}} "
                                    f"entries: {str(entries):.200}")  # fmt: skip
    indices = np.array([entry["index"] for entry in entries], dtype=np.int64)
    values = np.array([entry["value"] for entry in entries], dtype=np.float32)
    order = np.argsort(indices, kind="stable")
    return SparseVector(indices[order], values[order])


def decode_sparse(payload: Any, count: int) -> Part[SparseVector]:
    """TEI's sparse answer for ``count`` inputs -> (vectors, 0 tokens, "")."""
    if isinstance(payload, dict) and ("data" in payload or "results" in payload):
        raise EmbeddingServiceError(200, "wrong_model_kind", "the endpoint answered another API's body: it serves "
                                    f"another kind of model, not a SPLADE model: {str(payload):.200}")  # fmt: skip
    if not isinstance(payload, list) or len(payload) != count:
        got = len(payload) if isinstance(payload, list) else "no"
        raise EmbeddingServiceError(200, "bad_response", f"sent {count} inputs, got {got} sparse vectors")
    return [_vector(i, entries) for i, entries in enumerate(payload)], 0, ""


class SparseMethods(ClientBase):
    def embed_sparse(self, texts: Text | Sequence[Text], *, truncate: bool = True,
                     prompt_name: str | None = None) -> SparseResponse:  # fmt: skip
        """Each text's sparse vector from a SPLADE model (see the module docstring).

        ``truncate=False``: a text over the model's max length is a 400; ``prompt_name``: one of the model's named
        prompts (``GET /info``: ``tasks``), prepended to every text (None: the model's default prompt, if any)."""
        if self.mode == "async":
            return self.embed_sparse_async(texts, truncate=truncate, prompt_name=prompt_name)
        items, body = self._sparse_plan(texts, truncate=truncate, prompt_name=prompt_name)
        batches = self._sparse_batches(items, body)
        parts = self._map(lambda batch: self._sparse_batch(items[batch.start : batch.stop], body), batches)
        return SparseResponse(tuple(vector for part in parts for vector in part[0]), sum(part[1] for part in parts))

    def embed_sparse_async(self, texts: Text | Sequence[Text], *, timeout_s: float | None = None,
                           **options: Any) -> SparseResponse:  # fmt: skip
        """``embed_sparse`` through SageMaker Asynchronous Inference (``options``: its keyword arguments and
        ``submit_embed_async``'s ``s3_uri``, ``inference_id``, ``invocation_timeout_s``, ``request_ttl_s``)."""
        return self.submit_embed_sparse_async(texts, **options).wait(timeout_s)

    def submit_embed_sparse_async(
        self,
        texts: Text | Sequence[Text],
        *,
        truncate: bool = True,
        prompt_name: str | None = None,
        s3_uri: str | None = None,
        inference_id: str | None = None,
        invocation_timeout_s: int | None = None,
        request_ttl_s: int | None = None,
    ) -> AsyncJob[SparseResponse]:
        """``embed_sparse``'s requests queued with ``InvokeEndpointAsync`` (see ``submit_embed_async``); the
        answers go to S3, so requests are cut by ``async_batch_size`` and ``max_async_body_bytes`` only."""
        items, body = self._sparse_plan(texts, truncate=truncate, prompt_name=prompt_name)
        batches = plan_batches(items, body, self.async_batch_size, self.max_async_body_bytes, key="inputs")

        def decode(answers: list[bytes]) -> SparseResponse:
            parts = [decode_sparse(json.loads(answer), len(batch))
                     for answer, batch in zip(answers, batches, strict=True)]  # fmt: skip
            return SparseResponse(tuple(vector for part in parts for vector in part[0]),
                                  sum(part[1] for part in parts))  # fmt: skip

        request = lambda batch: dumps({**body, "inputs": items[batch.start : batch.stop]})  # noqa: E731
        return self._submit_async(batches, request, decode, s3_uri, inference_id, invocation_timeout_s, request_ttl_s)

    def _sparse_plan(self, texts: Text | Sequence[Text], *, truncate: bool,
                     prompt_name: str | None) -> tuple[list[str], dict[str, Any]]:  # fmt: skip
        """The texts and the request body's other fields (TEI's body has no ``model`` field)."""
        raw = [texts] if isinstance(texts, (str, dict)) else list(texts)
        if isinstance(texts, bytes) or any(isinstance(text, bytes) for text in raw):
            raise TypeError("sparse inputs are texts (str or {'text': str}); a SPLADE model embeds no images")
        items = [text_of(text, f"texts[{i}]") for i, text in enumerate(raw)]
        if not items:
            raise ValueError("texts must not be empty")
        if prompt_name is not None and not isinstance(prompt_name, str):
            raise TypeError("prompt_name must be a str")
        body: dict[str, Any] = {"truncate": truncate}
        if prompt_name is not None:
            body["prompt_name"] = prompt_name
        return items, body

    def _sparse_batches(self, items: list[str], body: dict[str, Any]) -> list[range]:
        """Requests whose answers fit, each input bounded by the vocabulary (a guess where ``GET /info`` is out of
        reach: an input whose guessed bound alone is over the limit goes alone, and the server judges it)."""
        vocabulary = self.model_facts().get("vocabulary")
        answer = sparse_answer_bytes(vocabulary or ASSUMED_VOCABULARY)
        return plan_batches(items, body, self.batch_size, self._body_limit(body, "inputs"), key="inputs",
                            answer_bytes=answer, max_answer_bytes=self.max_response_bytes,
                            alone_if_over=not vocabulary)  # fmt: skip

    def _sparse_batch(self, texts: list[str], body: dict[str, Any]) -> Part[SparseVector]:
        def send(batch: list[str]) -> Part[SparseVector]:
            answer = self._send(dumps({**body, "inputs": batch}), ROUTE, "sparse")
            return decode_sparse(json.loads(answer), len(batch))

        return self._split_on_413(texts, send)
