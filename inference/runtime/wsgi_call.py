"""Calling the WSGI app with one complete request, in whichever thread runs it: the environ (PEP 3333) from
what the HTTP front read, and the whole response back as bytes. No socket is touched here."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

import h11

from .bodies import SpooledBody

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A request as the front read it: head and the complete body (in memory, or a big one in a file)."""

    method: str
    target: str  # path and query, as sent
    headers: list[tuple[str, str]]  # names lower-cased
    body: bytes | SpooledBody
    client: tuple[str, int]
    server: tuple[str, int]
    http_version: str = "1.1"

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def content_length(self) -> int | None:
        """The declared body length; None when there is no valid Content-Length (chunked, or none)."""
        declared = next((value for name, value in self.headers if name == "content-length"), "").strip()
        return int(declared) if declared.isdigit() else None


@dataclass(slots=True)
class HttpResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict)


def request_from(head: h11.Request, peer: Any, own: Any) -> HttpRequest:
    """The request an h11 head describes (no body yet); ``peer`` / ``own``: the socket's addresses, if known."""
    headers = [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in head.headers]
    peer, own = peer or ("", 0), own or ("", 0)
    return HttpRequest(head.method.decode("ascii"), head.target.decode("latin-1"), headers, b"",
                       (str(peer[0]), int(peer[1])), (str(own[0]), int(own[1])),
                       head.http_version.decode("ascii"))  # fmt: skip


def environ_for(request: HttpRequest, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    path, _, query = request.target.partition("?")
    body = request.body
    stream, length = (io.BytesIO(body), len(body)) if isinstance(body, bytes) else (body.file, body.size)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": request.server[0],
        "SERVER_PORT": str(request.server[1]),
        "SERVER_PROTOCOL": f"HTTP/{request.http_version}",
        "REMOTE_ADDR": request.client[0],
        "REMOTE_PORT": str(request.client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": stream,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(length),
    }
    for name, value in request.headers:
        if name == "content-type":
            environ["CONTENT_TYPE"] = value
        elif name not in ("content-length", "transfer-encoding"):
            key = "HTTP_" + name.upper().replace("-", "_")
            environ[key] = f"{environ[key]},{value}" if key in environ else value
    environ.update(extra or {})
    return environ


def call_app(app: WSGIApp, environ: dict[str, Any]) -> HttpResponse:
    """Run the app to completion and return its whole response."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., None]:
        started[:] = [status, headers]
        return lambda data: None  # the legacy write() callable: unused by Flask

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started
    code, _, reason = status.partition(" ")
    return HttpResponse(int(code), reason, [(k, v) for k, v in headers if k.lower() != "content-length"], body)
