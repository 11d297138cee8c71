"""Fixtures for the tests of what is built on the client (infra's CLI, batch transform jobs); the client's own
tests live in client/tests.

- ``local_server``: ``python -m inference`` (gunicorn, ``EMB_HANDLER=fake``) on a free port, ready.
- ``fake_aws``: fake credentials and region; nothing can reach AWS (every client gets an endpoint_url).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from client_testing import server_env, start_server  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # `infra` (the CLI's invoke) is imported from the checkout
    sys.path.insert(0, str(REPO_ROOT))


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
