"""Accepting connections on the listening sockets that all workers of a server share.

Every worker's event loop is woken for a new connection and each takes one connection per wake-up (asyncio's own
server takes its whole backlog at once: 4 clients starting together all landed in one worker, at half the
throughput). Least connections: a worker already holding a few connections waits ``DEFER_S`` per connection
before it takes a new one, so a less busy worker does. A worker holding more than ``BALANCE_UP_TO`` accepts at
once: under a flood of connections accepting fast matters more than balance (a /ping must not queue behind
hundreds of deferred accepts).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

DEFER_S = 0.002
BALANCE_UP_TO = 16


class Acceptor:
    """Calls ``on_socket(sock)`` for each accepted connection (a non-blocking socket)."""

    def __init__(self, on_socket: Callable[[Any], None], connections: Callable[[], int]) -> None:
        self._on_socket, self._connections = on_socket, connections
        self._listening: list[Any] = []
        self.stopped = False

    def start(self, sockets: list[Any]) -> None:
        loop = asyncio.get_running_loop()
        for sock in sockets:
            sock.setblocking(False)
            loop.add_reader(sock.fileno(), self._ready, sock)
            self._listening.append(sock)

    def stop(self) -> None:
        self.stopped = True
        loop = asyncio.get_running_loop()
        for sock in self._listening:
            loop.remove_reader(sock.fileno())

    def _ready(self, listener: Any) -> None:
        held = self._connections()
        if 0 < held <= BALANCE_UP_TO:
            loop = asyncio.get_running_loop()
            loop.remove_reader(listener.fileno())  # let a less busy worker take it first
            loop.call_later(DEFER_S * held, self._later, listener)
            return
        self._accept_one(listener)

    def _later(self, listener: Any) -> None:
        if self.stopped:
            return
        asyncio.get_running_loop().add_reader(listener.fileno(), self._ready, listener)
        self._accept_one(listener)

    def _accept_one(self, listener: Any) -> None:
        try:
            sock, _ = listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return  # another worker took it, or the client left already
        sock.setblocking(False)
        self._on_socket(sock)
