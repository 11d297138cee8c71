"""Python client for the embedding service on SageMaker, Azure ML or a local container.

    client = EmbeddingClient("my-endpoint", "us-east-1")              # SageMaker (boto3 sagemaker-runtime)
    client = EmbeddingClient.azure(scoring_uri, key)                  # Azure ML online endpoint
    client = EmbeddingClient.local("http://localhost:8080")           # docker run / embed-serve
    vectors = client.embed(["a", "b"], task="query", dimensions=256)  # numpy (2, 256) float32

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
- Returned arrays: ``float``/``base64`` -> float32 (n, d); ``binary`` -> int8 (n, d/8); ``ubinary`` ->
  uint8 (n, d/8). A single ``str`` input gives one row (1-D); a list of embedding types gives a dict.

Only numpy is imported at module level; boto3/botocore and requests are imported when first used, so the
server image does not need them.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol
from urllib.parse import urlsplit

import numpy as np

JSON = "application/json"
DEFAULT_MAX_BODY_BYTES = 6_000_000  # SageMaker's 6 MB request limit, read as decimal megabytes
DEFAULT_BATCH_SIZE = 128  # the server accepts 2048; 128 keeps responses < 6 MB up to 8192 dimensions
RETRYABLE_HTTP = frozenset({429, 502, 503, 504})
RETRYABLE_AWS = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailable",
        "ModelNotReadyException",
        "InternalFailure",
        "InternalDependencyException",
    }
)
_DTYPES = {"float": np.float32, "base64": np.float32, "binary": np.int8, "ubinary": np.uint8}

Input = str | dict[str, str] | bytes


class EmbeddingServiceError(Exception):
    """A failed call. ``status`` is the HTTP status (0: no response); ``retryable`` drives the retry loop."""

    def __init__(
        self, status: int, code: str, message: str, *, retryable: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.retryable, self.retry_after = retryable, retry_after


class Transport(Protocol):
    """Sends one JSON request body and returns the response body, or raises ``EmbeddingServiceError``."""

    def post(self, body: bytes) -> bytes: ...


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def runtime_client(
    region: str | None = None, endpoint_url: str | None = None, session: Any = None, timeout_s: float = 70
) -> Any:
    """A ``sagemaker-runtime`` client with botocore's retries off (``EmbeddingClient`` retries itself)."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"total_max_attempts": 1}, read_timeout=timeout_s, connect_timeout=10)
    session = session or boto3.Session(region_name=region)
    return session.client("sagemaker-runtime", region_name=region, endpoint_url=endpoint_url, config=config)


class SageMakerTransport:
    """``sagemaker-runtime`` InvokeEndpoint through ``boto_client`` (default: ``runtime_client(region, ...)``)."""

    def __init__(
        self,
        endpoint_name: str,
        region: str | None = None,
        *,
        endpoint_url: str | None = None,
        boto_client: Any = None,
        target_variant: str | None = None,
    ) -> None:
        self.endpoint_name, self.target_variant = endpoint_name, target_variant
        self._client = boto_client or runtime_client(region, endpoint_url)

    def post(self, body: bytes) -> bytes:
        from botocore.exceptions import ClientError
        from botocore.exceptions import ConnectionError as BotoConnectionError

        kwargs: dict[str, Any] = {"EndpointName": self.endpoint_name, "Body": body, "ContentType": JSON, "Accept": JSON}
        if self.target_variant:
            kwargs["TargetVariant"] = self.target_variant
        try:
            return bytes(self._client.invoke_endpoint(**kwargs)["Body"].read())
        except ClientError as err:
            raise _from_client_error(err.response) from err
        except BotoConnectionError as err:
            raise EmbeddingServiceError(0, "connection_error", str(err), retryable=True) from err


def _from_client_error(response: dict[str, Any]) -> EmbeddingServiceError:
    """Map a botocore error response; ``ModelError`` is judged by the container's own status."""
    error, meta = response.get("Error", {}), response.get("ResponseMetadata", {})
    code, status = str(error.get("Code", "")), int(meta.get("HTTPStatusCode", 0))
    message = str(error.get("Message", ""))
    if code == "ModelError" and response.get("OriginalStatusCode") is not None:
        status = int(response["OriginalStatusCode"])
        message = str(response.get("OriginalMessage") or message)
    retryable = code in RETRYABLE_AWS or status in RETRYABLE_HTTP
    retry_after = _retry_after(meta.get("HTTPHeaders", {}).get("retry-after"))
    return EmbeddingServiceError(status, code, message, retryable=retryable, retry_after=retry_after)


class HttpTransport:
    """POST to a URL with ``requests`` (Azure ML scoring URI, local container)."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, timeout_s: float = 120) -> None:
        import requests

        self.url, self.timeout_s = url, timeout_s
        self._session = requests.Session()
        self._session.headers.update({"Content-Type": JSON, "Accept": JSON, **(headers or {})})

    def post(self, body: bytes) -> bytes:
        import requests

        try:
            response = self._session.post(self.url, data=body, timeout=self.timeout_s)
        except (requests.ConnectionError, requests.Timeout) as err:
            raise EmbeddingServiceError(0, "connection_error", str(err), retryable=True) from err
        if response.status_code == 200:
            return response.content
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {}
        error = error if isinstance(error, dict) else {"message": str(error)}
        raise EmbeddingServiceError(
            response.status_code,
            str(error.get("type", response.reason)),
            str(error.get("message", response.text)),
            retryable=response.status_code in RETRYABLE_HTTP,
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )


def _item(value: Input) -> str | dict[str, str]:
    if isinstance(value, bytes):
        return {"image": base64.b64encode(value).decode("ascii")}
    if isinstance(value, str) or (isinstance(value, dict) and len(value) == 1 and {"text", "image"} & set(value)):
        return value
    raise TypeError(f"inputs must be str, bytes or {{'text'|'image': str}}, got {value!r:.80}")


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def plan_batches(items: Sequence[Any], options: dict[str, Any], batch_size: int, max_body_bytes: int) -> list[range]:
    """Split ``items`` into consecutive ranges whose request body ``{**options, "input": [...]}`` fits."""
    overhead = len(_dumps({**options, "input": []}))
    batches: list[range] = []
    start, size = 0, overhead
    for index, item in enumerate(items):
        item_bytes = len(_dumps(item))
        if overhead + item_bytes > max_body_bytes:
            raise ValueError(f"input[{index}] alone makes a {overhead + item_bytes}-byte body (> {max_body_bytes})")
        if index > start and (index - start >= batch_size or size + 1 + item_bytes > max_body_bytes):
            batches.append(range(start, index))
            start, size = index, overhead
        size += item_bytes + (1 if index > start else 0)  # a comma before every input but the first
    if start < len(items):
        batches.append(range(start, len(items)))
    return batches


def decode_embeddings(data: list[dict[str, Any]], types: Sequence[str], as_dict: bool) -> dict[str, np.ndarray]:
    """Response ``data`` (sorted by ``index``) -> one (n, d) array per type, as the wire types name them."""
    rows = [entry["embedding"] for entry in sorted(data, key=lambda entry: entry["index"])]
    out: dict[str, np.ndarray] = {}
    for kind in types:
        values = [row[kind] if as_dict else row for row in rows]
        if kind == "base64":
            out[kind] = np.stack([np.frombuffer(base64.b64decode(v), dtype="<f4") for v in values]).astype(np.float32)
        else:
            out[kind] = np.asarray(values, dtype=_DTYPES[kind])
    return out


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
        items = [_item(x) for x in raw]
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

    def _map(self, fn: Callable[[range], dict[str, np.ndarray]], batches: list[range]) -> list[dict[str, np.ndarray]]:
        if self.concurrency == 1 or len(batches) == 1:
            return [fn(batch) for batch in batches]
        with ThreadPoolExecutor(min(self.concurrency, len(batches))) as pool:
            return list(pool.map(fn, batches))  # map keeps the batches' order

    def _embed_batch(self, batch: list[Any], options: dict[str, Any]) -> dict[str, np.ndarray]:
        response = json.loads(self._post_with_retry(_dumps({**options, "input": batch})))
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
