"""The gunicorn worker class: gunicorn keeps the process model (master, fork, heartbeat, signals, graceful
restarts); the worker serves its share of the listening sockets with the asyncio HTTP front (front.py).

The app (``EmbeddingServer.load``) comes as a ``FrontApp``: the WSGI app plus what the front needs. The event
loop runs in the worker's main thread and sends gunicorn's heartbeat every second, so a worker whose loop
stalls is replaced. SIGTERM stops accepting, closes idle connections and lets running requests finish within
``graceful_timeout``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass

from gunicorn.workers.base import Worker

from .front import Front
from .limits import FrontLimits, HeadGate, Probes, open_gate
from .wsgi_call import WSGIApp

HEARTBEAT_S = 1.0


@dataclass(frozen=True)
class FrontApp:
    """What a worker serves: the WSGI app and the front's configuration."""

    app: WSGIApp
    probes: Probes
    blocked_by_peers: Callable[[], bool]
    limits: FrontLimits
    deadline_s: float
    on_refused: Callable[[int], None] = lambda status: None  # a request the front answered itself (metrics)
    gate: HeadGate = open_gate  # what the app refuses from a request's head (api/head_gate.py)


class FrontWorker(Worker):  # type: ignore[misc]  # gunicorn ships no type information
    """A gunicorn worker whose connections are handled by ``Front``."""

    def run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        served: FrontApp = self.wsgi
        front = Front(served.app, served.probes, served.blocked_by_peers, served.limits, served.deadline_s,
                      served.on_refused, served.gate)
        await front.serve([listener.sock for listener in self.sockets])
        while self.alive:
            self.notify()
            if self.ppid != os.getppid():
                self.log.info("Parent changed, shutting down: %s", self)
                break
            await asyncio.sleep(HEARTBEAT_S)
        await front.stop(grace_s=self.cfg.graceful_timeout)
