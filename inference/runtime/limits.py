"""Connection limits and timeouts of the HTTP front (front.py), and its probe paths: one place."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..errors import ServingError
from .slots import SlotLimits

# What the app decides from a request's head alone, before the front reads its body (api/head_gate.py):
# ``(method, path, headers, content_length) -> the error to answer, or None to read the body``.
HeadGate = Callable[[str, str, Mapping[str, str], int | None], ServingError | None]


def open_gate(method: str, path: str, headers: Mapping[str, str], length: int | None) -> ServingError | None:
    return None


@dataclass(frozen=True)
class FrontLimits:
    """What one worker's HTTP front allows a client.

    - ``header_timeout_s``: a request head must be complete this long after its first byte (or after the
      connection opened); else 408 and the connection is closed.
    - ``idle_timeout_s``: a kept-alive connection may wait this long for its next request.
    - ``body_timeout_s``: a request body must be complete this long after its head; else 408 and close.
    - ``write_timeout_s``: a client must take the whole response within this long; else the connection is
      dropped.
    - ``max_header_bytes`` / ``max_header_fields``: the request line and headers together; more is 431.
    - ``max_body_bytes``: more is 413, answered as soon as Content-Length says so (chunked: while reading).
    - ``spool_bytes``: a body past this goes to a temporary file as it arrives, not to memory (bodies.py).
    - ``max_connections``: open connections per worker, ``max_connections_per_address`` of them from one client
      address (0: half); at either the connection idle the longest makes room (slots.py), and only when none
      is idle is a new one answered 503 at once and closed. Above ``busy_watermark`` of them a kept-alive
      connection waits ``busy_idle_timeout_s`` for its next request.
    - ``body_memory_bytes``: request bodies held in memory, all connections together; past it they are spooled.
      ``spool_disk_bytes``: in temporary files; past both a body is refused 503 (bodies.py).
    - ``threads`` / ``max_waiting``: complete requests run on ``threads`` app threads, ``max_waiting`` more
      may wait for one; past that a request is answered 503 ``overloaded`` at once. Health probes never wait:
      the front answers them itself, in its event loop.
    """

    max_body_bytes: int
    threads: int
    max_waiting: int
    header_timeout_s: float = 10.0
    idle_timeout_s: float = 75.0
    body_timeout_s: float = 30.0
    write_timeout_s: float = 30.0
    max_header_bytes: int = 16 * 1024
    max_header_fields: int = 100
    max_connections: int = 1000
    max_connections_per_address: int = 0
    busy_idle_timeout_s: float = 5.0
    busy_watermark: float = 0.5
    spool_bytes: int = 8 * 1024 * 1024
    body_memory_bytes: int = 64 * 1024 * 1024
    spool_disk_bytes: int = 2 * 1024 * 1024 * 1024

    @property
    def slot_limits(self) -> SlotLimits:
        per_address = self.max_connections_per_address or max(1, self.max_connections // 2)
        return SlotLimits(self.max_connections, per_address, self.idle_timeout_s, self.busy_idle_timeout_s,
                          int(self.max_connections * self.busy_watermark))  # fmt: skip

    @property
    def max_read_ahead_bytes(self) -> int:
        """What a connection may buffer of a pipelined next request while its current one runs."""
        return self.max_header_bytes + min(self.max_body_bytes, self.spool_bytes)


@dataclass(frozen=True)
class Probes:
    """Health-probe paths (answered in the loop) and, among them, the readiness probes (which wait for every
    worker of the server: readiness.py)."""

    all: frozenset[str]
    readiness: frozenset[str]
