"""The HTTP front of one worker: an asyncio event loop does all connection I/O; only complete requests reach the
app's threads. Reading a request head or body, waiting for a kept-alive connection's next request and writing a
response never occupy an app thread, so slow or idle clients cost a coroutine each (a bound on each:
``FrontLimits``; connection slots: slots.py). HTTP/1.1 parsing is h11's. Health probes are answered here, in the
loop; a request that would be refused anyway is refused from its head (head_admission.py); every other complete
request goes to the app's thread pool. A client that closes its connection while its request runs sets the
request's cancellation event: its queued model work is dropped.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import h11

from ..api.request_context import CANCELLED, DEADLINE
from ..errors import (
    InvalidInputError,
    ModelNotReadyError,
    OverloadedError,
    PayloadTooLargeError,
    RequestHeaderFieldsTooLargeError,
    RequestTimeoutError,
    ServingError,
)
from .acceptor import Acceptor
from .bodies import BodyBudget, BodyBuffer, SpooledBody, close_body
from .front_answers import (
    declared_length,
    error_answer,
    linger,
    log_answer,
    sends_body,
    without_client_bytes,
    write_error,
    write_response,
)
from .head_admission import HeadAdmission
from .limits import FrontLimits, HeadGate, Probes, open_gate
from .slots import ConnectionSlots
from .wsgi_call import HttpRequest, HttpResponse, WSGIApp, call_app, environ_for, request_from

_READ_CHUNK = 64 * 1024


class _Refused(Exception):
    """The request cannot be read to its end: answer ``error`` (if the client may still read) and close."""

    def __init__(self, error: ServingError | None, request: HttpRequest | None = None) -> None:
        super().__init__(error.message if error else "connection closed")
        self.error, self.request = error, request


class _Refusing(_Refused):
    """Refused from its head: the body is left unread (and dropped unparsed while the client sends it)."""


class Front:
    """Serves one worker's listening sockets; ``serve`` until ``stop``."""

    def __init__(self, app: WSGIApp, probes: Probes, blocked_by_peers: Callable[[], bool], limits: FrontLimits,
                 deadline_s: float, on_refused: Callable[[int], None] = lambda status: None,
                 gate: HeadGate = open_gate) -> None:  # fmt: skip
        self._app, self._probes, self._blocked_by_peers = app, probes, blocked_by_peers
        self._limits, self._deadline_s = limits, deadline_s
        self._pool = ThreadPoolExecutor(limits.threads, thread_name_prefix="request")
        self._in_flight = 0  # requests on the pool, running or waiting (counted in the loop thread only)
        self._connections: set[asyncio.Task[Any]] = set()
        self.slots = ConnectionSlots(limits.slot_limits)
        self.bodies = BodyBudget(limits.body_memory_bytes, limits.spool_disk_bytes)
        self._heads = HeadAdmission(limits, probes, gate, self.bodies, on_refused)
        self._acceptor = Acceptor(self._accept, lambda: len(self._connections), self.slots.make_room)
        self.stopping = False

    async def serve(self, sockets: list[Any]) -> None:
        """Accept on ``sockets``, shared with the server's other workers (acceptor.py: least connections)."""
        self._acceptor.start(sockets)

    def _accept(self, sock: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._open(sock))
        self._connections.add(task)  # a strong reference from the start (the loop keeps only weak ones)
        task.add_done_callback(self._connections.discard)

    async def _open(self, sock: Any) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=_READ_CHUNK)
        protocol = asyncio.StreamReaderProtocol(reader)
        try:
            transport, _ = await loop.connect_accepted_socket(lambda: protocol, sock=sock)
        except OSError:
            sock.close()
            return
        await self._connection(reader, asyncio.StreamWriter(transport, protocol, reader, loop))

    async def stop(self, grace_s: float) -> None:
        """Stop accepting, close idle connections, let running requests finish (at most ``grace_s``)."""
        self.stopping = True
        self._acceptor.stop()
        for task in self.slots.idle_connections():
            task.cancel()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=grace_s)
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            peer = writer.get_extra_info("peername") or ("",)
            if not self.slots.open(task, str(peer[0])):  # no idle connection to close for it
                busy = OverloadedError("too many open connections; retry shortly")
                await write_error(h11.Connection(h11.SERVER), writer, None, busy, time.perf_counter(), self._limits)
                return
            await self._requests(reader, writer, task)
        except (ConnectionError, asyncio.CancelledError, h11.LocalProtocolError, TimeoutError):
            pass  # the client went away, the server is stopping, or the slot went to a new client
        finally:
            self._connections.discard(task)
            self.slots.close(task)
            writer.close()

    async def _requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, task: Any) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self._limits.max_header_bytes)
        kept_alive = False
        while not self.stopping:
            started = time.perf_counter()
            try:
                read = await self._read_request(conn, reader, writer, task, kept_alive)
            except _Refused as refused:
                if refused.error is not None:
                    await write_error(conn, writer, refused.request, refused.error, started, self._limits)
                    if isinstance(refused, _Refusing) and sends_body(refused.request):
                        await linger(reader, writer, declared_length(refused.request, self._limits.max_body_bytes))
                return
            if read is None:
                return
            request, buffer = read
            try:
                response = await self._respond(request, conn, reader, started)
            finally:
                close_body(request.body)  # a spooled body's file: its request has been answered
                buffer.release()
            head_only = request.method == "HEAD"
            await write_response(conn, writer, response, self._limits.write_timeout_s, head_only=head_only)
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()
            kept_alive = True
            await asyncio.sleep(0)  # pipelined requests already read wait their turn behind other connections

    # -- reading -------------------------------------------------------------------------------------------
    async def _next_event(self, conn: h11.Connection, reader: asyncio.StreamReader, until: float,
                          cut_short: ServingError | None = None) -> Any:  # fmt: skip
        """The next h11 event; a malformed message is refused (400/431). The client closing mid-message ends
        the connection, answered with ``cut_short`` (a half-closed client may still read) or silently."""
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as err:
                status = err.error_status_hint
                error = RequestHeaderFieldsTooLargeError if status == 431 else InvalidInputError
                raise _Refused(error(f"malformed HTTP request: {without_client_bytes(err)}")) from None
            if event is not h11.NEED_DATA:
                return event
            left = until - time.monotonic()
            if left <= 0:
                raise TimeoutError
            data = await asyncio.wait_for(reader.read(_READ_CHUNK), left)
            if not data and (conn.their_state is not h11.IDLE or conn.trailing_data[0]):
                raise _Refused(cut_short)
            conn.receive_data(data)

    async def _read_request(self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                            task: Any, kept_alive: bool) -> tuple[HttpRequest, BodyBuffer] | None:  # fmt: skip
        limits = self._limits
        if not conn.trailing_data[0]:  # wait for the first byte (idle), then for the rest of the head
            self.slots.idle(task)
            try:
                wait = self.slots.idle_timeout_s() if kept_alive else limits.header_timeout_s
                first = await asyncio.wait_for(reader.read(_READ_CHUNK), wait)
            except TimeoutError:
                return None  # nothing was asked: close without an answer
            finally:
                self.slots.busy(task)
            conn.receive_data(first)
        try:
            head = await self._next_event(conn, reader, time.monotonic() + limits.header_timeout_s)
        except TimeoutError:
            late = RequestTimeoutError(f"request head not received within {limits.header_timeout_s:g} s")
            raise _Refused(late) from None
        if isinstance(head, h11.ConnectionClosed):
            return None
        if not isinstance(head, h11.Request):
            raise _Refused(InvalidInputError("malformed HTTP request"))
        request = request_from(head, writer.get_extra_info("peername"), writer.get_extra_info("sockname"))
        head_bytes = len(head.target) + sum(len(name) + len(value) + 4 for name, value in head.headers)
        if head_bytes > limits.max_header_bytes or len(head.headers) > limits.max_header_fields:
            too_large = f"request head is larger than {limits.max_header_bytes} bytes"
            raise _Refused(RequestHeaderFieldsTooLargeError(too_large), request)
        refusal = self._heads.refusal(request, self._in_flight)
        if refusal is not None:
            raise _Refusing(refusal, request)
        buffer = BodyBuffer(limits.spool_bytes, self.bodies)
        body = await self._read_body(conn, reader, writer, head, request, buffer)
        return HttpRequest(request.method, request.target, request.headers, body, request.client, request.server,
                           request.http_version), buffer  # fmt: skip

    async def _read_body(self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         head: h11.Request, request: HttpRequest, body: BodyBuffer) -> bytes | SpooledBody:  # fmt: skip
        limits = self._limits
        fields = dict(request.headers)
        if "transfer-encoding" in fields and "content-length" in fields:  # request smuggling: never guess
            raise _Refused(InvalidInputError("both Transfer-Encoding and Content-Length are set"), request)
        if fields.get("expect", "").lower() == "100-continue":
            writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
        until = time.monotonic() + limits.body_timeout_s
        try:
            while True:
                try:
                    event = await self._next_event(conn, reader, until, InvalidInputError(
                        "request body ended before its declared length"))
                except _Refused as refused:
                    raise _Refused(refused.error, request) from None
                except TimeoutError:
                    raise _Refused(RequestTimeoutError(
                        f"request body not received within {limits.body_timeout_s:g} s"), request) from None
                if isinstance(event, h11.EndOfMessage):
                    return body.finish()
                if isinstance(event, h11.ConnectionClosed):
                    raise _Refused(None)
                if body.size + len(event.data) > limits.max_body_bytes:
                    raise _Refusing(PayloadTooLargeError("request body is larger than the configured limit"), request)
                try:
                    body.add(bytes(event.data))
                except ServingError as full:  # no memory or temporary space left for it (bodies.py)
                    raise _Refusing(full, request) from None
        except BaseException:
            body.release()
            raise

    # -- answering -----------------------------------------------------------------------------------------
    async def _respond(self, request: HttpRequest, conn: h11.Connection, reader: asyncio.StreamReader,
                       started: float) -> HttpResponse:  # fmt: skip
        if request.path in self._probes.all:
            return self._probe(request, started)
        if busy := self._heads.at_capacity(self._in_flight):
            answer = error_answer(busy, request, close=False)
            log_answer(answer, request, started, shed=True)
            return answer
        cancelled = threading.Event()
        environ = environ_for(request, {DEADLINE: time.monotonic() + self._deadline_s, CANCELLED: cancelled})
        self._in_flight += 1
        future = asyncio.get_running_loop().run_in_executor(self._pool, call_app, self._app, environ)
        future.add_done_callback(self._finished)
        if not await self._client_stays(future, conn, reader):
            cancelled.set()  # its queued model work is dropped; a half-closed client may still read the answer
            await future
        return future.result()

    def _finished(self, _future: Any) -> None:
        self._in_flight -= 1

    def _probe(self, request: HttpRequest, started: float) -> HttpResponse:
        """Answered in the loop: a probe never waits for an app thread."""
        if request.path in self._probes.readiness and self._blocked_by_peers():
            answer = error_answer(ModelNotReadyError("other workers are still loading the model"), request,
                                  close=False)  # fmt: skip
            log_answer(answer, request, started, quiet=True)
            return answer
        return call_app(self._app, environ_for(request))

    async def _client_stays(self, future: Any, conn: h11.Connection, reader: asyncio.StreamReader) -> bool:
        """Wait for ``future``, watching the connection: False when the client closed it first. Bytes that
        arrive meanwhile (a pipelined next request) are kept for the next cycle."""
        reading: asyncio.Future[bytes] = asyncio.ensure_future(reader.read(_READ_CHUNK))
        try:
            while True:
                done, _ = await asyncio.wait({future, reading}, return_when=asyncio.FIRST_COMPLETED)
                if future in done:
                    return True
                data = reading.result()
                if not data:
                    return False
                conn.receive_data(data)
                if len(conn.trailing_data[0]) > self._limits.max_read_ahead_bytes:
                    await future  # enough buffered: stop reading until this request is answered
                    return True
                reading = asyncio.ensure_future(reader.read(_READ_CHUNK))
        finally:
            reading.cancel()
