"""Fixtures for the client tests: the real server as a subprocess, and a scripted HTTP server.

- ``local_server``: ``python -m inference`` (gunicorn, ``EMB_HANDLER=fake``: deterministic vectors, no
  torch work) on a free port, polled on /ping until ready (with a deadline). ``EMBEDDING_SERVER_PYTHON``
  names the interpreter that has the server installed (the client's own venv has none).
- ``scripted``: a real ``http.server`` in a thread that first plays queued error responses (503 with
  Retry-After, 429, SageMaker-shaped ModelError / ThrottlingException) and then answers embeddings whose
  values encode the input text (rerank bodies: scores that encode each document), so order and splitting
  are checkable. It records every request.
- ``reranker_folder`` / ``reranker_server``: a tiny random cross-encoder built by the server's interpreter
  (``tests/tiny_rerankers.py``) and the real server serving it as a reranker.
- ``colbert_folder`` / ``colbert_server`` / ``colbert_small_server`` (10,000-byte answers), ``classifier_server``,
  ``minilm_server`` (the embedded all-MiniLM-L6-v2, 50,000-byte answers): tiny random late-interaction and
  classifier models (``tests/tiny_colbert.py``, ``tests/tiny_classifiers.py``) and the real model, served by the
  real server, also on Vertex AI's routes (``fixtures.vertex_routes``).
- ``sparse_folder`` / ``sparse_server``: a tiny random SPLADE model (``tests/tiny_sparse.py``), served the same way.
- ``fake_aws``: fake credentials and region; nothing can reach AWS (every client gets an endpoint_url).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripted, server_process: plain modules here

from fixtures import (  # noqa: E402,F401  (shared fixtures)
    classifier_server,
    colbert_folder,
    colbert_server,
    colbert_small_server,
    fake_aws,
    local_server,
    minilm_server,
    reranker_folder,
    reranker_server,
    sparse_folder,
    sparse_server,
)
from scripted import Scripted, handler_for  # noqa: E402


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state := Scripted("")))
    state.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
