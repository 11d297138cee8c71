"""Google Cloud Vertex AI online prediction: ``:predict`` (Vertex's ``{"instances", "parameters"}`` bodies,
translated to and from the service's native ones) and ``:rawPredict`` (the native bodies unchanged), with bearer
tokens from google-auth credentials.

``VertexTransport.post`` takes and returns the native bodies (``{<options>, "input": [...]}`` /
``{<options>, "query", "documents": [...]}`` and their answers), so ``EmbeddingClient`` batches, retries and
decodes exactly as for the other clouds. With ``:predict``:

- embeddings: ``instances`` = the inputs (``str`` / ``{"text"}`` / ``{"image"}``), ``parameters`` = every other
  field of the native body (``embedding_type``, ``normalized``, ``truncate``, ``task``, ``dimensions``, ...);
  ``predictions[i]`` = the native ``data[i]["embedding"]`` (a ``{type: value}`` object for a list of types, or
  the bare value).
- rerank: one instance ``{"query", "documents"}`` per request, the other fields as ``parameters``;
  ``predictions[0]`` = the native ``results`` list (no ``usage``: ``total_tokens`` is 0).
- multi-vector (``post(body, "multivector")``, a late-interaction model): ``instances`` = the texts,
  ``parameters`` = ``input_type``, ``embedding_type``, ...; ``predictions[i]`` = the native ``data[i]["embeddings"]``
  (the text's token vectors).
- classify (``post(body, "classify")``, a classifier): ``instances`` = the inputs, ``parameters`` = ``labels``;
  ``predictions[i]`` = the native ``data[i]`` without ``object`` and ``index`` (``prediction``, ``score``,
  ``predictions``). No usage comes back.
- sparse (``post(body, "sparse")``, a SPLADE model; TEI's ``{"inputs": [...], ...}`` body): ``instances`` = the
  texts, ``parameters`` = ``truncate``, ``prompt_name``; ``predictions[i]`` = the native answer's ``[i]`` (the
  text's ``{"index", "value"}`` entries).

Vertex limits an online prediction request to 1.5 MB on a shared endpoint and to 10 MB on a dedicated one:
``body_overhead`` tells the client how many bytes the Vertex envelope adds to a native body (a constant for given
options), so requests are cut at the real size. A dedicated endpoint answers only on its own DNS name
(``dedicated_endpoint_dns``, read from the endpoint resource). google-auth is optional
(``pip install 'jina-class-embedding-client[vertex]'``) and imported only when needed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from .errors import EmbeddingServiceError
from .transports import HttpTransport
from .wire import dumps

VERTEX_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
VERTEX_MAX_BODY_BYTES = 1_500_000  # Vertex AI's 1.5 MB online prediction request limit, read as decimal bytes
VERTEX_DEDICATED_MAX_BODY_BYTES = 10_000_000  # a dedicated endpoint's 10 MB limit, read the same way
API_HOST = "https://{region}-aiplatform.googleapis.com"  # the regional API (and shared endpoints' prediction) host
RERANK_INSTANCE_FIELDS = ("query", "documents", "top_n")
_MISSING = (
    "EmbeddingClient.vertex needs google-auth for its credentials: "
    "pip install 'jina-class-embedding-client[vertex]' (or pip install 'google-auth>=2')"
)


def vertex_url(
    project: str, region: str, endpoint_id: str, *, raw: bool = False, api_endpoint: str | None = None
) -> str:
    """``https://{region}-aiplatform.googleapis.com/v1/projects/.../endpoints/{id}:predict`` (``:rawPredict``).
    ``api_endpoint``: another host (a dedicated endpoint's DNS name, a Private Service Connect address, a fake)."""
    host = api_endpoint or API_HOST.format(region=region)
    host = host if "://" in host else f"https://{host}"
    method = "rawPredict" if raw else "predict"
    return f"{host.rstrip('/')}/v1/projects/{project}/locations/{region}/endpoints/{endpoint_id}:{method}"


def dedicated_endpoint_dns(
    project: str, region: str, endpoint_id: str, token: Callable[[], str], *, timeout_s: float = 30
) -> str:
    """A dedicated endpoint's own host (the endpoint resource's ``dedicatedEndpointDns``, read with a GET on the
    regional API): its predictions go there, the shared regional host refuses them. ``ValueError`` for a shared
    endpoint; ``EmbeddingServiceError`` when the API refuses (404: no such endpoint, 403: no permission)."""
    import requests

    from .transports import _http_error

    url = f"{API_HOST.format(region=region)}/v1/projects/{project}/locations/{region}/endpoints/{endpoint_id}"
    try:
        response = requests.get(url, headers={"Authorization": f"Bearer {token()}"}, timeout=timeout_s)
    except (requests.ConnectionError, requests.Timeout) as err:
        raise EmbeddingServiceError(0, "connection_error", str(err), retryable=True) from err
    if response.status_code != 200:
        raise _http_error(response)
    dns = response.json().get("dedicatedEndpointDns")
    if not dns:
        raise ValueError(f"endpoint {endpoint_id} is not a dedicated endpoint (it has no dedicatedEndpointDns)")
    return str(dns)


def _google_auth() -> Any:
    try:
        import google.auth
        import google.auth.transport.requests
    except ImportError as err:
        raise ImportError(_MISSING) from err
    return google.auth


def default_credentials() -> Any:
    """Application Default Credentials with the cloud-platform scope (``gcloud auth application-default login``,
    a service account's key file in ``GOOGLE_APPLICATION_CREDENTIALS``, or the metadata server on Google Cloud)."""
    credentials, _project = _google_auth().default(scopes=[VERTEX_SCOPE])
    return credentials


def google_token(credentials: Any) -> Callable[[], str]:
    """A token source for ``HttpTransport``: the credentials' current token, refreshed (under a lock, so
    concurrent requests refresh once) when it is missing or expired."""
    lock = threading.Lock()
    request: list[Any] = []  # google-auth's Request, built at the first refresh

    def token() -> str:
        with lock:
            if credentials.token is None or not credentials.valid or getattr(credentials, "expired", False):
                if not request:
                    request.append(_google_auth().transport.requests.Request())
                credentials.refresh(request[0])
            return str(credentials.token)

    return token


def to_predict(native: dict[str, Any]) -> dict[str, Any]:
    """A native request body -> Vertex's ``{"instances": [...], "parameters": {...}}``."""
    for key in ("input", "inputs"):  # embeddings, multi-vector, classify; sparse (TEI's body)
        if key in native:
            return {"instances": native[key], "parameters": {k: v for k, v in native.items() if k != key}}
    if "query" in native and "documents" in native:
        instance = {key: native[key] for key in RERANK_INSTANCE_FIELDS if key in native}
        parameters = {key: value for key, value in native.items() if key not in RERANK_INSTANCE_FIELDS}
        return {"instances": [instance], "parameters": parameters}
    raise ValueError("a native body has 'input' (embeddings), 'inputs' (sparse) or 'query' and 'documents' (rerank)")


def from_predict(native: dict[str, Any], answer: Any, kind: str | None = None) -> Any:
    """Vertex's ``{"predictions": [...], "deployedModelId", "model", ...}`` -> the native answer to ``native``
    (``kind``: ``multivector`` or ``classify`` for those APIs' ``input`` bodies, ``sparse`` for TEI's ``inputs``
    body: the list of predictions; None: embeddings or rerank)."""
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(predictions, list):
        raise EmbeddingServiceError(200, "bad_response", f"no predictions in the response: {str(answer):.200}")
    model = str(answer.get("modelDisplayName") or answer.get("model") or "")
    if kind == "sparse":  # TEI's answer is the list of per-input entries itself
        return predictions
    if "input" not in native:  # rerank: one instance, its prediction the results list
        if len(predictions) != 1:
            raise EmbeddingServiceError(200, "bad_response", f"sent 1 rerank instance, got {len(predictions)}")
        return {"object": "list", "model": model, "results": predictions[0], "usage": {"total_tokens": 0}}
    if kind == "classify":  # each prediction Jina's classify entry without its object and index
        data = [{**p, "object": "classification", "index": i} if isinstance(p, dict) else p
                for i, p in enumerate(predictions)]  # fmt: skip
        return {"data": data, "usage": {"total_tokens": 0}}
    types = native.get("embedding_type")
    bare = [types] if isinstance(types, str) else types if isinstance(types, list) and len(types) == 1 else None

    def embedding(value: Any) -> Any:  # a bare value answered for a one-type request: the native {type: value}
        return {bare[0]: value} if bare is not None and not isinstance(value, dict) else value

    if kind == "multivector":  # each prediction one input's token vectors
        data = [{"object": "embeddings", "index": i, "embeddings": embedding(p)} for i, p in enumerate(predictions)]
        return {"object": "list", "model": model, "data": data, "usage": {"total_tokens": 0}}
    data = [{"object": "embedding", "index": i, "embedding": embedding(p)} for i, p in enumerate(predictions)]
    return {"object": "list", "model": model, "data": data}


class VertexTransport(HttpTransport):
    """A Vertex AI endpoint's ``:predict`` (bodies translated) or ``:rawPredict`` (native bodies) URL.

    ``token``: called before each request for a bearer token (see ``google_token``). Errors are Google's JSON
    (``{"error": {"code", "message", "status"}}``): the exception carries the HTTP status, ``status`` as its code
    and the message; 429/502/503/504 are retried like every other transport's."""

    def __init__(
        self,
        url: str,
        token: Callable[[], str] | None = None,
        *,
        raw: bool = False,
        headers: dict[str, str] | None = None,
        timeout_s: float = 120,
    ) -> None:
        super().__init__(url, headers, timeout_s=timeout_s, token=token)
        self.raw = raw

    def body_overhead(self, options: dict[str, Any], key: str) -> int:
        """Bytes the Vertex body adds to the native body ``{**options, key: [...]}`` (the same for any items)."""
        if self.raw:
            return 0
        empty = {**options, key: []}
        return len(dumps(to_predict(empty))) - len(dumps(empty))

    def post(self, body: bytes, kind: str | None = None) -> bytes:
        """A native body out, the native answer back (``kind``: see ``from_predict``)."""
        if self.raw:
            return super().post(body)
        native = json.loads(body)
        answer = super().post(dumps(to_predict(native)))
        try:
            decoded = json.loads(answer)
        except ValueError as err:
            raise EmbeddingServiceError(200, "bad_response", f"not JSON: {answer[:200]!r}") from err
        return dumps(from_predict(native, decoded, kind))
