"""The request id (the one writer of it): SageMaker's ``X-Amzn-RequestId``, else the client's
``X-Request-Id``, else a fresh one. It is echoed in ``X-Request-Id`` and logged with every request.

A header value is taken only when it is printable ASCII (spaces inside only) of at most ``MAX_LENGTH``
characters: anything else (a latin-1 byte, a control character, an oversized value) is ignored as if absent,
so no client byte that could break a response header or a log line is ever echoed."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

RESPONSE_HEADER = "X-Request-Id"
MAX_LENGTH = 200
_SOURCES = ("HTTP_X_AMZN_REQUESTID", "HTTP_X_REQUEST_ID")  # WSGI names of X-Amzn-RequestId, X-Request-Id
_PRINTABLE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")


def valid_request_id(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_LENGTH and _PRINTABLE.fullmatch(value) is not None


def request_id(environ: Mapping[str, Any]) -> str:
    """From a WSGI environ (Flask's ``request.environ`` or the runtime's own): the first valid source's value."""
    for name in _SOURCES:
        value = environ.get(name)
        if valid_request_id(value):
            return str(value)
    return uuid.uuid4().hex
