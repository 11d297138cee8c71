"""The WSGI guard between gunicorn and the app, in each worker:

- every request's socket gets a read/write timeout (gunicorn leaves it blocking forever), and a body that
  stops arriving becomes a 400 instead of holding a request thread (slow-body denial of service);
- a request that ``AdmissionPool`` put on a shed thread gets 503 ``overloaded`` + ``Retry-After`` at once,
  except health probes, which the app answers as usual;
- a readiness probe answers 503 ``model_not_ready`` while this worker is ready but another worker of this
  server takes connections it cannot serve yet (readiness.py); otherwise the app answers it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, cast

from werkzeug.exceptions import BadRequest

from ..api.request_id import RESPONSE_HEADER, request_id
from ..codecs.json import error_json
from ..errors import ModelNotReadyError, OverloadedError, ServingError
from .admission import in_shed_thread

BODY_TIMEOUT_S = 30  # longest silence reading a request body or writing a response (at most EMB_TIMEOUT / 4)
_DRAIN_CHUNK = 64 * 1024
access_log = logging.getLogger("inference.access")
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Probes:
    """Health-probe paths (never shed) and, among them, the readiness probes (which wait for every worker)."""

    all: frozenset[str]
    readiness: frozenset[str]


class TimedInput:
    """``wsgi.input`` whose socket read timeout becomes a 400."""

    def __init__(self, stream: Any, timeout_s: float) -> None:
        self._stream = stream
        self._timeout_s = timeout_s

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except TimeoutError:
            raise BadRequest(f"request body not received within {self._timeout_s:g} s") from None

    def read(self, *args: Any) -> bytes:
        return cast(bytes, self._call(self._stream.read, *args))

    def readline(self, *args: Any) -> bytes:
        return cast(bytes, self._call(self._stream.readline, *args))

    def readlines(self, *args: Any) -> list[bytes]:
        return cast(list[bytes], self._call(self._stream.readlines, *args))

    def __iter__(self) -> Any:
        return iter(self.readline, b"")


def _drain(environ: dict[str, Any], limit: int) -> bool:
    """Read and drop the request body (so the connection stays usable); False when it exceeds ``limit``."""
    stream = environ.get("wsgi.input")
    read = 0
    while stream is not None and read <= limit:
        chunk = stream.read(_DRAIN_CHUNK)
        if not chunk:
            return True
        read += len(chunk)
    return stream is None


def _answer(err: ServingError, environ: dict[str, Any], start_response: Callable[..., Any], keep: bool,
            started: float, level: int = logging.INFO) -> list[bytes]:  # fmt: skip
    """The guard's own error response, with the request id and one access-log line like the app's (health
    probes at DEBUG, as the app logs them)."""
    body, headers = error_json(err)
    rid = request_id(environ)
    headers = [*headers, ("Content-Length", str(len(body))), (RESPONSE_HEADER, rid)]
    if not keep:
        headers.append(("Connection", "close"))
    start_response(f"{err.status} {HTTPStatus(err.status).phrase.upper()}", headers)
    fields = {
        "id": rid, "method": environ.get("REQUEST_METHOD"), "path": environ.get("PATH_INFO"),
        "status": err.status, "inputs": None, "tokens": None, "shed": isinstance(err, OverloadedError),
        "ms": round((time.perf_counter() - started) * 1000, 2),
    }  # fmt: skip
    access_log.log(level, "request", extra={"fields": fields})
    return [body]


def _overloaded(environ: dict[str, Any], start_response: Callable[..., Any], max_body_bytes: int) -> list[bytes]:
    started = time.perf_counter()
    try:
        keep = _drain(environ, max_body_bytes)
    except BadRequest:
        keep = False
    return _answer(OverloadedError("server is at capacity; retry shortly"), environ, start_response, keep, started)


def guard(app: WSGIApp, probes: Probes, blocked_by_peers: Callable[[], bool], max_body_bytes: int,
          body_timeout_s: float = BODY_TIMEOUT_S) -> WSGIApp:  # fmt: skip
    """Wrap ``app`` as described in the module docstring."""

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket")
        if sock is not None and "wsgi.input" in environ:
            sock.settimeout(body_timeout_s)
            environ["wsgi.input"] = TimedInput(environ["wsgi.input"], body_timeout_s)
        path = environ.get("PATH_INFO")
        if path in probes.all:
            if path in probes.readiness and blocked_by_peers():
                err = ModelNotReadyError("other workers are still loading the model")
                return _answer(err, environ, start_response, True, time.perf_counter(), logging.DEBUG)
            return app(environ, start_response)
        if in_shed_thread():
            return _overloaded(environ, start_response, max_body_bytes)
        return app(environ, start_response)

    return wsgi
