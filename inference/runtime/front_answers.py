"""The HTTP front's own answers (errors it gives without the app) and their access-log lines: the same JSON
envelope, request id and log fields as the app's (codecs/json.py, api/request_id.py, api/request_log.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from http import HTTPStatus

import h11

from ..api.request_id import RESPONSE_HEADER, request_id
from ..codecs.json import error_json
from ..errors import OverloadedError, ServingError
from .bodies import write_all
from .limits import FrontLimits
from .wsgi_call import HttpRequest, HttpResponse

access_log = logging.getLogger("inference.access")


def _environ_ids(request: HttpRequest | None) -> dict[str, str]:
    if request is None:
        return {}
    return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in request.headers
            if name in ("x-amzn-requestid", "x-request-id")}  # fmt: skip


def error_answer(err: ServingError, request: HttpRequest | None, *, close: bool) -> HttpResponse:
    """``err`` as a response; ``close``: the connection cannot be reused (a body was left unread)."""
    body, headers = error_json(err)
    headers = [*headers, (RESPONSE_HEADER, request_id(_environ_ids(request)))]
    if close:
        headers.append(("Connection", "close"))
    return HttpResponse(err.status, _reason(err.status), headers, body)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # 499 (client closed request) has no standard phrase
        return "Client Closed Request" if status == 499 else "Error"


def log_answer(response: HttpResponse, request: HttpRequest | None, started: float, *, shed: bool = False,
               quiet: bool = False) -> None:  # fmt: skip
    """One access-log line like the app's; health probes at DEBUG."""
    fields = {
        "id": next((v for k, v in response.headers if k == RESPONSE_HEADER), None),
        "method": request.method if request else None,
        "path": request.path if request else None,
        "status": response.status, "inputs": None, "tokens": None, "shed": shed,
        "ms": round((time.perf_counter() - started) * 1000, 2),
    }  # fmt: skip
    access_log.log(logging.DEBUG if quiet else logging.INFO, "request", extra={"fields": fields})


def without_client_bytes(err: h11.RemoteProtocolError) -> str:
    """h11's reason, without the offending bytes it quotes (a header line may hold a credential)."""
    return str(err).split(": bytearray(", 1)[0].split(": b'", 1)[0].split(': b"', 1)[0]


def raw_answer(answer: HttpResponse) -> bytes:
    lines = [f"HTTP/1.1 {answer.status} {answer.reason}", *(f"{k}: {v}" for k, v in answer.headers),
             f"Content-Length: {len(answer.body)}"]  # fmt: skip
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + answer.body


LINGER_S = 5.0  # how long a refused request's unread body is read and dropped before the connection is closed
LINGER_CHUNK = 64 * 1024


async def linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, most_bytes: int) -> None:
    """After answering a request whose body was left unread: end our side, then read and drop (never parse)
    what the client still sends, at most ``most_bytes`` and ``LINGER_S``. Closing with unread bytes would reset
    the connection, and a client still sending its body would see the reset instead of the answer."""
    try:
        if writer.can_write_eof():
            writer.write_eof()
        until = time.monotonic() + LINGER_S
        while most_bytes > 0:
            data = await asyncio.wait_for(reader.read(LINGER_CHUNK), max(0.0, until - time.monotonic()))
            if not data:
                return
            most_bytes -= len(data)
    except (TimeoutError, ConnectionError, OSError):
        return


def sends_body(request: HttpRequest | None) -> bool:
    if request is None:
        return False
    return any(name == "transfer-encoding" for name, _ in request.headers) or bool(request.content_length)


def declared_length(request: HttpRequest | None, default: int) -> int:
    """What a refused request may still send: its Content-Length (at most 1 GiB), else ``default``."""
    length = request.content_length if request is not None else None
    return min(length, 1 << 30) if length is not None else default


async def write_response(conn: h11.Connection, writer: asyncio.StreamWriter, response: HttpResponse, timeout_s: float,
                         *, head_only: bool = False) -> None:  # fmt: skip
    """``head_only``: the answer to a HEAD request: its status and headers (Content-Length: the body's)."""
    headers = [(k, v) for k, v in response.headers if k.lower() != "content-length"]
    if response.body or not head_only:
        headers.append(("Content-Length", str(len(response.body))))
    parts = [conn.send(h11.Response(status_code=response.status, headers=headers, reason=response.reason))]
    if not head_only:
        parts += conn.send_with_data_passthrough(h11.Data(data=response.body)) or []  # the body, not a copy
    parts.append(conn.send(h11.EndOfMessage()) or b"")
    await write_all(writer, parts, timeout_s)


async def write_error(conn: h11.Connection, writer: asyncio.StreamWriter, request: HttpRequest | None,
                      error: ServingError, started: float, limits: FrontLimits) -> None:  # fmt: skip
    """The front's own answer to ``request`` (None: no valid head was read), logged; the connection is closed."""
    answer = error_answer(error, request, close=True)
    log_answer(answer, request, started, shed=isinstance(error, OverloadedError))
    if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
        try:
            head_only = request is not None and request.method == "HEAD"
            await write_response(conn, writer, answer, limits.write_timeout_s, head_only=head_only)
        except h11.LocalProtocolError:
            writer.write(raw_answer(answer))  # h11 saw no valid request head: write the answer as bytes
            await asyncio.wait_for(writer.drain(), limits.write_timeout_s)
