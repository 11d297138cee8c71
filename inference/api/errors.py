"""The one place where exceptions become HTTP responses: JSON ``{"error": {"type", "message"}}``."""

from __future__ import annotations

import logging

from flask import Flask, Response
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..codecs.json import error_json
from ..errors import (
    InternalError,
    InvalidInputError,
    MethodNotAllowedError,
    ModelNotReadyError,
    NotFoundError,
    PayloadTooLargeError,
    ServingError,
)
from ..metrics import SHED

log = logging.getLogger(__name__)

_HTTP_TO_SERVING: dict[int, type[ServingError]] = {
    400: InvalidInputError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    413: PayloadTooLargeError,
}


def error_response(err: ServingError) -> Response:
    body, headers = error_json(err)
    return Response(body, status=err.status, headers=headers)


def _from_http(exc: HTTPException) -> ServingError:
    if isinstance(exc, RequestEntityTooLarge):
        return PayloadTooLargeError("request body is larger than the configured limit")
    kind = _HTTP_TO_SERVING.get(exc.code or 500, InternalError)
    return kind(exc.description or exc.name)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ServingError)
    def _serving(err: ServingError) -> Response:
        if err.status == 503 and not isinstance(err, ModelNotReadyError):  # shed for load (embed_shed_total)
            SHED.labels(reason=err.type).inc()
        return error_response(err)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        return error_response(_from_http(exc))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        if type(exc).__module__.startswith("gunicorn.http"):  # the server could not read the body (bad chunking)
            return error_response(InvalidInputError(f"request body could not be read: {type(exc).__name__}"))
        log.exception("unhandled error")
        return error_response(InternalError("internal server error; see the server log"))
