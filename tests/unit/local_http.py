"""Local HTTP(S) test servers for image URL fetching: threaded, on 127.0.0.1, recording what they see."""

from __future__ import annotations

import io
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

Route = Callable[[BaseHTTPRequestHandler], None]


def png(size: tuple[int, int] = (6, 4)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.server.seen.append((self.path, self.headers.get("Host")))
        self.server.routes.get(self.path, reply(404))(self)

    def log_message(self, *args: object) -> None:
        pass


class LocalServer(ThreadingHTTPServer):
    """A threaded HTTP(S) server on 127.0.0.1 that records every connection and request."""

    daemon_threads = True

    def __init__(self, routes: dict[str, Route], tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes, self.seen, self.connections = routes, [], 0
        self.received, self.release = threading.Event(), threading.Event()
        if tls is not None:  # handshake in the handler thread, not in the accept loop
            self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def verify_request(self, request: object, client_address: object) -> bool:
        self.connections += 1
        return True

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@contextmanager
def local_servers() -> Iterator[Callable[..., LocalServer]]:
    """Yields ``start(routes, tls=None)``; every server started is stopped on exit."""
    started: list[tuple[LocalServer, threading.Thread]] = []

    def start(routes: dict[str, Route], tls: ssl.SSLContext | None = None) -> LocalServer:
        server = LocalServer(routes, tls)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        started.append((server, thread))
        return server

    try:
        yield start
    finally:
        _stop(started)


def _stop(started: list[tuple[LocalServer, threading.Thread]]) -> None:
    for server, thread in started:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def reply(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return route


def counting_resolver(*answers: list[str]) -> tuple[Callable[[str], list[str]], list[str]]:
    """A fake DNS giving ``answers`` in turn (the last one repeats) and recording every lookup."""
    lookups: list[str] = []

    def resolve(host: str) -> list[str]:
        lookups.append(host)
        return answers[min(len(lookups), len(answers)) - 1]

    return resolve, lookups


def never_answer(handler: BaseHTTPRequestHandler) -> None:
    handler.server.received.set()
    handler.server.release.wait(timeout=60)  # set at teardown
