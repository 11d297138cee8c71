"""Fixtures shared by the client's tests and the main suite's tests/client (which imports them)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_process import build_tiny_model, build_tiny_reranker, server_env, start_server

# Vertex AI's paths for the client's PROJECT / REGION / ENDPOINT (test_client_vertex.py): a server started with
# vertex_routes() answers :predict on Vertex's route (AIP_PREDICT_ROUTE) and :rawPredict, the native bodies, on its
# extra scoring route, as Vertex forwards them.
VERTEX_ENDPOINT = "/v1/projects/my-project/locations/us-central1/endpoints/1234567890"


def vertex_routes() -> dict[str, str]:
    return {"AIP_PREDICT_ROUTE": f"{VERTEX_ENDPOINT}:predict", "EMB_AZURE_SCORE_ROUTE": f"{VERTEX_ENDPOINT}:rawPredict"}


def serving(env: dict[str, str]) -> Iterator[str]:
    proc, url = start_server(env)
    try:
        yield url
    finally:
        proc.kill()
        proc.wait()


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


@pytest.fixture(scope="session")
def colbert_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random late-interaction model (PyLate layout: width 16, Matryoshka 8; queries of 12 tokens,
    documents of at most 40), built by the server's interpreter."""
    return build_tiny_model("colbert", tmp_path_factory.mktemp("tiny-colbert") / "model")


@pytest.fixture(scope="session")
def colbert_server(colbert_folder: Path) -> Iterator[str]:
    """The real server on ``colbert_folder``, also on Vertex's routes (``vertex_routes``)."""
    yield from serving(server_env(MODEL_DIR=str(colbert_folder), EMB_MODEL_NAME="my-colbert", EMB_WORKERS="1",
                                  EMB_DEVICE="cpu", **vertex_routes()))  # fmt: skip


@pytest.fixture(scope="session")
def colbert_small_server(colbert_folder: Path) -> Iterator[str]:
    """The same model, answering at most 10,000 bytes (EMB_MAX_RESPONSE_MB=0.01; larger answers: 413)."""
    yield from serving(server_env(MODEL_DIR=str(colbert_folder), EMB_MODEL_NAME="my-colbert", EMB_WORKERS="1",
                                  EMB_DEVICE="cpu", EMB_MAX_RESPONSE_MB="0.01"))  # fmt: skip


@pytest.fixture(scope="session")
def classifier_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real server on a tiny random four-label multi-label classifier, also on Vertex's routes."""
    folder = build_tiny_model("classifier", tmp_path_factory.mktemp("tiny-classifier") / "model")
    yield from serving(server_env(MODEL_DIR=str(folder), EMB_MODEL_NAME="my-classifier", EMB_WORKERS="1",
                                  EMB_DEVICE="cpu", **vertex_routes()))  # fmt: skip


@pytest.fixture(scope="session")
def sparse_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random SPLADE model (``tests/tiny_sparse.py``: vocabulary 30522, max length 32, a ``query`` prompt),
    built by the server's interpreter."""
    return build_tiny_model("sparse", tmp_path_factory.mktemp("tiny-splade") / "model")


@pytest.fixture(scope="session")
def sparse_server(sparse_folder: Path) -> Iterator[str]:
    """The real server on ``sparse_folder``, also on Vertex's routes (``vertex_routes``)."""
    yield from serving(server_env(MODEL_DIR=str(sparse_folder), EMB_MODEL_NAME="my-splade", EMB_WORKERS="1",
                                  EMB_DEVICE="cpu", **vertex_routes()))  # fmt: skip


@pytest.fixture(scope="session")
def minilm_server() -> Iterator[str]:
    """The real server on the embedded all-MiniLM-L6-v2 (its tokenizer; zero-shot classification), also on
    Vertex's routes, answering at most 50,000 bytes (EMB_MAX_RESPONSE_MB=0.05: a /tokenize answer is about 70
    bytes a token)."""
    yield from serving(server_env(EMB_WORKERS="1", EMB_DEVICE="cpu", EMB_MAX_RESPONSE_MB="0.05", **vertex_routes()))
