"""Run the image with Docker and talk to it from inside its own network namespace.

The containers run with ``--network none`` (as SageMaker runs Marketplace models), so the host cannot reach
their port. Every request goes through ``docker exec CONTAINER python -c CLIENT``: it is made from
127.0.0.1 inside the container, with the image's own Python. Nothing here uses a bridge address.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
POLL_S = 0.25  # polling interval of the deadline loops below (not a synchronisation delay)

# Runs inside the container: one HTTP request to 127.0.0.1, the reply as one JSON line on stdout.
CLIENT = r"""
import base64, json, sys, time, urllib.error, urllib.request
method, url, timeout, content_type, accept = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5]
authorization = sys.argv[6] if len(sys.argv) > 6 else ""
data = sys.stdin.buffer.read() if method == "POST" else None
request = urllib.request.Request(url, data=data, method=method)
if data is not None:
    request.add_header("Content-Type", content_type)
if accept:
    request.add_header("Accept", accept)
if authorization:
    request.add_header("Authorization", authorization)
headers = {}
start = time.perf_counter()
try:
    with urllib.request.urlopen(request, timeout=timeout) as response:
        status, body, headers = response.status, response.read(), dict(response.headers)
except urllib.error.HTTPError as err:
    status, body, headers = err.code, err.read(), dict(err.headers)
except OSError as err:
    status, body = 0, repr(err).encode()
ms = (time.perf_counter() - start) * 1000
print(json.dumps({"status": status, "ms": ms, "body": base64.b64encode(body).decode(), "headers": headers}))
"""

# Runs inside the container: established TCP connections to a local port (from /proc/net/tcp*).
COUNT_ESTABLISHED = r"""
import sys
port = "%04X" % int(sys.argv[1])
count = 0
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        rows = open(table).read().splitlines()[1:]
    except OSError:
        continue
    for row in rows:
        local, state = row.split()[1], row.split()[3]
        count += local.endswith(":" + port) and state == "01"
print(count)
"""


def docker(*args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
    """Run the docker CLI; on failure the exception carries stdout and stderr."""
    proc = subprocess.run(["docker", *args], capture_output=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"docker {shlex.join(args)[:300]} -> {proc.returncode}\n"
            f"{proc.stdout.decode(errors='replace')[-2000:]}\n{proc.stderr.decode(errors='replace')[-2000:]}"
        )
    return proc


def engine_available() -> bool:
    try:
        return docker("info", timeout=20, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@dataclass
class Reply:
    status: int
    body: bytes
    ms: float
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)

    @classmethod
    def parse(cls, stdout: bytes) -> Reply:
        line = json.loads(stdout.decode().strip().splitlines()[-1])
        return cls(line["status"], base64.b64decode(line["body"]), line["ms"], line.get("headers", {}))


@dataclass
class Container:
    """One running container of the image, addressed by name."""

    name: str
    port: int = 8080
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def run(
        cls,
        image: str,
        name: str,
        *,
        port: int = 8080,
        docker_args: tuple[str, ...] = (),
        command: tuple[str, ...] = (),
    ) -> Container:
        docker("rm", "-f", name, check=False)
        started = time.monotonic()
        docker("run", "-d", "--name", name, "--network", "none", *docker_args, image, *command)
        return cls(name=name, port=port, started=started)

    # -- inspection ----------------------------------------------------------------------------
    def inspect(self, template: str) -> str:
        return docker("inspect", "-f", template, self.name).stdout.decode().strip()

    def running(self) -> bool:
        return self.inspect("{{.State.Running}}") == "true"

    def logs(self, tail: int = 60) -> str:
        proc = docker("logs", "--tail", str(tail), self.name, check=False)
        return (proc.stdout + proc.stderr).decode(errors="replace")

    def exec(self, *cmd: str, user: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        user_args = ("--user", user) if user else ()
        return docker("exec", *user_args, self.name, *cmd, check=check, timeout=120)

    def python(self, code: str, *args: str) -> str:
        return self.exec("python", "-c", code, *args).stdout.decode().strip()

    # -- HTTP from inside ----------------------------------------------------------------------
    def _client_cmd(
        self, method: str, path: str, timeout: float, content_type: str = "application/json", accept: str = "",
        authorization: str = "",
    ) -> list[str]:  # fmt: skip
        url = f"http://127.0.0.1:{self.port}{path}"
        client = ["python", "-c", CLIENT, method, url, str(timeout), content_type, accept, authorization]
        return ["docker", "exec", "-i", self.name, *client]

    @staticmethod
    def _body(payload: Any) -> bytes:
        if payload is None:
            return b""
        return payload if isinstance(payload, bytes) else json.dumps(payload).encode()

    def request(
        self, method: str, path: str, payload: Any = None, timeout: float = 120, **headers: str
    ) -> Reply:
        """``headers``: ``content_type`` (default application/json), ``accept`` and ``authorization``."""
        cmd = self._client_cmd(method, path, timeout, **headers)
        proc = subprocess.run(cmd, input=self._body(payload), capture_output=True, timeout=timeout + 60)
        if proc.returncode != 0:
            raise RuntimeError(f"{method} {path} via docker exec failed: {proc.stderr.decode(errors='replace')}")
        return Reply.parse(proc.stdout)

    def get(self, path: str, timeout: float = 30) -> Reply:
        return self.request("GET", path, timeout=timeout)

    def post(self, path: str, payload: Any, timeout: float = 120) -> Reply:
        return self.request("POST", path, payload, timeout=timeout)

    def start_request(self, method: str, path: str, payload: Any = None, timeout: float = 120) -> subprocess.Popen:
        """Send a request in the background; ``finish`` collects its reply."""
        with tempfile.TemporaryFile() as body:
            body.write(self._body(payload))
            body.seek(0)
            cmd = self._client_cmd(method, path, timeout)
            return subprocess.Popen(cmd, stdin=body, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    @staticmethod
    def finish(proc: subprocess.Popen, timeout: float = 180) -> Reply:
        stdout, stderr = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"background request failed ({proc.returncode}): {stderr.decode(errors='replace')}")
        return Reply.parse(stdout)

    def established_connections(self) -> int:
        return int(self.python(COUNT_ESTABLISHED, str(self.port)))

    # -- lifecycle -----------------------------------------------------------------------------
    def wait_ready(self, deadline_s: float = 300) -> float:
        """Poll /ping until 200; returns seconds from ``docker run`` to ready. Fails fast if the container exits."""
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if not self.running():
                raise AssertionError(f"container {self.name} exited before it was ready:\n{self.logs()}")
            if self.get("/ping", timeout=5).status == 200:
                return time.monotonic() - self.started
            time.sleep(POLL_S)
        raise AssertionError(f"container {self.name}: /ping not 200 within {deadline_s} s:\n{self.logs()}")

    def wait_until(self, predicate: Any, what: str, deadline_s: float = 120) -> None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(POLL_S)
        raise AssertionError(f"container {self.name}: {what} not reached within {deadline_s} s:\n{self.logs()}")

    def terminate(self, deadline_s: float = 60) -> tuple[float, int]:
        """SIGTERM (what SageMaker and `docker stop` send); returns (seconds until exit, exit code)."""
        start = time.monotonic()
        docker("kill", "--signal", "TERM", self.name)
        code = int(docker("wait", self.name, timeout=deadline_s).stdout.decode().strip())
        return time.monotonic() - start, code

    def remove(self) -> None:
        docker("rm", "-f", self.name, check=False)


def build_flags() -> list[str]:
    """Flags for container/build.sh: CONTAINER_BUILD_FLAGS, else BASE_IMAGE and --offline when wheels exist."""
    if os.environ.get("CONTAINER_BUILD_FLAGS"):
        return shlex.split(os.environ["CONTAINER_BUILD_FLAGS"])
    flags = ["--flavour", "cpu"]
    flags += ["--base", os.environ["BASE_IMAGE"]] if os.environ.get("BASE_IMAGE") else []
    if any((REPO / "container" / "wheelhouse").glob("*.whl")):
        flags.append("--offline")
    return flags


def build_image(tag: str, *extra: str) -> float:
    """Build with container/build.sh; returns the build time in seconds."""
    start = time.monotonic()
    proc = subprocess.run(
        [str(REPO / "container" / "build.sh"), "--tag", tag, *build_flags(), *extra],
        capture_output=True,
        timeout=3600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"image build failed:\n{proc.stdout.decode()[-4000:]}\n{proc.stderr.decode()[-4000:]}")
    return time.monotonic() - start


# --- shared checks -----------------------------------------------------------------------------------------
TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "A fast auburn fox leaps over a sleepy hound.",
    "Quarterly revenue grew by eight percent.",
    "short",
    "a somewhat longer sentence about semantic search and vector databases " * 4,
]


def health(reply_json: dict) -> dict:
    """A readiness probe's status and model (it also reports the worker's queued work and tokens/s)."""
    return {key: reply_json[key] for key in ("status", "model")}


def floats(reply_json: dict) -> np.ndarray:
    return np.asarray([item["embedding"] for item in reply_json["data"]], dtype=np.float32)


def assert_matches_reference(vectors: np.ndarray, reference: np.ndarray) -> None:
    """Same vectors as sentence-transformers computes on the host (float32 CPU; batching changes only rounding)."""
    assert vectors.shape == reference.shape
    cosine = np.sum(vectors * reference, axis=1)
    assert np.all(cosine > 0.9999), cosine
    assert np.max(np.abs(vectors - reference)) < 2e-3
