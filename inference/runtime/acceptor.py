"""Accepting connections on the listening sockets that all workers of a server share.

Every worker's event loop is woken for a new connection and each takes one connection per wake-up (asyncio's own
server takes its whole backlog at once: 4 clients starting together all landed in one worker, at half the
throughput). Least connections: a worker already holding a few connections waits ``DEFER_S`` per connection
before it takes a new one, so a less busy worker does. A worker holding more than ``BALANCE_UP_TO`` accepts at
once: under a flood of connections accepting fast matters more than balance (a /ping must not queue behind
hundreds of deferred accepts).

Out of file descriptors (EMFILE, ENFILE) or kernel memory for a socket, ``accept`` fails while the connection
stays in the backlog: the listener would wake the loop again at once, forever. Then the worker closes its longest
idle connection (``make_room``), stops listening for ``PAUSE_S`` and logs once per ``LOG_EVERY_S``.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

DEFER_S = 0.002
BALANCE_UP_TO = 16
PAUSE_S = 0.05
LOG_EVERY_S = 10.0
EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class Acceptor:
    """Calls ``on_socket(sock)`` for each accepted connection (a non-blocking socket)."""

    def __init__(self, on_socket: Callable[[Any], None], connections: Callable[[], int],
                 make_room: Callable[[], bool] = lambda: False) -> None:  # fmt: skip
        self._on_socket, self._connections, self._make_room = on_socket, connections, make_room
        self._listening: list[Any] = []
        self._logged_at = -LOG_EVERY_S
        self.stopped = False
        self.exhausted = 0  # accepts that failed for want of a descriptor or memory

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
        except OSError as err:
            if err.errno not in EXHAUSTED:
                raise
            self._exhausted(listener, err)
            return
        sock.setblocking(False)
        self._on_socket(sock)

    def _exhausted(self, listener: Any, err: OSError) -> None:
        self.exhausted += 1
        freed = self._make_room()
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY_S:
            self._logged_at = now
            log.warning("cannot accept a connection (%s); %s, pausing accepts for %g s", err.strerror,
                        "closed the longest idle connection" if freed else "no idle connection to close", PAUSE_S)
        loop = asyncio.get_running_loop()
        loop.remove_reader(listener.fileno())
        loop.call_later(PAUSE_S, self._resume, listener)

    def _resume(self, listener: Any) -> None:
        if not self.stopped:
            asyncio.get_running_loop().add_reader(listener.fileno(), self._ready, listener)
