"""Fixtures shared by the client's tests and the main suite's tests/client (which imports them)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_process import build_tiny_reranker, server_env, start_server


@pytest.fixture(scope="session")
def local_server() -> Iterator[str]:
    proc, url = start_server(server_env(EMB_HANDLER="fake", EMB_MAX_INPUTS="64", EMB_THREADS="8"))
    try:
        yield url
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def reranker_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT cross-encoder (one label, 24-token pairs), built by the server's interpreter."""
    return build_tiny_reranker(tmp_path_factory.mktemp("tiny-reranker"))


@pytest.fixture(scope="session")
def reranker_server(reranker_folder: Path) -> Iterator[str]:
    """The real server on ``reranker_folder`` (served as a reranker), at most 8 documents per request."""
    env = server_env(MODEL_DIR=str(reranker_folder), EMB_MAX_DOCUMENTS="8", EMB_WORKERS="1", EMB_DEVICE="cpu")
    proc, url = start_server(env)
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
