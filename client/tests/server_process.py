"""The real server as a subprocess, for client tests (here and in the main suite's tests/client).

The client's own venv has no server: ``EMBEDDING_SERVER_PYTHON`` names the interpreter that runs
``python -m inference`` from the repository checkout (default: this interpreter, as in the main suite).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_PYTHON = os.environ.get("EMBEDDING_SERVER_PYTHON") or sys.executable
START_DEADLINE_S = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(**extra: str) -> dict[str, str]:
    """This process's environment without service settings, plus ``extra``."""
    prefixes = ("EMB_", "SAGEMAKER_", "MODEL_DIR", "AZUREML")
    return {**{k: v for k, v in os.environ.items() if not k.startswith(prefixes)}, **extra}


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m inference`` on a free port and wait for /ping 200 (deadline 60 s).

    Retried on a new port if the process exits early (another process may take the free port first).
    """
    failures = []
    for _ in range(3):
        port = _free_port()
        proc = subprocess.Popen(
            [SERVER_PYTHON, "-m", "inference", "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO_ROOT,
        )  # fmt: skip
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + START_DEADLINE_S
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/ping", timeout=1).status_code == 200:
                    return proc, url
            except requests.ConnectionError:
                pass
            time.sleep(0.05)  # readiness polling interval (the loop checks /ping), not synchronisation
        proc.kill()
        failures.append(proc.communicate()[0][-2000:])
    raise RuntimeError("the server did not start:\n" + "\n---\n".join(failures))
