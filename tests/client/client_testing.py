"""The real server as a subprocess for the tests here: the client package's own helper, shared."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "client" / "tests"))

from server_process import server_env, start_server  # noqa: E402

__all__ = ["server_env", "start_server"]
