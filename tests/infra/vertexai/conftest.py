"""Fixtures of the Vertex AI IaC tests (fakes in vertex_fakes.py, a uniquely named module)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from vertex_fakes import FakeVertex  # noqa: E402


@pytest.fixture
def fake() -> FakeVertex:
    return FakeVertex()
