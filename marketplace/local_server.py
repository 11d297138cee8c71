"""Run the embedding server locally (``python -m inference serve``) as a stand-in for the container.

    with local_server() as url:        # embedded model on CPU, a free port on 127.0.0.1
        requests.post(f"{url}/invocations", json={"input": "hi"})

The process gets a clean environment (no ``EMB_*``/``SAGEMAKER_*`` from the caller unless passed in ``env``),
``/ping`` is polled until it answers 200 or the deadline passes, and the process is stopped on exit. boto3's
``sagemaker-runtime`` client works against it with ``endpoint_url=url``: the server answers
``POST /endpoints/<name>/invocations``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO

import requests

_OWN_PREFIXES = ("EMB_", "SAGEMAKER_", "MODEL_DIR", "AZUREML")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[str], deadline_s: float, log: IO[str]) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read()[-3000:]}")
        try:
            if requests.get(f"{url}/ping", timeout=1).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or busy loading
            pass
        time.sleep(0.2)  # polling interval of the readiness loop above
    raise TimeoutError(f"server at {url} was not ready within {deadline_s:.0f}s")


@contextmanager
def local_server(
    env: Mapping[str, str] | None = None, *, port: int | None = None, deadline_s: float = 180
) -> Iterator[str]:
    """Start the server, yield its base URL once ``/ping`` is 200, stop it afterwards."""
    port = port or free_port()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
    child_env.update({"EMB_DEVICE": "cpu", "EMB_LOG_LEVEL": "WARNING", **(env or {})})
    log = tempfile.NamedTemporaryFile("w+", prefix="embed-serve-", suffix=".log")  # a pipe could fill and block
    proc = subprocess.Popen(
        [sys.executable, "-m", "inference", "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env=child_env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, deadline_s, log)
        yield url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
