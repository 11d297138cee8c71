"""The request id (the one writer of it): SageMaker's ``X-Amzn-RequestId``, else the client's
``X-Request-Id``, else a fresh one. It is echoed in ``X-Request-Id`` and logged with every request."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

RESPONSE_HEADER = "X-Request-Id"
_SOURCES = ("HTTP_X_AMZN_REQUESTID", "HTTP_X_REQUEST_ID")  # WSGI names of X-Amzn-RequestId, X-Request-Id


def request_id(environ: Mapping[str, Any]) -> str:
    """From a WSGI environ (Flask's ``request.environ`` or the runtime's own)."""
    for name in _SOURCES:
        value = environ.get(name)
        if value:
            return str(value)
    return uuid.uuid4().hex
