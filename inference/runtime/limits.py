"""Connection limits and timeouts of the HTTP front (front.py), and its probe paths: one place."""

from __future__ import annotations

from dataclasses import dataclass


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
    - ``max_connections``: open connections per worker; one more is answered 503 at once and closed.
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
    spool_bytes: int = 8 * 1024 * 1024

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
