"""Fixtures for the tests of what is built on the client (infra's CLI, batch transform jobs); the client's own
tests live in client/tests, whose fixtures these are.

- ``local_server``: ``python -m inference`` (gunicorn, ``EMB_HANDLER=fake``) on a free port, ready.
- ``fake_aws``: fake credentials and region; nothing can reach AWS (every client gets an endpoint_url).
"""

from __future__ import annotations

import sys
from pathlib import Path

from client_testing import fake_aws, local_server  # noqa: F401  (fixtures)

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # `infra` (the CLI's invoke) is imported from the checkout
    sys.path.insert(0, str(REPO_ROOT))
