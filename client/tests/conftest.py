"""Fixtures for the client tests: the real server as a subprocess, and a scripted HTTP server.

- ``local_server``: ``python -m inference`` (gunicorn, ``EMB_HANDLER=fake``: deterministic vectors, no
  torch work) on a free port, polled on /ping until ready (with a deadline). ``EMBEDDING_SERVER_PYTHON``
  names the interpreter that has the server installed (the client's own venv has none).
- ``scripted``: a real ``http.server`` in a thread that first plays queued error responses (503 with
  Retry-After, 429, SageMaker-shaped ModelError / ThrottlingException) and then answers embeddings whose
  values encode the input text, so order and splitting are checkable. It records every request.
- ``fake_aws``: fake credentials and region; nothing can reach AWS (every client gets an endpoint_url).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripted, server_process: plain modules here

from scripted import Scripted, handler_for  # noqa: E402
from server_process import server_env, start_server  # noqa: E402


@pytest.fixture(scope="session")
def local_server() -> Iterator[str]:
    proc, url = start_server(server_env(EMB_HANDLER="fake", EMB_MAX_INPUTS="64", EMB_THREADS="8"))
    try:
        yield url
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state := Scripted("")))
    state.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
