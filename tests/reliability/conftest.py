"""Real-server fixtures for the reliability suite (gunicorn on 127.0.0.1, the embedded all-MiniLM-L6-v2 on CPU)."""

from __future__ import annotations

import pytest

from tests.reliability.harness import Server, clean_env


@pytest.fixture(scope="session")
def minilm_server():
    """One shared server (8 request threads) for the tests that leave it running and healthy."""
    with Server(clean_env(EMB_THREADS="8")) as server:
        server.wait_ready()
        yield server
