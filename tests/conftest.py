"""Shared fixtures: settings factories, the embedded model, tiny random models built offline."""

from __future__ import annotations

import atexit
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inference.codecs.images import ImagePolicy
from inference.core.engine import ModelEngine
from inference.endpoints.embeddings.service import EmbeddingService
from inference.model_dir import embedded_model_dir
from inference.settings import Settings


class FakeClock:
    """A clock the test moves by hand: ``clock.now += 5``; pass the object where a ``time.monotonic`` goes."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# ONNX Runtime exports (EMB_CPU_BACKEND) of this test session's models, removed at its end: the tests' temporary
# model folders would otherwise leave one export each in the machine's $TMPDIR/emb-onnx.
ONNX_CACHE = Path(tempfile.mkdtemp(prefix="emb-onnx-tests-"))
atexit.register(shutil.rmtree, ONNX_CACHE, ignore_errors=True)


def make_settings(**overrides: object) -> Settings:
    """Settings from explicit values only (the process environment is ignored)."""
    return Settings.model_construct(**{"onnx_cache_dir": ONNX_CACHE, **overrides})


@pytest.fixture
def settings_factory() -> Callable[..., Settings]:
    return make_settings


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    return embedded_model_dir()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def loaded_service(settings: Settings, loader: Callable[[Settings], Any]) -> EmbeddingService:
    """An embeddings service over an engine whose model is loaded (in this thread)."""
    engine = ModelEngine(settings, loader)
    engine.load()
    return EmbeddingService(engine, ImagePolicy.from_settings(settings))
