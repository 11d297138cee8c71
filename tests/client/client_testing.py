"""The client package's test helpers (client/tests), shared with the tests here: the real server as a
subprocess and the ``local_server`` / ``fake_aws`` fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "client" / "tests"))

from fixtures import fake_aws, local_server  # noqa: E402
from server_process import server_env, start_server  # noqa: E402

__all__ = ["fake_aws", "local_server", "server_env", "start_server"]
