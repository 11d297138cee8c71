"""What every ``EmbeddingClient`` request goes through, whatever the API: the route it takes on each transport,
retries with backoff, parallel batches, a batch split in two when the server answers 413, and the S3 round trip of
SageMaker Asynchronous Inference. ``EmbeddingClient`` (client.py) sets the attributes declared here.

Routes: a transport that reaches the server's own paths (``EmbeddingClient.local``: ``HttpTransport`` with a
``base_url``) posts each API to its path (``/v1/multi-vector``, ``/v1/classify``, ``/embed_sparse``, ``/tokenize``,
...); SageMaker (``/invocations``), Azure ML (the scoring URI) and Vertex AI (``:predict`` / ``:rawPredict``) reach
one URL, which serves the loaded model's kind, and no other path (``server_only`` raises ``TypeError`` there).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from .asynchronous import AsyncInvocation, AsyncJob, AsyncLimits, S3Objects, input_location
from .errors import EmbeddingServiceError
from .transports import HttpTransport, SageMakerTransport, Transport, s3_client
from .vertex import VertexTransport

T = TypeVar("T")
X = TypeVar("X")
Part = tuple[list[X], int, str]  # one request's answer: per input results, tokens used, model name
_PLATFORM = {SageMakerTransport: "a SageMaker endpoint (only /invocations)",
             VertexTransport: "a Vertex AI endpoint (only :predict / :rawPredict)"}  # fmt: skip


def _platform(transport: Transport) -> str:
    for kind, name in _PLATFORM.items():
        if isinstance(transport, kind):
            return name
    if isinstance(transport, HttpTransport):
        return f"{transport.url} (only that URL: an Azure ML scoring URI, or a transport without base_url)"
    return f"this transport ({type(transport).__name__}, which only posts to one URL)"


def _facts_of(info: dict[str, Any]) -> dict[str, Any]:
    """``GET /info``'s answer -> ``model_facts``."""
    facts = {key: info[key] for key in ("kind", "max_length", "query_length") if info.get(key)}
    if info.get("kind") == "multivector" and info.get("dimensions"):
        facts["multivector_dimensions"] = info["dimensions"]
    if info.get("kind") == "classify" and info.get("labels"):
        facts["labels"] = tuple(info["labels"])
    if info.get("kind") == "sparse" and info.get("dimensions"):
        facts["vocabulary"] = int(info["dimensions"])
    return facts


class ClientBase:
    """The request machinery behind ``EmbeddingClient``'s methods (which set these attributes)."""

    transport: Transport
    model: str | None
    mode: str
    batch_size: int
    max_body_bytes: int
    max_response_bytes: int
    max_retries: int
    backoff_base_s: float
    backoff_max_s: float
    concurrency: int
    _sleep: Callable[[float], None]
    _random: Callable[[], float]
    s3_input_uri: str | None
    async_batch_size: int
    max_async_body_bytes: int
    async_timeout_s: float
    poll_initial_s: float
    poll_max_s: float
    async_limits: AsyncLimits
    _s3_client: Any
    _s3_endpoint_url: str | None
    _facts: dict[str, Any] | None  # GET /info where reachable, then what answers showed

    def _local(self) -> HttpTransport | None:
        """The transport, when it reaches the server's own paths (a local server); else None."""
        transport = self.transport
        if isinstance(transport, HttpTransport) and not isinstance(transport, VertexTransport) and transport.base_url:
            return transport
        return None

    def _send(self, body: bytes, route: str, kind: str) -> bytes:
        """One request of an API (``kind``: ``multivector``, ``classify`` or ``sparse``), retried: to ``route`` on a
        local server, else to the transport's one URL (Vertex: translated to and from ``instances`` /
        ``predictions``)."""
        transport, local = self.transport, self._local()
        if local is not None:
            return self._with_retry(lambda: local.post_path(route, body))
        if isinstance(transport, VertexTransport):
            return self._with_retry(lambda: transport.post(body, kind))
        return self._with_retry(lambda: transport.post(body))

    def _server_only(self, path: str, body: bytes, what: str) -> bytes:
        """POST ``body`` to the server's own ``path`` (retried): only a local server's transport reaches it."""
        local = self._local()
        if local is None:
            raise TypeError(
                f"{what} needs POST {path}, which {_platform(self.transport)} does not reach: call it on a client "
                "of the container itself (EmbeddingClient.local(url)), or use the model's tokenizer (transformers)"
            )
        return self._with_retry(lambda: local.post_path(path, body))

    def model_facts(self) -> dict[str, Any]:
        """What the client knows of the served model, to bound answers: ``GET /info`` once where reachable (a
        local server), then what answers showed. Keys: ``kind``, ``max_length``, ``query_length``,
        ``multivector_dimensions`` (a late-interaction model's token vector width), ``labels`` (a classifier's) and
        ``vocabulary`` (a SPLADE model's)."""
        if self._facts is None:
            self._facts = {}
            local = self._local()
            if local is not None:
                try:
                    info = json.loads(self._with_retry(lambda: local.get_path("/info")))
                except (EmbeddingServiceError, ValueError):
                    info = None  # an older server, or a proxy in front: learn from the answers instead
                if isinstance(info, dict):
                    self._facts = _facts_of(info)
        return self._facts

    def _split_on_413(self, items: Sequence[Any], send: Callable[[list[Any]], Part[X]]) -> Part[X]:
        """``send(items)``; a 413 (the answer, or the body, over the server's limit) for several items sends each
        half instead, down to one item (whose 413 is raised)."""
        try:
            return send(list(items))
        except EmbeddingServiceError as err:
            if err.status != 413 or len(items) < 2:
                raise
        half = len(items) // 2
        first, second = self._split_on_413(items[:half], send), self._split_on_413(items[half:], send)
        return first[0] + second[0], first[1] + second[1], first[2] or second[2]

    def _body_limit(self, options: dict[str, Any], key: str) -> int:
        """``max_body_bytes`` for the native body, less what the transport adds around it (Vertex's envelope)."""
        overhead = self.transport.body_overhead(options, key) if isinstance(self.transport, VertexTransport) else 0
        return self.max_body_bytes - overhead

    def _map(self, fn: Callable[[range], T], batches: list[range]) -> list[T]:
        if self.concurrency == 1 or len(batches) == 1:
            return [fn(batch) for batch in batches]
        with ThreadPoolExecutor(min(self.concurrency, len(batches))) as pool:
            return list(pool.map(fn, batches))  # map keeps the batches' order

    def _submit_async(
        self,
        batches: list[range],
        body: Callable[[range], bytes],
        finish: Callable[[list[bytes]], T],
        s3_uri: str | None,
        inference_id: str | None,
        invocation_timeout_s: int | None,
        request_ttl_s: int | None,
    ) -> AsyncJob[T]:
        """Upload each batch's body under ``s3_uri`` and queue it; the job that waits for the answers."""
        transport = self.transport
        if not isinstance(transport, SageMakerTransport):
            raise TypeError("async inference is SageMaker's: build the client with an endpoint name")
        limits = self.async_limits.override(invocation_timeout_s, request_ttl_s)
        prefix = s3_uri or self.s3_input_uri
        if not prefix:
            raise ValueError('async inference needs s3_uri="s3://bucket/prefix" (or the client\'s s3_input_uri)')
        store = S3Objects(self._s3())
        base = inference_id or uuid.uuid4().hex
        invocations = []
        for number, batch in enumerate(batches):
            request_id = base if len(batches) == 1 else f"{base}-{number}"
            location = input_location(prefix, request_id)
            store.put(location, body(batch))
            invoke = partial(transport.invoke_async, location, inference_id=request_id,
                             invocation_timeout_s=limits.invocation_timeout_s,
                             request_ttl_s=limits.request_ttl_s)  # fmt: skip
            answer = self._with_retry(invoke)
            if not answer.get("OutputLocation"):
                raise EmbeddingServiceError(200, "bad_response", f"InvokeEndpointAsync named no output: {answer}")
            named = answer.get("InferenceId") or request_id
            output, failure = str(answer["OutputLocation"]), answer.get("FailureLocation")
            invocations.append(AsyncInvocation(named, location, output, failure, batch))
        return AsyncJob(invocations, store, finish, timeout_s=self.async_timeout_s, poll_initial_s=self.poll_initial_s,
                        poll_max_s=self.poll_max_s, sleep=self._sleep)  # fmt: skip

    def _s3(self) -> Any:
        """The S3 client: the one given, else one in the SageMaker client's region (built once)."""
        if self._s3_client is None:
            transport = self.transport
            region = transport._client.meta.region_name if isinstance(transport, SageMakerTransport) else None
            self._s3_client = s3_client(region, self._s3_endpoint_url)
        return self._s3_client

    def _with_retry(self, call: Callable[[], T]) -> T:
        for attempt in range(self.max_retries + 1):
            try:
                return call()
            except EmbeddingServiceError as err:
                if not err.retryable or attempt == self.max_retries:
                    raise
                self._sleep(self.backoff_delay(attempt, err.retry_after))
        raise AssertionError("unreachable")

    def backoff_delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)], at least ``Retry-After`` (capped at max)."""
        delay = self._random() * min(self.backoff_max_s, self.backoff_base_s * 2.0**attempt)
        return max(delay, min(retry_after or 0.0, self.backoff_max_s))
