"""Shared fixtures: settings factories, the embedded model, tiny random models built offline."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from inference.settings import Settings, embedded_model_dir


def make_settings(**overrides: object) -> Settings:
    """Settings from explicit values only (the process environment is ignored)."""
    return Settings.model_construct(**overrides)


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
