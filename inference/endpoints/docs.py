"""OpenAPI building blocks shared by the slices and the web layer's document."""

from __future__ import annotations

from typing import Any

from ..errors import (
    InvalidInputError,
    ModelNotReadyError,
    NotAcceptableError,
    OverloadedError,
    PayloadTooLargeError,
    ResponseTooLargeError,
    ServingError,
    UnsupportedMediaTypeError,
    WrongModelKindError,
)
from ..mime import JSON

REF = "#/components/schemas/{model}"


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def error_doc(err: type[ServingError], when: str) -> dict[str, Any]:
    """An error response: the ``Error`` envelope, and ``Retry-After`` where the error type sets it."""
    response: dict[str, Any] = {
        "description": f"{when} (`error.type`: `{err.type}`)",
        "content": {JSON: {"schema": ref("Error")}},
    }
    if err.retry_after is not None:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    return response


def model_work_errors(invalid: str, not_kind: str, too_large: str) -> dict[str, Any]:
    """The error responses of a model-work route: 400 (``invalid``: what is checked; ``not_kind``: which model the
    route needs), 406, 413 (``too_large``: when an answer is over the response limit), 415 and 503."""
    return {
        "400": error_doc(InvalidInputError, f"Invalid JSON, schema or values ({invalid}); an unknown field; or, type "
                         f"`{WrongModelKindError.type}`, the loaded model is not {not_kind}"),
        "406": error_doc(NotAcceptableError, "Accept names no type this endpoint produces"),
        "413": error_doc(PayloadTooLargeError, "Body over EMB_MAX_BODY_MB, or more work than the deadline allows; "
                         f"or, type `{ResponseTooLargeError.type}`, {too_large}"),
        "415": error_doc(UnsupportedMediaTypeError, "Content-Type not accepted"),
        "503": error_doc(OverloadedError, f"At capacity or the model is not ready (`{ModelNotReadyError.type}`); "
                         "retry after Retry-After"),
    }  # fmt: skip
