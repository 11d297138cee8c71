"""A local fake of the Cloud Storage JSON API, for ``STORAGE_EMULATOR_HOST``: the objects list and media download
calls Google's client makes (``google.cloud.storage``), over a dict of objects.

Tests can hold a download (``held``: the object's first half is sent, the rest only once ``release`` is set, so a
copy stays in progress for as long as a test needs) or refuse one (``refused``: an HTTP status, as a bucket the
service account may not read answers).
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOLD_LIMIT_S = 120  # a held download that is never released (a failed test) goes on after this


def objects_from(folder: Path, prefix: str) -> dict[str, bytes]:
    """Every file under ``folder`` as an object named ``prefix`` + its relative path."""
    return {prefix + path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}  # fmt: skip


class FakeGcs:
    """The fake's state: its objects, what it holds or refuses, and the paths it was asked for."""

    def __init__(self, objects: dict[str, bytes], held: frozenset[str] = frozenset(),
                 refused: dict[str, int] | None = None) -> None:  # fmt: skip
        self.objects, self.held, self.refused = objects, held, refused or {}
        self.seen: list[str] = []
        self.holding = threading.Event()  # a held download has sent its first half
        self.release = threading.Event()
        self.url = ""


def _handler(state: FakeGcs) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            parts = [urllib.parse.unquote(p) for p in url.path.split("/")]
            state.seen.append(url.path)
            if url.path.startswith("/storage/v1/b/") and parts[-1] == "o":  # objects.list
                prefix = query.get("prefix", [""])[0]
                items = [{"name": n, "bucket": parts[4], "size": str(len(b))} for n, b in state.objects.items()
                         if n.startswith(prefix)]  # fmt: skip
                return self._send(json.dumps({"kind": "storage#objects", "items": items}).encode(), "application/json")
            name = urllib.parse.unquote(url.path.split("/o/", 1)[-1])
            if "/o/" in url.path and query.get("alt") == ["media"] and name in state.refused:
                status = state.refused[name]
                body = {"error": {"code": status, "message": f"the caller may not read {name}"}}
                return self._send(json.dumps(body).encode(), "application/json", status)
            if "/o/" in url.path and query.get("alt") == ["media"] and name in state.objects:
                return self._send(state.objects[name], "application/octet-stream", hold=name in state.held)
            self._send(b'{"error": {"code": 404}}', "application/json", 404)

        def _send(self, body: bytes, mime: str, status: int = 200, hold: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", mime)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if hold:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                state.holding.set()
                state.release.wait(HOLD_LIMIT_S)
                body = body[len(body) // 2 :]
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def fake_gcs(state: FakeGcs) -> Iterator[FakeGcs]:
    """Serve ``state`` on 127.0.0.1 (``state.url`` is its ``STORAGE_EMULATOR_HOST``); a held download is released
    at the end."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
