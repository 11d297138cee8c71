"""Connection slots of one worker's HTTP front: who may open a connection, and which idle one makes room.

Idle kept-alive connections cost a coroutine each, but each holds a slot (and a file descriptor) that a new
client may need. So a full worker never locks a new client out while some connection only waits:

- at ``max_connections`` (or a client address's ``per_address`` share of them) the connection idle the longest
  (that address's own, at the address cap) is closed to make room; only when none is idle is the new one
  answered 503 and closed;
- above ``watermark`` open connections, a kept-alive connection waits ``busy_idle_timeout_s`` for its next
  request instead of ``idle_timeout_s``;
- ``make_room`` frees a descriptor when accepting fails for want of one (EMFILE: acceptor.py).

Idle means: waiting for the first byte of its next request (or of its first). Pure bookkeeping, loop thread only.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Protocol


class Closable(Hashable, Protocol):
    def cancel(self) -> object: ...


@dataclass(frozen=True)
class SlotLimits:
    max_connections: int
    per_address: int
    idle_timeout_s: float
    busy_idle_timeout_s: float
    watermark: int


class ConnectionSlots:
    """Open connections by client address, and the idle ones in the order they became idle."""

    def __init__(self, limits: SlotLimits) -> None:
        self.limits = limits
        self._address: dict[Closable, str] = {}
        self._per_address: dict[str, int] = {}
        self._idle: dict[str, dict[Closable, None]] = {}  # address -> idle connections, longest idle first
        self._idle_order: dict[Closable, None] = {}  # every idle connection, longest idle first
        self.evicted = 0  # connections closed to make room (a counter for tests and logs)

    def __len__(self) -> int:
        return len(self._address)

    def open(self, conn: Closable, address: str) -> bool:
        """Count ``conn``; False (counting nothing) when it cannot have a slot: the caller answers 503."""
        held = self._per_address.get(address, 0)
        if held >= self.limits.per_address and not self._evict(self._idle.get(address)):
            return False
        if len(self._address) >= self.limits.max_connections and not self._evict(self._idle_order):
            return False
        self._address[conn] = address
        self._per_address[address] = self._per_address.get(address, 0) + 1
        return True

    def close(self, conn: Closable) -> None:
        """``conn`` ended (idempotent: an evicted connection was uncounted already)."""
        self.busy(conn)
        address = self._address.pop(conn, None)
        if address is None:
            return
        left = self._per_address[address] - 1
        if left:
            self._per_address[address] = left
        else:
            del self._per_address[address]

    def idle(self, conn: Closable) -> None:
        address = self._address.get(conn)
        if address is not None:
            self._idle.setdefault(address, {})[conn] = None
            self._idle_order[conn] = None

    def busy(self, conn: Closable) -> None:
        if conn in self._idle_order:
            del self._idle_order[conn]
            address = self._address[conn]
            waiting = self._idle[address]
            del waiting[conn]
            if not waiting:
                del self._idle[address]

    def idle_connections(self) -> list[Closable]:
        return list(self._idle_order)

    def idle_timeout_s(self) -> float:
        """How long a kept-alive connection may now wait for its next request."""
        if len(self._address) > self.limits.watermark:
            return min(self.limits.idle_timeout_s, self.limits.busy_idle_timeout_s)
        return self.limits.idle_timeout_s

    def make_room(self) -> bool:
        """Close the connection idle the longest (the acceptor ran out of file descriptors)."""
        return self._evict(self._idle_order)

    def _evict(self, idle: dict[Closable, None] | None) -> bool:
        if not idle:
            return False
        victim = next(iter(idle))
        self.close(victim)
        victim.cancel()
        self.evicted += 1
        return True
