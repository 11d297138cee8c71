"""Typed serving errors. Each class carries its HTTP status; the web layer maps them in one place.

Pure Python: no web framework and no torch imports, so every layer may raise these.
"""

from __future__ import annotations

from typing import ClassVar


class ServingError(Exception):
    """Base class. ``status`` is the HTTP status, ``type`` the machine-readable error type."""

    status: ClassVar[int] = 500
    type: ClassVar[str] = "internal_error"
    retry_after: int | None = None  # the class's default; an instance may set its own (OverloadedError)

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"type": self.type, "message": self.message}
        if self.param is not None:
            body["param"] = self.param
        return body

    def envelope(self) -> dict[str, object]:
        """The JSON error body every error response carries: ``{"error": {"type", "message"[, "param"]}}``."""
        return {"error": self.to_dict()}

    def headers(self) -> list[tuple[str, str]]:
        """Headers every response for this error carries besides the body's (``Retry-After`` when set)."""
        return [("Retry-After", str(self.retry_after))] if self.retry_after is not None else []


class InvalidInputError(ServingError):
    """The request is well-formed transport-wise but its content is wrong (bad JSON, types, values)."""

    status = 400
    type = "invalid_request_error"


class WrongModelKindError(InvalidInputError):
    """An embeddings request to a reranker, or a rerank request to an embedding model."""

    type = "wrong_model_kind"


class PayloadTooLargeError(ServingError):
    """Body over the byte limit."""

    status = 413
    type = "payload_too_large"


class UnsupportedMediaTypeError(ServingError):
    status = 415
    type = "unsupported_media_type"


class NotAcceptableError(ServingError):
    status = 406
    type = "not_acceptable"


class NotFoundError(ServingError):
    status = 404
    type = "not_found"


class MethodNotAllowedError(ServingError):
    status = 405
    type = "method_not_allowed"


class ModelNotReadyError(ServingError):
    """The model is still loading or failed to load."""

    status = 503
    type = "model_not_ready"
    retry_after = 5


class OverloadedError(ServingError):
    """The worker cannot take (or finish in time) this request now; retry after ``retry_after`` seconds."""

    status = 503
    type = "overloaded"
    retry_after = 1

    def __init__(self, message: str, *, param: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message, param=param)
        if retry_after is not None:
            self.retry_after = retry_after


class InsufficientStorageError(ServingError):
    """The disk holding temporary request bodies is full (``TMPDIR``): the body could not be kept."""

    status = 507
    type = "insufficient_storage"
    retry_after = 5


class RequestTooLargeError(ServingError):
    """One request needs more model time than the request deadline allows, even on an idle worker: split it."""

    status = 413
    type = "request_too_large"


class ResponseTooLargeError(ServingError):
    """The answer would be larger than the platform returns (``EMB_MAX_RESPONSE_MB``): refused before any model
    work; the message says how many inputs of the request's type and dimensions fit."""

    status = 413
    type = "response_too_large"


class ClientClosedRequestError(ServingError):
    """The client closed its connection first: the request's queued model work was dropped (nginx's 499)."""

    status = 499
    type = "client_closed_request"


class RequestTimeoutError(ServingError):
    """The client did not send its request head or body in time (the HTTP front's timeouts)."""

    status = 408
    type = "request_timeout"


class RequestHeaderFieldsTooLargeError(ServingError):
    """The request line and headers are larger than the front accepts."""

    status = 431
    type = "request_header_fields_too_large"


class InternalError(ServingError):
    """Unexpected failure. The message sent to clients never carries internals."""

    status = 500
    type = "internal_error"


class DeviceOutOfMemoryError(ServingError):
    """A single input does not fit in accelerator memory even alone."""

    status = 503
    type = "device_out_of_memory"
    retry_after = 1


class AuthenticationError(ServingError):
    """API keys are on and the request carries no valid one (``Authorization: Bearer <key>``)."""

    status = 401
    type = "authentication_error"

    def __init__(self, message: str, *, invalid_token: bool = False) -> None:
        super().__init__(message)
        self.invalid_token = invalid_token

    def headers(self) -> list[tuple[str, str]]:
        challenge = 'Bearer realm="embeddings"' + (', error="invalid_token"' if self.invalid_token else "")
        return [("WWW-Authenticate", challenge)]


class RateLimitedError(ServingError):
    """The key (or client address) has used its requests or tokens per minute; ``rate_headers`` say how far."""

    status = 429
    type = "rate_limit_exceeded"
    retry_after = 1  # each instance sets its own: until the exhausted limits allow a request

    def __init__(self, message: str, *, retry_after: int, rate_headers: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.rate_headers = rate_headers

    def headers(self) -> list[tuple[str, str]]:
        return [*super().headers(), *self.rate_headers]


class HostUnfitError(RuntimeError):
    """The host cannot serve the model (e.g. a GPU its CUDA cannot use), said in words written for whoever deploys
    the server, with no paths or internals: the one kind of load failure whose message ``/ping`` repeats."""
