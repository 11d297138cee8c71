"""EmbeddingClient: the Python client for the embedding service on SageMaker, Azure ML or a local container.

    client = EmbeddingClient("my-endpoint", "us-east-1")              # SageMaker (boto3 sagemaker-runtime)
    client = EmbeddingClient.azure(scoring_uri, key)                  # Azure ML online endpoint
    client = EmbeddingClient.local("http://localhost:8080")           # docker run / embed-serve
    vectors = client.embed(["a", "b"], task="query", dimensions=256)  # numpy (2, 256) float32
    ranked = client.rerank("query", ["doc a", "doc b"], top_n=1)      # a reranker endpoint: RerankResponse

Contracts:
- Inputs are split into requests of at most ``batch_size`` inputs and ``max_body_bytes`` of JSON body;
  results come back in input order. One input larger than the body limit raises ``ValueError``.
- ``late_chunking`` embeds the inputs as one document, so they must fit in one request (else ``ValueError``).
- Throttling and temporary unavailability (HTTP 429/502/503/504, SageMaker ``ThrottlingException``,
  ``ServiceUnavailable``, ``ModelNotReadyException``, ``ModelError`` wrapping a container 429/503,
  connection errors) are retried with exponential backoff and full jitter, honouring ``Retry-After``.
  Other errors raise ``EmbeddingServiceError`` at once.
- ``float`` is fetched as ``base64`` on the wire (the same float32 values, 2.5x smaller), so a request of
  ``batch_size`` inputs stays well under SageMaker's 6 MB response limit.
- ``rerank`` splits ``documents`` the same way (``batch_size`` documents per request, the query in each),
  ranks every score by score descending (ties in input order, as the server ranks) and cuts to ``top_n``;
  ``RerankResponse.scores`` keeps every score in input order. Document texts come from the caller's own
  inputs, not echoed by the server.
- Returned arrays: ``float``/``base64`` -> float32 (n, d); ``binary`` -> int8 (n, d/8); ``ubinary`` ->
  uint8 (n, d/8). A single ``str`` input gives one row (1-D); a list of embedding types gives a dict.

Only numpy is imported at module level; boto3/botocore and requests are imported when a transport is built.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlsplit

import numpy as np

from .errors import EmbeddingServiceError
from .rerank import Document, RerankResponse, build_response, decode_scores, documents_of, rerank_options
from .transports import HttpTransport, SageMakerTransport, Transport
from .wire import Input, decode_embeddings, dumps, item, plan_batches

DEFAULT_MAX_BODY_BYTES = 6_000_000  # SageMaker's 6 MB request limit, read as decimal megabytes
DEFAULT_BATCH_SIZE = 128  # the server accepts 2048; 128 keeps responses < 6 MB up to 8192 dimensions
T = TypeVar("T")


class EmbeddingClient:
    """Embeds any number of inputs through one endpoint; see the module docstring for the contract."""

    def __init__(
        self,
        endpoint_name: str | None = None,
        region: str | None = None,
        *,
        transport: Transport | None = None,
        endpoint_url: str | None = None,
        boto_client: Any = None,
        model: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_retries: int = 6,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 20.0,
        concurrency: int = 1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if (endpoint_name is None) == (transport is None):
            raise ValueError("give exactly one of endpoint_name (SageMaker) or transport")
        self.transport: Transport = transport or SageMakerTransport(
            endpoint_name or "", region, endpoint_url=endpoint_url, boto_client=boto_client
        )
        if batch_size < 1 or max_body_bytes < 64 or concurrency < 1 or max_retries < 0:
            raise ValueError("batch_size, concurrency >= 1, max_body_bytes >= 64, max_retries >= 0")
        self.model, self.batch_size, self.max_body_bytes = model, batch_size, max_body_bytes
        self.max_retries, self.backoff_base_s, self.backoff_max_s = max_retries, backoff_base_s, backoff_max_s
        self.concurrency, self._sleep = concurrency, sleep
        self._random: Callable[[], float] = random.random

    @classmethod
    def azure(cls, scoring_uri: str, key: str, *, deployment: str | None = None, **kwargs: Any) -> EmbeddingClient:
        """Azure ML online endpoint: ``key`` is the endpoint key or an Entra token (sent as Bearer)."""
        headers = {"Authorization": f"Bearer {key}"}
        if deployment:
            headers["azureml-model-deployment"] = deployment
        return cls(transport=HttpTransport(scoring_uri, headers), **kwargs)

    @classmethod
    def local(cls, url: str = "http://localhost:8080", **kwargs: Any) -> EmbeddingClient:
        """A local container or ``embed-serve``; a bare ``http://host:port`` posts to ``/invocations``."""
        if urlsplit(url).path in ("", "/"):
            url = url.rstrip("/") + "/invocations"
        return cls(transport=HttpTransport(url), **kwargs)

    def embed(
        self,
        inputs: Input | Sequence[Input],
        *,
        task: str | None = None,
        dimensions: int | None = None,
        embedding_type: str | Sequence[str] = "float",
        normalized: bool = True,
        truncate: bool = True,
        late_chunking: bool = False,
    ) -> np.ndarray | dict[str, np.ndarray]:
        """Embed ``inputs`` (str, bytes image, ``{"text"|"image": str}``, or a list of them), in order."""
        single = isinstance(inputs, (str, bytes, dict))
        raw: list[Input] = [inputs] if isinstance(inputs, (str, bytes, dict)) else list(inputs)
        items = [item(x) for x in raw]
        if not items:
            raise ValueError("inputs must not be empty")
        as_dict = not isinstance(embedding_type, str)
        wanted = [embedding_type] if isinstance(embedding_type, str) else list(dict.fromkeys(embedding_type))
        wire = list(dict.fromkeys("base64" if kind == "float" else kind for kind in wanted))
        options: dict[str, Any] = {"embedding_type": wire, "normalized": normalized, "truncate": truncate}
        extra = {"model": self.model, "task": task, "dimensions": dimensions, "late_chunking": late_chunking or None}
        options.update({key: value for key, value in extra.items() if value is not None})
        batches = plan_batches(items, options, self.batch_size, self.max_body_bytes)
        if late_chunking and len(batches) > 1:
            raise ValueError(f"late_chunking needs one request, but the inputs need {len(batches)}")
        parts = self._map(lambda batch: self._embed_batch([items[i] for i in batch], options), batches)
        merged = {kind: np.concatenate([part[kind] for part in parts]) for kind in wire}
        result = {kind: merged["base64" if kind == "float" else kind] for kind in wanted}
        if single:
            result = {kind: array[0] for kind, array in result.items()}
        return result if as_dict else result[wanted[0]]

    def rerank(
        self,
        query: Document,
        documents: Sequence[Document],
        *,
        top_n: int | None = None,
        return_documents: bool = True,
        truncate: bool = True,
        raw_scores: bool = False,
        model: str | None = None,
    ) -> RerankResponse:
        """Score ``documents`` (str or ``{"text": str}``) against ``query`` with the endpoint's reranker.

        Returns a ``RerankResponse``: ``results`` best first (``index`` into ``documents``, ``relevance_score``,
        ``document`` text unless ``return_documents=False``), at most ``top_n`` of them; ``scores`` for every
        document in input order; ``total_tokens`` over all requests. ``raw_scores``: the model's logits instead of
        its activation (sigmoid). ``truncate=False``: a pair over the model's length is a 400 instead of cut.
        ``model`` (default: the client's) is sent as the request's ``model`` field.
        """
        if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
            raise ValueError(f"top_n must be a positive int or None, got {top_n!r}")
        texts = documents_of(documents)
        options = rerank_options(query, truncate=truncate, raw_scores=raw_scores, model=model or self.model)
        batches = plan_batches(texts, options, self.batch_size, self.max_body_bytes, key="documents")
        parts = self._map(lambda batch: self._rerank_batch([texts[i] for i in batch], options), batches)
        scores = np.concatenate([part[0] for part in parts])
        tokens = sum(part[1] for part in parts)
        return build_response(scores, texts, top_n, return_documents, tokens, parts[0][2])

    def _rerank_batch(self, batch: list[str], options: dict[str, Any]) -> tuple[np.ndarray, int, str]:
        return decode_scores(json.loads(self._post_with_retry(dumps({**options, "documents": batch}))), len(batch))

    def _map(self, fn: Callable[[range], T], batches: list[range]) -> list[T]:
        if self.concurrency == 1 or len(batches) == 1:
            return [fn(batch) for batch in batches]
        with ThreadPoolExecutor(min(self.concurrency, len(batches))) as pool:
            return list(pool.map(fn, batches))  # map keeps the batches' order

    def _embed_batch(self, batch: list[Any], options: dict[str, Any]) -> dict[str, np.ndarray]:
        response = json.loads(self._post_with_retry(dumps({**options, "input": batch})))
        data = response.get("data", [])
        if len(data) != len(batch):
            raise EmbeddingServiceError(200, "bad_response", f"sent {len(batch)} inputs, got {len(data)} embeddings")
        return decode_embeddings(data, options["embedding_type"], as_dict=True)  # a list of types was sent

    def _post_with_retry(self, body: bytes) -> bytes:
        for attempt in range(self.max_retries + 1):
            try:
                return self.transport.post(body)
            except EmbeddingServiceError as err:
                if not err.retryable or attempt == self.max_retries:
                    raise
                self._sleep(self.backoff_delay(attempt, err.retry_after))
        raise AssertionError("unreachable")

    def backoff_delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)], at least ``Retry-After`` (capped at max)."""
        delay = self._random() * min(self.backoff_max_s, self.backoff_base_s * 2.0**attempt)
        return max(delay, min(retry_after or 0.0, self.backoff_max_s))
