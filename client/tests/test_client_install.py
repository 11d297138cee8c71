"""What installing the client brings: no torch, transformers or Flask (checked where the client's own venv
runs these tests: ``make test-client``, CLIENT_ONLY_VENV=1)."""

from __future__ import annotations

import importlib.util
import os

import pytest

SERVER_STACK = ("torch", "transformers", "flask", "gunicorn", "inference")


@pytest.mark.skipif(os.environ.get("CLIENT_ONLY_VENV") != "1", reason="runs in the client-only venv (make test-client)")
def test_the_client_venv_holds_no_server_stack() -> None:
    present = [name for name in SERVER_STACK if importlib.util.find_spec(name) is not None]
    assert present == []
