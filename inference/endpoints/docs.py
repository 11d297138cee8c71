"""OpenAPI building blocks shared by the slices and the web layer's document."""

from __future__ import annotations

from typing import Any

from ..errors import ServingError
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
