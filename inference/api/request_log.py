"""JSON logs on stdout: one line per request (id, inputs, tokens, ms, status); /ping only at DEBUG."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable

from flask import Flask, Response, g, request

from .request_id import RESPONSE_HEADER, request_id

ACCESS_LOGGER = "inference.access"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,  # which worker (several per server)
            "msg": record.getMessage(),
        }
        payload.update(getattr(record, "fields", {}))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def install_request_log(app: Flask, quiet_paths: Iterable[str]) -> None:
    """One access-log line per request; ``quiet_paths`` (the health probes) only at DEBUG."""
    access = logging.getLogger(ACCESS_LOGGER)
    quiet = frozenset(quiet_paths)

    @app.before_request
    def _start() -> None:
        g.start = time.perf_counter()
        g.request_id = request_id(request.environ)
        g.n_inputs = None
        g.tokens = None

    @app.after_request
    def _finish(response: Response) -> Response:
        fields = {
            "id": g.get("request_id"),
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "inputs": g.get("n_inputs"),
            "tokens": g.get("tokens"),
            "key": g.get("api_key"),  # the API key's name (never the key), when keys are on
            "ms": round((time.perf_counter() - g.get("start", time.perf_counter())) * 1000, 2),
        }
        level = logging.DEBUG if request.path in quiet else logging.INFO
        access.log(level, "request", extra={"fields": fields})
        response.headers[RESPONSE_HEADER] = str(g.get("request_id"))
        return response
