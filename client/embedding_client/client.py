"""EmbeddingClient: the Python client for the embedding service on SageMaker, Azure ML, Vertex AI or a local
container.

    client = EmbeddingClient("my-endpoint", "us-east-1")              # SageMaker (boto3 sagemaker-runtime)
    client = EmbeddingClient.azure(scoring_uri, key)                  # Azure ML online endpoint
    client = EmbeddingClient.vertex("my-project", "us-central1", "1234567890")  # Vertex AI (google-auth)
    client = EmbeddingClient.local("http://localhost:8080")           # docker run / embed-serve
    vectors = client.embed(["a", "b"], task="query", dimensions=256)  # numpy (2, 256) float32
    ranked = client.rerank("query", ["doc a", "doc b"], top_n=1)      # a reranker endpoint: RerankResponse
    client = EmbeddingClient("my-serverless-endpoint", mode="serverless")   # 4 MB request bodies
    client = EmbeddingClient("my-async-endpoint", s3_input_uri="s3://bucket/requests")
    client = EmbeddingClient("search", inference_component="search-reranker")  # one component of an endpoint
    vectors = client.embed_async(texts)                               # S3 + InvokeEndpointAsync, waits
    job = client.submit_embed_async(texts); ...; vectors = job.wait() # the same, without blocking
    tokens = client.embed_multivector(texts, input_type="query")      # a ColBERT model: (tokens, d) per text
    labels = client.classify(texts, labels=["a", "b"])                # ClassifyResponse (a classifier, zero-shot)
    sparse = client.embed_sparse(texts)                               # a SPLADE model: SparseVector per text
    ids = EmbeddingClient.local(url).tokenize(texts)                  # the container's own /tokenize, /decode, ...

Contracts:
- Inputs are split into requests of at most ``batch_size`` inputs and ``max_body_bytes`` of JSON body;
  results come back in input order. One input larger than the body limit raises ``ValueError``.
- ``mode`` names the SageMaker endpoint's kind and sets the body limit (``max_body_bytes``, when not given):
  ``"realtime"`` (default) 6 MB, ``"serverless"`` 4 MB (Serverless Inference's request limit);
  ``"async"`` makes ``embed``/``rerank`` go through ``embed_async``/``rerank_async`` and wait (an async
  endpoint takes no ``InvokeEndpoint``).
- ``inference_component`` (SageMaker real-time) sends ``InferenceComponentName`` with every request: the component
  of an endpoint that hosts several (infra.sagemaker's ``components``); async endpoints cannot take it.
- ``embed_async``/``rerank_async`` (SageMaker only, an endpoint with ``AsyncInferenceConfig``) upload each
  request body to ``s3_input_uri`` (``s3://bucket/prefix``; per call: ``s3_uri=``), call
  ``InvokeEndpointAsync`` and poll S3 for the output or failure object (see ``asynchronous``). A request
  body is one S3 object, so it is not cut at 6 MB: requests hold at most ``async_batch_size`` inputs and
  ``max_async_body_bytes`` (default async inference's 1 GB). A failure object raises
  ``AsyncInferenceError`` with the server's error JSON; no answer by ``async_timeout_s`` raises
  ``AsyncInferenceTimeout``. ``submit_embed_async``/``submit_rerank_async`` return the ``AsyncJob`` handle
  (output and failure locations, ``done()``, ``wait()``) without waiting. Each request is sent with
  ``InvocationTimeoutSeconds`` = ``invocation_timeout_s`` (default 3600, the container's async deadline; SageMaker
  would expire it after 900 s) and, when given, ``RequestTTLSeconds`` = ``request_ttl_s`` (``AsyncLimits``).
- ``vertex`` posts to the endpoint's ``:predict`` (Vertex's ``instances``/``parameters`` bodies, translated in
  ``vertex``) or, with ``raw=True``, ``:rawPredict`` (the native bodies), with a google-auth bearer token;
  requests are cut at Vertex's 1.5 MB limit (1,500,000 bytes of the body actually sent); a dedicated endpoint
  (``dedicated=True``) is called on its own DNS name, with requests up to 10 MB.
- ``late_chunking`` embeds the inputs as one document, so they must fit in one request (else ``ValueError``).
- Throttling and temporary unavailability (HTTP 429/502/503/504, Vertex's included, SageMaker ``ThrottlingException``,
  ``ServiceUnavailable``, ``ModelNotReadyException``, ``ModelError`` wrapping a container 429/503,
  connection errors) are retried with exponential backoff and full jitter, honouring ``Retry-After``.
  Other errors raise ``EmbeddingServiceError`` at once.
- ``float`` is fetched as ``base64`` on the wire (the same float32 values, 2.5x smaller), and requests are also
  cut so that each answer fits ``max_response_bytes`` (default: the platform's response limit, SageMaker
  real-time 6 MB, Serverless 4 MB, Vertex AI 1.5 MB or 10 MB dedicated), bounded as the server bounds it from the
  number of inputs, ``dimensions`` (else the model's, once an answer has shown them; before that 8192) and the
  types asked for. The server refuses a request whose answer could be larger (413 ``response_too_large``).
- ``rerank`` splits ``documents`` the same way (``batch_size`` documents per request, the query in each),
  ranks every score by score descending (ties in input order, as the server ranks) and cuts to ``top_n``;
  ``RerankResponse.scores`` keeps every score in input order. Document texts come from the caller's own
  inputs, not echoed by the server.
- Returned arrays: ``float``/``base64`` -> float32 (n, d); ``binary`` -> int8 (n, d/8); ``ubinary`` ->
  uint8 (n, d/8); ``int8`` / ``uint8`` -> int8 / uint8 (n, d). A single ``str`` input gives one row (1-D); a
  list of embedding types gives a dict.

- ``embed_multivector`` (multivector.py), ``classify`` (classify.py), ``embed_sparse`` (sparse.py) and the
  tokenizer's ``tokenize``, ``decode`` and ``segment`` (tokens.py) use the same retries and batching; their routes
  per transport are in those modules and plumbing.py (a local server: each API's own path; SageMaker, Azure ML,
  Vertex AI: their one URL, so the tokenizer's paths raise ``TypeError`` there). Their answers are bounded too, and
  a 413 for a request of several inputs sends each half again.

Only numpy is imported at module level; boto3/botocore, requests and google-auth are imported when a transport
is built.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import numpy as np

from .asynchronous import (
    DEFAULT_ASYNC_BATCH_SIZE,
    DEFAULT_ASYNC_TIMEOUT_S,
    DEFAULT_INVOCATION_TIMEOUT_S,
    MAX_ASYNC_BODY_BYTES,
    POLL_INITIAL_S,
    POLL_MAX_S,
    AsyncJob,
    AsyncLimits,
    split_s3_uri,
)
from .classify import ClassifyMethods
from .errors import EmbeddingServiceError
from .multivector import MultiVectorMethods
from .rerank import Document, RerankResponse, build_response, decode_scores, documents_of, rerank_options
from .sizing import ASSUMED_DIMENSIONS, RERANK_RESULT_BYTES, embedding_answer_bytes
from .sparse import SparseMethods
from .tokens import TokenizerMethods
from .transports import HttpTransport, SageMakerTransport, Transport, azure_token
from .vertex import (
    VERTEX_DEDICATED_MAX_BODY_BYTES,
    VERTEX_MAX_BODY_BYTES,
    VertexTransport,
    dedicated_endpoint_dns,
    default_credentials,
    google_token,
    vertex_url,
)
from .wire import Input, decode_embeddings, dumps, item, plan_batches

DEFAULT_MAX_BODY_BYTES = 6_000_000  # SageMaker's 6 MB request limit, read as decimal megabytes
SERVERLESS_MAX_BODY_BYTES = 4_000_000  # Serverless Inference's 4 MB request limit, read the same way
DEFAULT_BATCH_SIZE = 128  # the server accepts 2048; answers are bounded by max_response_bytes too
Mode = Literal["realtime", "serverless", "async"]
MAX_BODY_BYTES: dict[str, int] = {
    "realtime": DEFAULT_MAX_BODY_BYTES, "serverless": SERVERLESS_MAX_BODY_BYTES, "async": DEFAULT_MAX_BODY_BYTES,
}  # fmt: skip
T = TypeVar("T")
Embeddings = np.ndarray | dict[str, np.ndarray]
Merge = Callable[[list[dict[str, np.ndarray]]], Embeddings]


class EmbeddingClient(MultiVectorMethods, ClassifyMethods, SparseMethods, TokenizerMethods):
    """Embeds any number of inputs through one endpoint; see the module docstring for the contract. Token vectors,
    classification, sparse vectors and the tokenizer: ``multivector``, ``classify``, ``sparse`` and ``tokens``."""

    def __init__(
        self,
        endpoint_name: str | None = None,
        region: str | None = None,
        *,
        transport: Transport | None = None,
        endpoint_url: str | None = None,
        boto_client: Any = None,
        model: str | None = None,
        mode: Mode = "realtime",
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_body_bytes: int | None = None,
        max_response_bytes: int | None = None,
        max_retries: int = 6,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 20.0,
        concurrency: int = 1,
        sleep: Callable[[float], None] = time.sleep,
        s3_input_uri: str | None = None,
        s3_client: Any = None,
        s3_endpoint_url: str | None = None,
        async_batch_size: int = DEFAULT_ASYNC_BATCH_SIZE,
        max_async_body_bytes: int = MAX_ASYNC_BODY_BYTES,
        async_timeout_s: float = DEFAULT_ASYNC_TIMEOUT_S,
        invocation_timeout_s: int | None = DEFAULT_INVOCATION_TIMEOUT_S,
        request_ttl_s: int | None = None,
        inference_component: str | None = None,
    ) -> None:
        if (endpoint_name is None) == (transport is None):
            raise ValueError("give exactly one of endpoint_name (SageMaker) or transport")
        if mode not in MAX_BODY_BYTES:
            raise ValueError(f"mode must be one of {sorted(MAX_BODY_BYTES)}, got {mode!r}")
        self.transport: Transport = transport or SageMakerTransport(
            endpoint_name or "", region, endpoint_url=endpoint_url, boto_client=boto_client,
            inference_component=inference_component,
        )
        if inference_component and (transport is not None or mode == "async"):
            raise ValueError("inference_component targets one component of a real-time SageMaker endpoint: give "
                             "endpoint_name (no transport), and not mode='async'")  # fmt: skip
        max_body_bytes = MAX_BODY_BYTES[mode] if max_body_bytes is None else max_body_bytes
        if batch_size < 1 or max_body_bytes < 64 or concurrency < 1 or max_retries < 0:
            raise ValueError("batch_size, concurrency >= 1, max_body_bytes >= 64, max_retries >= 0")
        if async_batch_size < 1 or max_async_body_bytes < 64 or async_timeout_s < 0:
            raise ValueError("async_batch_size >= 1, max_async_body_bytes >= 64, async_timeout_s >= 0")
        if s3_input_uri is not None:
            split_s3_uri(s3_input_uri)  # ValueError now rather than at the first call
        if mode == "async" and not s3_input_uri:
            raise ValueError('mode="async" needs s3_input_uri="s3://bucket/prefix" (where request bodies go)')
        self.model, self.mode, self.batch_size, self.max_body_bytes = model, mode, batch_size, max_body_bytes
        self.max_response_bytes = MAX_BODY_BYTES[mode] if max_response_bytes is None else max_response_bytes
        self._dimensions: int | None = None  # the model's, once an answer has shown them
        self.max_retries, self.backoff_base_s, self.backoff_max_s = max_retries, backoff_base_s, backoff_max_s
        self.concurrency, self._sleep = concurrency, sleep
        self._random: Callable[[], float] = random.random
        self.s3_input_uri, self.async_batch_size, self.max_async_body_bytes = (
            s3_input_uri, async_batch_size, max_async_body_bytes,
        )  # fmt: skip
        self.async_timeout_s, self.poll_initial_s, self.poll_max_s = async_timeout_s, POLL_INITIAL_S, POLL_MAX_S
        self.async_limits = AsyncLimits(invocation_timeout_s, request_ttl_s)  # ValueError outside the API's ranges
        self._s3_client, self._s3_endpoint_url = s3_client, s3_endpoint_url
        self._facts = None  # the served model's, where GET /info or answers showed them

    @classmethod
    def azure(
        cls,
        scoring_uri: str,
        key: str | None = None,
        *,
        credential: Any = None,
        deployment: str | None = None,
        **kwargs: Any,
    ) -> EmbeddingClient:
        """Azure ML online endpoint: ``key`` (the endpoint key, or a fixed token), or ``credential``, an
        azure-identity credential (``DefaultAzureCredential()``) asked for a fresh Entra token before each request
        (it caches and refreshes the token itself). Azure's 424 answers are judged by the container's status."""
        if (key is None) == (credential is None):
            raise ValueError("give the endpoint key or an azure-identity credential (one of them)")
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        if deployment:
            headers["azureml-model-deployment"] = deployment
        token = azure_token(credential) if credential is not None else None
        return cls(transport=HttpTransport(scoring_uri, headers, token=token), **kwargs)

    @classmethod
    def vertex(
        cls,
        project: str,
        region: str,
        endpoint_id: str,
        *,
        credentials: Any = None,
        raw: bool = False,
        api_endpoint: str | None = None,
        dedicated: bool = False,
        timeout_s: float = 120,
        **kwargs: Any,
    ) -> EmbeddingClient:
        """A Vertex AI endpoint (``project``: its id or number; ``endpoint_id``: the endpoint's numeric id).

        ``credentials``: google-auth credentials (default: ``google.auth.default()`` with the cloud-platform scope),
        refreshed when expired; each request carries the current token. ``raw=True`` posts the native bodies to
        ``:rawPredict``; else ``:predict`` with Vertex's ``instances``/``parameters``. ``api_endpoint``: another
        host than ``https://{region}-aiplatform.googleapis.com`` (a Private Service Connect address, a fake).
        ``dedicated=True``: a dedicated endpoint, called on its own DNS name (read from the endpoint resource once,
        unless ``api_endpoint`` gives it) with requests cut at its 10 MB limit; a long ``inference_timeout`` needs a
        ``timeout_s`` above it. Requests are cut at 1.5 MB otherwise (``max_body_bytes``, default 1,500,000). Needs
        google-auth (``pip install 'jina-class-embedding-client[vertex]'``)."""
        token = google_token(credentials if credentials is not None else default_credentials())
        if dedicated and api_endpoint is None:
            api_endpoint = dedicated_endpoint_dns(project, region, endpoint_id, token)
        url = vertex_url(project, region, endpoint_id, raw=raw, api_endpoint=api_endpoint)
        kwargs.setdefault("max_body_bytes", VERTEX_DEDICATED_MAX_BODY_BYTES if dedicated else VERTEX_MAX_BODY_BYTES)
        kwargs.setdefault("max_response_bytes", VERTEX_DEDICATED_MAX_BODY_BYTES if dedicated else VERTEX_MAX_BODY_BYTES)
        return cls(transport=VertexTransport(url, token, raw=raw, timeout_s=timeout_s), **kwargs)

    @classmethod
    def local(cls, url: str = "http://localhost:8080", **kwargs: Any) -> EmbeddingClient:
        """A local container or ``embed-serve``; a bare ``http://host:port`` posts to ``/invocations``."""
        if urlsplit(url).path in ("", "/"):
            url = url.rstrip("/") + "/invocations"
        parts = urlsplit(url)
        return cls(transport=HttpTransport(url, base_url=f"{parts.scheme}://{parts.netloc}"), **kwargs)

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
    ) -> Embeddings:
        """Embed ``inputs`` (str, bytes image, ``{"text"|"image": str}``, or a list of them), in order."""
        options: dict[str, Any] = {"task": task, "dimensions": dimensions, "embedding_type": embedding_type,
                   "normalized": normalized, "truncate": truncate, "late_chunking": late_chunking}  # fmt: skip
        if self.mode == "async":
            return self.embed_async(inputs, **options)
        items, body_options, merge = self._embed_plan(inputs, **options)
        batches = self._embed_batches(items, body_options, bound=not late_chunking or self._known(body_options))
        if late_chunking and len(batches) > 1:
            raise ValueError(f"late_chunking needs one request, but the inputs need {len(batches)}")
        parts: list[dict[str, np.ndarray]] = []
        if len(batches) > 1 and not self._known(body_options):  # the first answer shows the model's dimensions
            first = batches[0]
            parts.append(self._embed_batch([items[i] for i in first], body_options))
            batches = [range(r.start + first.stop, r.stop + first.stop)
                       for r in self._embed_batches(items[first.stop :], body_options)]  # fmt: skip
        parts += self._map(lambda batch: self._embed_batch([items[i] for i in batch], body_options), batches)
        return merge(parts)

    def _known(self, options: dict[str, Any]) -> bool:
        return "dimensions" in options or self._dimensions is not None

    def _embed_batches(self, items: list[Any], options: dict[str, Any], bound: bool = True) -> list[range]:
        """Requests within the body limit whose answers fit ``max_response_bytes`` (``bound``)."""
        dims = options.get("dimensions") or self._dimensions or ASSUMED_DIMENSIONS
        answer = embedding_answer_bytes(options["embedding_type"], dims) if bound else 0
        limit = self._body_limit(options, "input")
        return plan_batches(items, options, self.batch_size, limit, answer_bytes=answer,
                            max_answer_bytes=self.max_response_bytes)  # fmt: skip

    def embed_async(
        self,
        inputs: Input | Sequence[Input],
        *,
        timeout_s: float | None = None,
        s3_uri: str | None = None,
        inference_id: str | None = None,
        invocation_timeout_s: int | None = None,
        request_ttl_s: int | None = None,
        **options: Any,
    ) -> Embeddings:
        """``embed`` through SageMaker Asynchronous Inference: waits (at most ``timeout_s``, default the client's
        ``async_timeout_s``) and returns what ``embed`` returns. ``options``: ``embed``'s keyword arguments."""
        job = self.submit_embed_async(
            inputs, s3_uri=s3_uri, inference_id=inference_id, invocation_timeout_s=invocation_timeout_s,
            request_ttl_s=request_ttl_s, **options,
        )  # fmt: skip
        return job.wait(timeout_s)

    def submit_embed_async(
        self,
        inputs: Input | Sequence[Input],
        *,
        task: str | None = None,
        dimensions: int | None = None,
        embedding_type: str | Sequence[str] = "float",
        normalized: bool = True,
        truncate: bool = True,
        late_chunking: bool = False,
        s3_uri: str | None = None,
        inference_id: str | None = None,
        invocation_timeout_s: int | None = None,
        request_ttl_s: int | None = None,
    ) -> AsyncJob[Embeddings]:
        """Upload the request bodies to S3 and queue them with ``InvokeEndpointAsync``; returns at once.

        ``s3_uri``: ``s3://bucket/prefix`` for the request bodies (default: the client's ``s3_input_uri``).
        ``inference_id``: the requests' ``InferenceId`` (``-0``, ``-1``, ... appended when the inputs need several
        requests; default: a random one), also the request objects' names. ``invocation_timeout_s`` (1-3600) and
        ``request_ttl_s`` (60-21600) are passed as ``InvocationTimeoutSeconds`` / ``RequestTTLSeconds``; None: the
        client's (``async_limits``).
        """
        items, options, merge = self._embed_plan(
            inputs, task=task, dimensions=dimensions, embedding_type=embedding_type, normalized=normalized,
            truncate=truncate, late_chunking=late_chunking,
        )  # fmt: skip
        batches = plan_batches(items, options, self.async_batch_size, self.max_async_body_bytes)
        if late_chunking and len(batches) > 1:
            raise ValueError(f"late_chunking needs one request, but the inputs need {len(batches)}")

        def finish(answers: list[bytes]) -> Embeddings:
            return merge([self._decode_embeddings(a, len(b), options) for a, b in zip(answers, batches, strict=True)])

        body = lambda batch: dumps({**options, "input": [items[i] for i in batch]})  # noqa: E731
        return self._submit_async(batches, body, finish, s3_uri, inference_id, invocation_timeout_s, request_ttl_s)

    def _embed_plan(
        self,
        inputs: Input | Sequence[Input],
        *,
        task: str | None,
        dimensions: int | None,
        embedding_type: str | Sequence[str],
        normalized: bool,
        truncate: bool,
        late_chunking: bool,
    ) -> tuple[list[Any], dict[str, Any], Merge]:
        """The items, the request body's other fields, and how the decoded parts become the result."""
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

        def merge(parts: list[dict[str, np.ndarray]]) -> Embeddings:
            merged = {kind: np.concatenate([part[kind] for part in parts]) for kind in wire}
            result = {kind: merged["base64" if kind == "float" else kind] for kind in wanted}
            if single:
                result = {kind: array[0] for kind, array in result.items()}
            return result if as_dict else result[wanted[0]]

        return items, options, merge

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
        if self.mode == "async":
            return self.rerank_async(query, documents, top_n=top_n, return_documents=return_documents,
                                     truncate=truncate, raw_scores=raw_scores, model=model)  # fmt: skip
        plan = self._rerank_plan(query, documents, top_n, return_documents, truncate, raw_scores, model)
        texts, options, finish = plan
        limit = self._body_limit(options, "documents")
        batches = plan_batches(texts, options, self.batch_size, limit, key="documents",
                               answer_bytes=RERANK_RESULT_BYTES, max_answer_bytes=self.max_response_bytes)  # fmt: skip
        parts = self._map(lambda batch: self._rerank_batch([texts[i] for i in batch], options), batches)
        return finish(parts)

    def rerank_async(
        self,
        query: Document,
        documents: Sequence[Document],
        *,
        timeout_s: float | None = None,
        s3_uri: str | None = None,
        inference_id: str | None = None,
        invocation_timeout_s: int | None = None,
        request_ttl_s: int | None = None,
        **options: Any,
    ) -> RerankResponse:
        """``rerank`` through SageMaker Asynchronous Inference (see ``embed_async``); waits for the answer."""
        job = self.submit_rerank_async(
            query, documents, s3_uri=s3_uri, inference_id=inference_id, invocation_timeout_s=invocation_timeout_s,
            request_ttl_s=request_ttl_s, **options,
        )  # fmt: skip
        return job.wait(timeout_s)

    def submit_rerank_async(
        self,
        query: Document,
        documents: Sequence[Document],
        *,
        top_n: int | None = None,
        return_documents: bool = True,
        truncate: bool = True,
        raw_scores: bool = False,
        model: str | None = None,
        s3_uri: str | None = None,
        inference_id: str | None = None,
        invocation_timeout_s: int | None = None,
        request_ttl_s: int | None = None,
    ) -> AsyncJob[RerankResponse]:
        """``rerank``'s requests queued with ``InvokeEndpointAsync`` (see ``submit_embed_async``); returns at once."""
        plan = self._rerank_plan(query, documents, top_n, return_documents, truncate, raw_scores, model)
        texts, options, finish = plan
        batches = plan_batches(texts, options, self.async_batch_size, self.max_async_body_bytes, key="documents")

        def decode(answers: list[bytes]) -> RerankResponse:
            return finish([decode_scores(json.loads(a), len(b)) for a, b in zip(answers, batches, strict=True)])

        body = lambda batch: dumps({**options, "documents": [texts[i] for i in batch]})  # noqa: E731
        return self._submit_async(batches, body, decode, s3_uri, inference_id, invocation_timeout_s, request_ttl_s)

    def _rerank_plan(
        self,
        query: Document,
        documents: Sequence[Document],
        top_n: int | None,
        return_documents: bool,
        truncate: bool,
        raw_scores: bool,
        model: str | None,
    ) -> tuple[list[str], dict[str, Any], Callable[[list[tuple[np.ndarray, int, str]]], RerankResponse]]:
        if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
            raise ValueError(f"top_n must be a positive int or None, got {top_n!r}")
        texts = documents_of(documents)
        options = rerank_options(query, truncate=truncate, raw_scores=raw_scores, model=model or self.model)

        def finish(parts: list[tuple[np.ndarray, int, str]]) -> RerankResponse:
            scores = np.concatenate([part[0] for part in parts])
            tokens = sum(part[1] for part in parts)
            return build_response(scores, texts, top_n, return_documents, tokens, parts[0][2])

        return texts, options, finish

    def _rerank_batch(self, batch: list[str], options: dict[str, Any]) -> tuple[np.ndarray, int, str]:
        body = dumps({**options, "documents": batch})
        return decode_scores(json.loads(self._with_retry(lambda: self.transport.post(body))), len(batch))

    def _embed_batch(self, batch: list[Any], options: dict[str, Any]) -> dict[str, np.ndarray]:
        body = dumps({**options, "input": batch})
        decoded = self._decode_embeddings(self._with_retry(lambda: self.transport.post(body)), len(batch), options)
        if "dimensions" not in options:  # the model's: bounds the answers of later requests
            kind, array = next(iter(decoded.items()))
            self._dimensions = array.shape[-1] * (8 if kind in ("binary", "ubinary") else 1)
        return decoded

    @staticmethod
    def _decode_embeddings(answer: bytes, count: int, options: dict[str, Any]) -> dict[str, np.ndarray]:
        data = json.loads(answer).get("data", [])
        if len(data) != count:
            raise EmbeddingServiceError(200, "bad_response", f"sent {count} inputs, got {len(data)} embeddings")
        return decode_embeddings(data, options["embedding_type"], as_dict=True)  # a list of types was sent
