"""Transports: one JSON request body out, the response body back. SageMaker (boto3 ``sagemaker-runtime``)
and plain HTTP (Azure ML scoring URI, a local container; Vertex AI's ``VertexTransport`` in ``vertex``).
boto3/botocore and requests are imported when a transport is first built, so importing the package stays light."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .errors import EmbeddingServiceError

JSON = "application/json"
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


def s3_client(region: str | None = None, endpoint_url: str | None = None, session: Any = None) -> Any:
    """An ``s3`` client (botocore's own retries on) for async inference's request and answer objects."""
    import boto3

    session = session or boto3.Session(region_name=region)
    return session.client("s3", region_name=region, endpoint_url=endpoint_url)


class SageMakerTransport:
    """``sagemaker-runtime`` InvokeEndpoint through ``boto_client`` (default: ``runtime_client(region, ...)``).

    ``inference_component``: the ``InferenceComponentName`` of every request, on an endpoint that hosts several
    inference components (e.g. an embedder and a reranker); InvokeEndpointAsync has no such field."""

    def __init__(
        self,
        endpoint_name: str,
        region: str | None = None,
        *,
        endpoint_url: str | None = None,
        boto_client: Any = None,
        target_variant: str | None = None,
        inference_component: str | None = None,
    ) -> None:
        if target_variant and inference_component:
            raise ValueError("give target_variant or inference_component, not both (components have no variants)")
        self.endpoint_name, self.target_variant = endpoint_name, target_variant
        self.inference_component = inference_component
        self._client = boto_client or runtime_client(region, endpoint_url)

    def post(self, body: bytes) -> bytes:
        kwargs: dict[str, Any] = {"EndpointName": self.endpoint_name, "Body": body, "ContentType": JSON, "Accept": JSON}
        if self.target_variant:
            kwargs["TargetVariant"] = self.target_variant
        if self.inference_component:
            kwargs["InferenceComponentName"] = self.inference_component
        return bytes(_call(self._client.invoke_endpoint, kwargs)["Body"].read())

    def invoke_async(
        self,
        input_location: str,
        *,
        inference_id: str | None = None,
        invocation_timeout_s: int | None = None,
        request_ttl_s: int | None = None,
    ) -> dict[str, str | None]:
        """``InvokeEndpointAsync`` on a request body already in S3: ``InferenceId``, ``OutputLocation`` and
        ``FailureLocation`` (None where the endpoint config has no ``S3FailurePath``)."""
        if self.inference_component:
            raise ValueError("InvokeEndpointAsync cannot target an inference component (the API has no "
                             "InferenceComponentName); async endpoints host one model")  # fmt: skip
        kwargs: dict[str, Any] = {
            "EndpointName": self.endpoint_name, "InputLocation": input_location, "ContentType": JSON, "Accept": JSON,
        }  # fmt: skip
        optional = {"InferenceId": inference_id, "InvocationTimeoutSeconds": invocation_timeout_s,
                    "RequestTTLSeconds": request_ttl_s}  # fmt: skip
        kwargs.update({key: value for key, value in optional.items() if value is not None})
        response = _call(self._client.invoke_endpoint_async, kwargs)
        return {key: response.get(key) for key in ("InferenceId", "OutputLocation", "FailureLocation")}


def _call(operation: Any, kwargs: dict[str, Any]) -> Any:
    """One botocore call; its errors as ``EmbeddingServiceError`` (connection errors retryable)."""
    from botocore.exceptions import ClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    try:
        return operation(**kwargs)
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


# Azure ML managed online endpoints answer every non-200 of the container with HTTP 424 and put the container's own
# status and reason in these headers.
AZURE_WRAPPED_STATUS = "ms-azureml-model-error-statuscode"
AZURE_WRAPPED_REASON = "ms-azureml-model-error-reason"
AZURE_ML_SCOPE = "https://ml.azure.com/.default"


class HttpTransport:
    """POST to a URL with ``requests`` (Azure ML scoring URI, local container).

    ``token``: called before each request for a bearer token (an azure-identity credential's ``get_token``
    behind it caches the token and fetches a fresh one near expiry), so long jobs outlive any one token.
    ``base_url``: the server's root where its other paths are reachable too (a local container: ``/v1/multi-vector``,
    ``/v1/classify``, ``/tokenize``, ``/info``, ...); None (Azure ML, Vertex AI): only ``url`` answers."""

    def __init__(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        timeout_s: float = 120,
        token: Callable[[], str] | None = None,
        base_url: str | None = None,
    ) -> None:
        import requests

        self.url, self.timeout_s, self._token = url, timeout_s, token
        self.base_url = base_url.rstrip("/") if base_url else None
        self._session = requests.Session()
        self._session.headers.update({"Content-Type": JSON, "Accept": JSON, **(headers or {})})

    def post(self, body: bytes) -> bytes:
        return self._send("POST", self.url, body)

    def post_path(self, path: str, body: bytes) -> bytes:
        """POST ``body`` to ``path`` under ``base_url`` (``ValueError`` without one)."""
        return self._send("POST", self._at(path), body)

    def get_path(self, path: str) -> bytes:
        """GET ``path`` under ``base_url`` (``ValueError`` without one)."""
        return self._send("GET", self._at(path), None)

    def _at(self, path: str) -> str:
        if not self.base_url:
            raise ValueError(f"{path} is not reachable through {self.url} (a transport without base_url)")
        return self.base_url + path

    def _send(self, method: str, url: str, body: bytes | None) -> bytes:
        import requests

        headers = {"Authorization": f"Bearer {self._token()}"} if self._token else None
        try:
            response = self._session.request(method, url, data=body, timeout=self.timeout_s, headers=headers)
        except (requests.ConnectionError, requests.Timeout) as err:
            raise EmbeddingServiceError(0, "connection_error", str(err), retryable=True) from err
        if response.status_code == 200:
            return bytes(response.content)
        raise _http_error(response)


def _http_error(response: Any) -> EmbeddingServiceError:
    """The error of a non-200 answer, judged by the container's own status: Azure's 424 is unwrapped."""
    status = response.status_code
    wrapped = response.headers.get(AZURE_WRAPPED_STATUS, "")
    if status == 424 and wrapped.strip().isdigit():
        status = int(wrapped)
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        error = {}
    error = error if isinstance(error, dict) else {"message": str(error)}
    message = error.get("message") or response.headers.get(AZURE_WRAPPED_REASON) or response.text
    return EmbeddingServiceError(
        status,
        str(error.get("type") or error.get("status") or response.reason),  # Google's JSON errors name a "status"
        str(message),
        retryable=status in RETRYABLE_HTTP,
        retry_after=_retry_after(response.headers.get("Retry-After")),
    )


def azure_token(credential: Any, scope: str = AZURE_ML_SCOPE) -> Callable[[], str]:
    """A token source for ``HttpTransport`` from an azure-identity credential (``DefaultAzureCredential()``, ...):
    the credential's own cache hands back the current token and refreshes it before it expires."""

    def token() -> str:
        return str(credential.get_token(scope).token)

    return token
