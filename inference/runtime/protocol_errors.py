"""gunicorn's protocol-level error pages (malformed HTTP, refused before the app) rewritten as the API's JSON
errors, so every error a client sees has the same envelope."""

from __future__ import annotations

import html
import re
from typing import Any

from ..codecs.json import error_json
from ..errors import InternalError, InvalidInputError


class Capture:
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
    """gunicorn's HTML error response as the API's JSON error (same status line, ``Connection: close``)."""
    head, _, body = page.partition(b"\r\n\r\n")
    status, reason = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)[1:]
    found = re.search(r"</h1>\s*(.*?)\s*</body>", body.decode("latin-1"), re.S)
    message = html.unescape(found.group(1)) if found and found.group(1) else reason
    kind = InternalError if status.startswith("5") else InvalidInputError
    payload, headers = error_json(kind(message))
    lines = [f"HTTP/1.1 {status} {reason}", "Connection: close", *(f"{k}: {v}" for k, v in headers),
             f"Content-Length: {len(payload)}"]  # fmt: skip
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload
