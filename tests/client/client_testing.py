"""Helpers shared by the client tests (a uniquely named module: several conftest.py files exist).

``Scripted`` is a real ``http.server`` that first plays queued replies (errors) and then answers
embeddings whose values encode each input text, so order and splitting are checkable.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import numpy as np
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m inference`` on a free port and wait for /ping 200 (deadline 60 s).

    Retried on a new port if the process exits early (another process may take the free port first).
    """
    failures = []
    for _ in range(3):
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "inference", "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO_ROOT,
        )  # fmt: skip
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/ping", timeout=1).status_code == 200:
                    return proc, url
            except requests.ConnectionError:
                pass
            time.sleep(0.05)  # readiness polling interval (the loop checks /ping), not synchronisation
        proc.kill()
        failures.append(proc.communicate()[0][-2000:])
    raise RuntimeError("the server did not start:\n" + "\n---\n".join(failures))


def text_vector(text: str) -> np.ndarray:
    """What the scripted server embeds ``text`` as: its length, first code point, and a sign pattern."""
    return np.array([len(text), ord(text[0]), -1.5, 0.25, 3, -2, 1, -1], dtype=np.float32)


def _encode(vector: np.ndarray, kind: str) -> Any:
    if kind == "float":
        return vector.tolist()
    if kind == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode()
    packed = np.packbits(vector > 0)
    return packed.tolist() if kind == "ubinary" else (packed.astype(np.int16) - 128).tolist()


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Scripted:
    """The scripted server's URL, the replies still queued, and the requests it has seen."""

    url: str
    queue: list[Reply] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        request = json.loads(body)
        with self.lock:
            self.seen.append({"path": path, "headers": headers, "body": request})
            if self.queue:
                return self.queue.pop(0)
        types = request["embedding_type"]
        data = [
            {"object": "embedding", "index": i, "embedding": {kind: _encode(text_vector(text), kind) for kind in types}}
            for i, text in enumerate(request["input"])
        ]
        return Reply(200, {"object": "list", "model": "scripted", "data": data, "usage": {"prompt_tokens": 1}})


def handler_for(state: Scripted) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            reply = state.answer(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            payload = json.dumps(reply.body).encode()
            self.send_response(reply.status)
            for key, value in {"Content-Type": "application/json", **reply.headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
