"""Admission control in front of the request threads: a fast 503 instead of an unbounded wait.

gunicorn's gthread worker hands every ready connection to a ``ThreadPoolExecutor`` whose queue is
unbounded: past ``EMB_THREADS`` busy requests, new ones wait in that queue, invisible to the app and
its batcher, until the client gives up (SageMaker: 60 s). Health checks wait there too, so a busy
worker looks dead. ``AdmissionPool`` bounds the wait: at most ``threads`` requests run and at most
``max_waiting`` wait for a thread; a request beyond that runs on a small shed pool whose threads answer
``503`` + ``Retry-After`` (type ``overloaded``) at once, and still answer health checks normally.

Within the running requests, ``MicroBatcher``'s bound on in-flight inputs (``EMB_MAX_QUEUE_INPUTS``)
sheds large requests the same way. Framework-free apart from gunicorn's worker class.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker
from werkzeug.exceptions import BadRequest

from .codecs.encode import dumps
from .errors import InternalError, InvalidInputError, OverloadedError

SHED_THREADS = 2
BODY_TIMEOUT_S = 30  # longest silence reading a request body or writing a response (at most EMB_TIMEOUT / 4)
_DRAIN_CHUNK = 64 * 1024
_local = threading.local()
access_log = logging.getLogger("inference.access")


def _mark_shed_thread() -> None:
    _local.shed = True


def in_shed_thread() -> bool:
    return getattr(_local, "shed", False)


class AdmissionPool(ThreadPoolExecutor):
    """The worker's request pool: ``threads`` running, ``max_waiting`` queued, the rest shed."""

    def __init__(self, threads: int, max_waiting: int, shed_threads: int = SHED_THREADS) -> None:
        super().__init__(max_workers=threads, thread_name_prefix="request")
        self._shed = ThreadPoolExecutor(
            max_workers=shed_threads, thread_name_prefix="shed", initializer=_mark_shed_thread
        )
        self._capacity = threads + max_waiting
        self._busy = 0  # submitted to the main pool and not finished (running or queued)
        self._lock = threading.Lock()

    @property
    def busy(self) -> int:
        with self._lock:
            return self._busy

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:
            admitted = self._busy < self._capacity
            if admitted:
                self._busy += 1
        if not admitted:
            return self._shed.submit(fn, *args, **kwargs)
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._release)
        return future

    def _release(self, _future: Future[Any]) -> None:
        with self._lock:
            self._busy -= 1

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shed.shutdown(wait=wait, cancel_futures=cancel_futures)
        super().shutdown(wait=wait, cancel_futures=cancel_futures)


class _Capture:
    """Stands in for the client socket while gunicorn writes an error page, so it can be re-sent as JSON."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self.data = b""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def gettimeout(self) -> float:
        return 0.0  # "non-blocking already": gunicorn's writer then calls only send/sendall

    def sendall(self, data: bytes) -> None:
        self.data += bytes(data)

    def send(self, data: bytes) -> int:
        self.data += bytes(data)
        return len(data)


def json_error_page(page: bytes) -> bytes:
    """gunicorn's HTML error response (malformed HTTP, refused before the app) as the API's JSON error."""
    head, _, body = page.partition(b"\r\n\r\n")
    status, reason = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)[1:]
    found = re.search(r"</h1>\s*(.*?)\s*</body>", body.decode("latin-1"), re.S)
    message = html.unescape(found.group(1)) if found and found.group(1) else reason
    kind = InternalError if status.startswith("5") else InvalidInputError
    payload = dumps({"error": {"type": kind.type, "message": message}})
    header = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(payload)}\r\n\r\n")
    return header.encode("latin-1") + payload


def redact_client_bytes(record: logging.LogRecord) -> bool:
    """Filter for gunicorn's error log: it quotes malformed request lines and headers (which may hold a
    token, e.g. a colon-less ``Authorization`` line) and logs request URIs with their query strings."""
    message = record.getMessage()
    if message.startswith("Invalid request from"):
        record.msg, record.args = re.sub(r"'.*", "'...' (redacted)", message, count=1, flags=re.S), ()
    elif message.startswith("Error handling request"):
        record.msg, record.args = message.split("?", 1)[0], ()
    return True


class AdmissionWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's gthread worker with a bounded wait for a request thread (as many waiting as running),
    whose protocol-level error responses are JSON like every other error, and whose log keeps no client bytes."""

    def init_process(self) -> None:
        logging.getLogger("gunicorn.error").addFilter(redact_client_bytes)
        super().init_process()

    def run(self) -> None:
        hold = getattr(self, "hold_until_ready", None)  # set by EmbeddingServer's post_fork (readiness.py)
        if hold is not None:
            hold(self)
        super().run()

    def get_thread_pool(self) -> AdmissionPool:
        return AdmissionPool(self.cfg.threads, max_waiting=self.cfg.threads)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        capture = _Capture(client)
        super().handle_error(req, capture, addr, exc)
        if not capture.data:
            return
        try:
            util.write_nonblock(client, json_error_page(capture.data))
        except Exception:  # noqa: BLE001 - the client may be gone; gunicorn ignores this too
            self.log.debug("Failed to send error message.")


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


class _TimedInput:
    """``wsgi.input`` whose socket read timeout becomes a 400: a client that stops sending its body frees
    the request thread instead of holding it forever (slow-body denial of service)."""

    def __init__(self, stream: Any, timeout_s: float) -> None:
        self._stream = stream
        self._timeout_s = timeout_s

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except TimeoutError:
            raise BadRequest(f"request body not received within {self._timeout_s:g} s") from None

    def read(self, *args: Any) -> bytes:
        return self._call(self._stream.read, *args)

    def readline(self, *args: Any) -> bytes:
        return self._call(self._stream.readline, *args)

    def readlines(self, *args: Any) -> list[bytes]:
        return self._call(self._stream.readlines, *args)

    def __iter__(self) -> Any:
        return iter(self.readline, b"")


def shed_overflow(
    app: Callable[..., Iterable[bytes]], health_paths: Iterable[str], max_body_bytes: int,
    body_timeout_s: float = BODY_TIMEOUT_S,
):
    """WSGI wrapper: on a shed thread, answer 503 overloaded, except health checks (answered by ``app``).

    Every request's socket gets a ``body_timeout_s`` read/write timeout (gunicorn leaves it blocking forever).
    """
    health = frozenset(health_paths)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket")
        if sock is not None and "wsgi.input" in environ:
            sock.settimeout(body_timeout_s)
            environ["wsgi.input"] = _TimedInput(environ["wsgi.input"], body_timeout_s)
        if not in_shed_thread() or environ.get("PATH_INFO") in health:
            return app(environ, start_response)
        return _overloaded(environ, start_response, max_body_bytes)

    return wsgi


def _overloaded(environ: dict[str, Any], start_response: Callable[..., Any], max_body_bytes: int) -> list[bytes]:
    started = time.perf_counter()
    try:
        keep = _drain(environ, max_body_bytes)
    except BadRequest:
        keep = False
    err = OverloadedError("server is at capacity; retry shortly")
    body = dumps({"error": err.to_dict()})
    request_id = environ.get("HTTP_X_AMZN_REQUESTID") or environ.get("HTTP_X_REQUEST_ID") or uuid.uuid4().hex
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Retry-After", str(err.retry_after)),
        ("X-Request-Id", str(request_id)),
    ]
    if not keep:
        headers.append(("Connection", "close"))
    start_response(f"{err.status} SERVICE UNAVAILABLE", headers)
    fields = {
        "id": request_id, "method": environ.get("REQUEST_METHOD"), "path": environ.get("PATH_INFO"),
        "status": err.status, "inputs": None, "tokens": None, "shed": True,
        "ms": round((time.perf_counter() - started) * 1000, 2),
    }
    access_log.info("request", extra={"fields": fields})
    return [body]
