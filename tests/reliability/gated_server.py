"""A real server (``inference.runtime.cli.main``: gunicorn, ``EmbeddingServer``) whose fake model waits on gates
that the test controls, so start-up and overload states can be held as long as a test needs them.

Test-only; production code has no hooks for it. Run as ``python -m tests.reliability.gated_server serve ...``
(``GatedServer`` does). The gates are files in ``GATE_DIR``:

- ``GATE_LOAD=1``: each worker's model load writes ``loading-<pid>`` and waits for ``release-<pid>``;
- always: a forward pass over a text holding the word ``hold`` writes ``forward-<pid>`` and waits for
  ``release-forward`` (other texts, and the warm-up, run at once).

The swap is of the fake handler class only: the worker still builds its app through ``EmbeddingServer.load``,
``create_app`` and ``load_handler`` (``EMB_HANDLER=fake``), as in production.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from inference.handlers import fake
from inference.settings import Settings
from tests.reliability.harness import HOST, Server, clean_env, poll

HOLD_WORD = "hold"
GATE_WAIT_S = 120  # a gate never opened (a failed test) lets the server go on after this
_FakeHandler = fake.FakeEmbeddingHandler


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + GATE_WAIT_S
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)  # polls the gate file (the condition), bounded by the deadline


def _gate_dir() -> Path:
    return Path(os.environ["GATE_DIR"])


class GatedFakeHandler(_FakeHandler):
    """The fake handler, with a load gate per worker and a forward gate for texts holding ``hold``."""

    @classmethod
    def from_settings(cls, folder: Path | None, settings: Settings) -> GatedFakeHandler:
        if os.environ.get("GATE_LOAD") == "1":
            pid = os.getpid()
            (_gate_dir() / f"loading-{pid}").touch()
            _wait_for(_gate_dir() / f"release-{pid}")
        return cls(settings)

    def forward(self, batch: Sequence[Sequence[int]], task: str | None) -> np.ndarray:
        if any(self._word_id(HOLD_WORD) in ids for ids in batch):
            (_gate_dir() / f"forward-{os.getpid()}").touch()
            _wait_for(_gate_dir() / "release-forward")
        return super().forward(batch, task)


def gated_env(**overrides: str) -> dict[str, str]:
    """``clean_env`` for the gated server: the fake model, JSON logs."""
    return clean_env(EMB_HANDLER="fake", **overrides)


class GatedServer(Server):
    """``Server`` (tests/reliability/harness.py) running this module instead of ``python -m inference``."""

    def __init__(self, gate_dir: Path, env: dict[str, str], *, gate_load: bool = False) -> None:
        super().__init__({**env, "GATE_DIR": str(gate_dir), "GATE_LOAD": "1" if gate_load else "0"})
        self.gate_dir = gate_dir

    def start(self) -> GatedServer:
        cmd = [sys.executable, "-m", "tests.reliability.gated_server", "serve", "--host", HOST, "--port"]
        cmd.append(str(self.port))
        env = {**self._env, "PYTHONPATH": str(self.repo)}
        self.proc = subprocess.Popen(cmd, cwd=self.repo, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        return self

    def loading_workers(self, count: int, deadline_s: float = 60) -> list[int]:
        """Pids of the first ``count`` workers waiting at their load gate, in the order they got there."""

        def found() -> list[int]:
            self._check_alive()
            marks = sorted(self.gate_dir.glob("loading-*"), key=lambda p: p.stat().st_mtime_ns)
            return [int(p.name.split("-")[1]) for p in marks] if len(marks) >= count else []

        return poll(found, deadline_s, f"{count} worker(s) at the load gate")[:count]  # type: ignore[index]

    def release_load(self, pid: int) -> None:
        (self.gate_dir / f"release-{pid}").touch()

    def wait_forward_held(self, deadline_s: float = 30) -> None:
        poll(lambda: self._check_alive() or any(self.gate_dir.glob("forward-*")), deadline_s, "a held forward pass")

    def release_forward(self) -> None:
        (self.gate_dir / "release-forward").touch()

    def _check_alive(self) -> None:
        if not self.alive():
            raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")

    def __exit__(self, *exc: object) -> None:
        for pid in self.workers():  # open every gate, then stop
            self.release_load(pid)
        self.release_forward()
        super().__exit__(*exc)


def main(argv: list[str] | None = None) -> None:
    fake.FakeEmbeddingHandler = GatedFakeHandler  # load_handler imports it from the module when it loads
    from inference.runtime.cli import main as serve

    serve(argv)


if __name__ == "__main__":
    main()
