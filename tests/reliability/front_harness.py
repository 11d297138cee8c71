"""The HTTP front (inference/runtime/front.py) in-process on a real 127.0.0.1 socket, in front of a tiny WSGI app,
with the limits and head gate a test chooses; and raw-socket helpers to speak HTTP/1.1 to it."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from inference.runtime.front import Front
from inference.runtime.limits import FrontLimits, HeadGate, Probes, open_gate

HOST = "127.0.0.1"


def echo_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = json.dumps({"path": environ["PATH_INFO"], "bytes": len(environ["wsgi.input"].read())}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


@dataclass
class RunningFront:
    port: int
    front: Front
    loop: asyncio.AbstractEventLoop

    def call(self, fn: Any) -> Any:
        """Run ``fn()`` in the front's loop thread (its bookkeeping is the loop's) and return its result."""

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(5)


@contextmanager
def running_front(limits: FrontLimits, gate: HeadGate = open_gate, app: Any = echo_app) -> Iterator[RunningFront]:
    probes = Probes(frozenset({"/ping", "/live"}), frozenset({"/ping"}))
    sock = socket.create_server((HOST, 0), backlog=4096)
    loop = asyncio.new_event_loop()
    front = Front(app, probes, lambda: False, limits, deadline_s=30, gate=gate)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(front.serve([sock]), loop).result(5)
    try:
        yield RunningFront(sock.getsockname()[1], front, loop)
    finally:
        asyncio.run_coroutine_threadsafe(front.stop(grace_s=2), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        sock.close()


def read_response(sock: socket.socket, head_only: bool = False) -> bytes:
    """One response: up to the end of its head, then Content-Length bytes (none for ``head_only``); b"" if the
    connection closed first."""
    data = b""
    while True:
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
            if head_only or len(body) >= length:
                return data
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def status_of(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


def json_body(raw: bytes) -> Any:
    return json.loads(raw.partition(b"\r\n\r\n")[2])


def header(raw: bytes, name: str) -> str | None:
    for line in raw.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name.lower().encode():
            return value.strip().decode("latin-1")
    return None


def request_head(method: str, path: str, length: int | None = None, **fields: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: x"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def kept_alive(port: int, count: int, path: str = "/live") -> list[socket.socket]:
    """``count`` connections that each made one request, read its answer and now wait, kept alive."""
    socks = []
    for _ in range(count):
        sock = socket.create_connection((HOST, port), timeout=10)
        sock.sendall(request_head("GET", path))
        assert status_of(read_response(sock)) == 200
        socks.append(sock)
    return socks


def closed_by_server(sock: socket.socket, timeout: float = 5) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@contextmanager
def pipelined_flood(port: int, count: int) -> Iterator[threading.Event]:
    """One connection pipelining ``count`` GET requests (nine ``/ping`` to one ``/metrics``) and reading its answers
    in a thread, so the server never waits on a full socket; the event is set once every answer was read."""
    flood = (request_head("GET", "/ping") * 9 + request_head("GET", "/metrics")) * (count // 10)
    attacker = socket.create_connection((HOST, port), timeout=60)
    done = threading.Event()

    def drain() -> None:
        seen = 0
        try:
            while seen < count and (chunk := attacker.recv(1 << 20)):
                seen += chunk.count(b"HTTP/1.1 ")
        except OSError:
            pass
        done.set()

    threading.Thread(target=drain, daemon=True).start()
    threading.Thread(target=attacker.sendall, args=(flood,), daemon=True).start()
    try:
        yield done
    finally:
        attacker.close()
