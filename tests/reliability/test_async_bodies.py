"""The body limit follows the deployment mode (EMB_SAGEMAKER_MODE), through the real HTTP front in-process (a
127.0.0.1 socket, the Flask app on the fake model): real-time refuses bodies over 6 MiB and serverless over
4 MiB with 413 before reading them; async takes a 20 MiB JSON Lines body, spooled to a temporary file as it
arrives, and answers it line by line within a memory bound measured with tracemalloc."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

from inference.api.app import create_app
from inference.api.head_gate import HEAD_GATE
from inference.api.route_table import probe_paths, readiness_paths
from inference.runtime import bodies
from inference.runtime.front import Front
from inference.runtime.limits import Probes
from inference.runtime.server import front_limits
from inference.settings import Settings
from tests.conftest import make_settings

HOST = "127.0.0.1"
MIB = 1024 * 1024


@contextmanager
def serving(settings: Settings) -> Iterator[tuple[int, Any]]:
    """The app behind the front, with the front's limits taken from ``settings`` as the server takes them."""
    app = create_app(settings, load_in_background=False)
    limits = front_limits(settings)  # as each worker of the server builds them (runtime/server.py)
    front = Front(app, Probes(probe_paths(settings), readiness_paths(settings)), lambda: False, limits,
                  settings.request_deadline_s, gate=app.extensions[HEAD_GATE])  # fmt: skip
    sock = socket.create_server((HOST, 0))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(front.serve([sock]), loop).result(5)
    try:
        yield sock.getsockname()[1], app
    finally:
        asyncio.run_coroutine_threadsafe(front.stop(grace_s=5), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def exchange(port: int, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send ``head`` (and ``body`` unless the server answers first); the status and body of the response."""
    with socket.create_connection((HOST, port), timeout=60) as sock:
        sock.sendall(head)
        try:
            sock.sendall(body)
        except OSError:
            pass  # refused before the body: the answer is already there
        chunks, size, length = [], 0, None
        while length is None or size < length:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if length is None and b"\r\n\r\n" in chunks[0]:
                first = b"".join(chunks)
                chunks, size = [first], len(first)
                header, _, rest = first.partition(b"\r\n\r\n")
                lines = header.split(b"\r\n")
                length = len(header) + 4 + next(int(line.split(b":")[1]) for line in lines
                                                 if line.lower().startswith(b"content-length:"))  # fmt: skip
    raw = b"".join(chunks)
    return int(raw.split(b" ", 2)[1]), raw.partition(b"\r\n\r\n")[2]


def post_head(size: int, content_type: str = "application/jsonlines") -> bytes:
    return (f"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {size}\r\nConnection: close\r\n\r\n").encode()  # fmt: skip


def jsonl_body(size: int) -> tuple[bytes, list[str]]:
    """About ``size`` bytes of JSON Lines, ~2 kB a line (a distinct word and one long one: a few tokens each)."""
    texts = [f"w{i} {'x' * 2000}" for i in range(size // 2000 + 1)]
    return b"\n".join(json.dumps(text).encode() for text in texts), texts


@pytest.mark.parametrize(("mode", "limit_mib"), [("realtime", 6), ("serverless", 4)])
def test_a_body_over_the_modes_limit_is_413_before_it_is_read(mode, limit_mib):
    settings = make_settings(handler="fake", log_level="WARNING", sagemaker_mode=mode)
    assert settings.max_body_bytes == limit_mib * MIB
    with serving(settings) as (port, _):
        status, body = exchange(port, post_head(limit_mib * MIB + 1))  # the body is never sent
        assert status == 413 and json.loads(body)["error"]["type"] == "payload_too_large"
        small, _ = jsonl_body(limit_mib * MIB - 64 * 1024)
        status, _ = exchange(port, post_head(len(small)), small)
        assert status == 200


def test_async_mode_takes_a_20_mib_body_spooled_and_answers_each_line_within_a_memory_bound(monkeypatch):
    settings = make_settings(handler="fake", log_level="WARNING", sagemaker_mode="async")
    assert settings.max_body_bytes == 1024 * MIB and settings.request_deadline_s == 3600
    spooled: list[Any] = []
    temporary_file = bodies.tempfile.TemporaryFile

    def recorded() -> Any:
        spooled.append(temporary_file())
        return spooled[-1]

    monkeypatch.setattr(bodies.tempfile, "TemporaryFile", recorded)
    body, texts = jsonl_body(20 * MIB)
    with serving(settings) as (port, app):
        tracemalloc.start()
        try:
            status, answer = exchange(port, post_head(len(body)), body)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert status == 200, answer[:300]
        lines = answer.split(b"\n")
        assert len(lines) == len(texts) and [json.loads(lines[i])["index"] for i in (0, -1)] == [0, len(texts) - 1]
        reference = app.test_client().post("/invocations", json={"input": [texts[0], texts[-1]]}).get_json()
        got = np.array([json.loads(lines[i])["embedding"] for i in (0, -1)], dtype=np.float32)
        np.testing.assert_allclose(got, [d["embedding"] for d in reference["data"]], rtol=1e-6)
    assert len(spooled) == 1 and spooled[0].closed  # the body went to a file, closed once answered
    # Measured, 20 MiB body, 10,486 lines: 45 MiB peak: 2.2x the body (Flask's get_data holds a bytearray and its
    # bytes copy; then the body and the records' texts), and the answer. encode_jsonlines appends line by line, so
    # orjson's 4 KiB minimum buffer per dumps() result is never held for every line at once (73 MiB when it was).
    bound = 2.6 * len(body) + 3 * len(answer)
    assert peak < bound, f"peak {peak / MIB:.0f} MiB > {bound / MIB:.0f} MiB (body {len(body) / MIB:.0f} MiB)"


def test_the_real_server_takes_its_body_limit_from_the_mode() -> None:
    """Through the server's own set-up (gunicorn worker, ``front_limits``): async takes a 7 MiB JSON Lines body
    that real-time refuses, and refuses one announcing more than 1 GiB from its head."""
    from tests.reliability.harness import Server, clean_env

    body, texts = jsonl_body(7 * MIB)
    for mode, status in (("realtime", 413), ("async", 200)):
        with Server(clean_env(EMB_HANDLER="fake", EMB_SAGEMAKER_MODE=mode, EMB_THREADS="2")) as server:
            server.wait_ready()
            got, answer = exchange(server.port, post_head(len(body)), body)
            assert got == status, answer[:200]
            if mode == "async":
                assert len(answer.split(b"\n")) == len(texts)
                got, answer = exchange(server.port, post_head(1024 * MIB + 1))
                assert got == 413 and json.loads(answer)["error"]["type"] == "payload_too_large"
