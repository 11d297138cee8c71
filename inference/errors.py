"""Typed serving errors. Each class carries its HTTP status; the web layer maps them in one place.

Pure Python: no web framework and no torch imports, so every layer may raise these.
"""

from __future__ import annotations

from typing import ClassVar


class ServingError(Exception):
    """Base class. ``status`` is the HTTP status, ``type`` the machine-readable error type."""

    status: ClassVar[int] = 500
    type: ClassVar[str] = "internal_error"
    retry_after: ClassVar[int | None] = None

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
    """The in-flight queue is full; the client should retry later."""

    status = 503
    type = "overloaded"
    retry_after = 1


class InternalError(ServingError):
    """Unexpected failure. The message sent to clients never carries internals."""

    status = 500
    type = "internal_error"


class DeviceOutOfMemoryError(ServingError):
    """A single input does not fit in accelerator memory even alone."""

    status = 503
    type = "device_out_of_memory"
    retry_after = 1
