"""Requests and tokens per minute per caller, shared by all workers of one server: token buckets in SQLite.

Each limit is a bucket holding up to a minute's allowance and refilling continuously (``limit / 60`` per
second), so a caller may burst up to its per-minute limit and then goes at the limit's pace. A request goes
through three steps:

- ``check``, before its body is parsed: refused while its caller has less than one request or one token left
  (nothing is taken).
- ``reserve``, once its body is parsed and before the model runs: its ``Demand`` (requests: one, or one per
  record of a record body; tokens: a lower bound of its usage, from its words) is taken at once, atomically
  across the workers, or it is refused while a bucket holds less than that (a demand bigger than a whole
  minute's allowance needs a full bucket). Concurrent requests thus never take more than the bucket holds,
  up to what their usage exceeds their estimate.
- ``settle``, once it is answered: a success is charged its usage (the response's ``usage``) minus its
  reservation, which may give tokens back; a request that failed after its reservation (4xx, 5xx, 499: the
  model may have run, or part of a record body did) keeps the reservation charged, nothing more; a request
  that failed before it (a bad body, the model not loaded) costs one request and no tokens.

A request refused (429) costs nothing. Its ``Retry-After`` is the whole seconds until every short limit covers
the request (the longest of their waits), with the ``X-RateLimit-*`` headers OpenAI's API uses. A big request
can take a bucket below zero: its caller then waits until it refills.

The buckets live in one SQLite file in a folder the gunicorn master creates before forking (each worker opens
its own connection; a write transaction serialises the workers). Keys are never stored: a caller is a key's name
or ``addr:<client address>``. Buckets idle long enough to be full again are deleted as the server goes.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import RateLimitedError

WINDOW_S = 60.0
PRUNE_EVERY = 1024  # operations of one process between deletions of full buckets
_SCHEMA = """CREATE TABLE IF NOT EXISTS buckets (
    caller TEXT NOT NULL, kind TEXT NOT NULL, level REAL NOT NULL, at REAL NOT NULL,
    capacity REAL NOT NULL, PRIMARY KEY (caller, kind)) WITHOUT ROWID"""


@dataclass(frozen=True, slots=True)
class Limits:
    rpm: int = 0  # 0: no limit
    tpm: int = 0

    @property
    def active(self) -> bool:
        return self.rpm > 0 or self.tpm > 0


@dataclass(frozen=True, slots=True)
class Bucket:
    """One limit after a decision: ``level`` may be below zero (tokens owed), ``reset_s``: until full again."""

    kind: str  # "requests" | "tokens"
    limit: int
    level: float

    @property
    def remaining(self) -> int:
        return max(0, math.floor(self.level))

    @property
    def reset_s(self) -> float:
        return max(0.0, (self.limit - self.level) * WINDOW_S / self.limit)

    def wait_s(self, need: float) -> float:
        """Seconds until ``need`` is available."""
        return max(0.0, (need - self.level) * WINDOW_S / self.limit)

    def headers(self) -> list[tuple[str, str]]:
        kind = self.kind.capitalize()
        return [(f"X-RateLimit-Limit-{kind}", str(self.limit)), (f"X-RateLimit-Remaining-{kind}", str(self.remaining)),
                (f"X-RateLimit-Reset-{kind}", duration(self.reset_s))]  # fmt: skip


def duration(seconds: float) -> str:
    """OpenAI's reset format: ``20ms``, ``1.5s``, ``6m0s``."""
    if seconds < 1:
        return f"{math.ceil(seconds * 1000)}ms"
    tenths = math.ceil(seconds * 10) / 10
    if tenths < 60:
        return f"{tenths:g}s"
    minutes, rest = divmod(math.ceil(seconds), 60)
    return f"{minutes}m{rest}s"


def rate_headers(buckets: list[Bucket]) -> list[tuple[str, str]]:
    return [header for bucket in buckets for header in bucket.headers()]


@dataclass(frozen=True, slots=True)
class Reservation:
    """What ``reserve`` took for one request, settled once it is answered."""

    requests: int
    tokens: int


def _need(amount: float, limit: int) -> float:
    """What a bucket must hold to admit ``amount``: at least one, at most a full bucket."""
    return max(1.0, min(float(amount), float(limit)))


def _refusal(caller: str, buckets: list[Bucket], amounts: dict[str, float]) -> RateLimitedError | None:
    """``RateLimitedError`` when a bucket holds less than it must for ``amounts``; None when all cover them."""
    short = [(b, _need(amounts.get(b.kind, 0), b.limit)) for b in buckets]
    short = [(b, need) for b, need in short if b.level < need]
    if not short:
        return None
    names = " and ".join(f"{b.limit} {b.kind} per minute" for b, _ in short)
    who = "client" if caller.startswith("addr:") else "key"
    needs = " and ".join(f"{math.ceil(amounts[b.kind])} {b.kind}" for b, _ in short if amounts.get(b.kind, 0) > 1)
    detail = f" (this request needs {needs})" if needs else ""
    return RateLimitedError(
        f"rate limit reached: {names} for this {who}{detail}",
        retry_after=max(1, math.ceil(max(b.wait_s(need) for b, need in short))), rate_headers=rate_headers(buckets),
    )  # fmt: skip


class RateLimiter:
    """``check`` before a request's body is parsed, ``reserve`` its demand before it runs (both: 429 when its caller
    is short), ``settle`` it once answered."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self._path, self._clock = path, clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._operations = 0

    def check(self, caller: str, limits: Limits) -> list[Bucket]:
        """``RateLimitedError`` while ``caller`` has less than one request or one token left; takes nothing."""
        return self._apply(caller, limits, {}, refuse=True)

    def reserve(self, caller: str, limits: Limits, requests: int, tokens: int) -> Reservation:
        """Take ``requests`` and ``tokens`` (the estimate) from ``caller``'s allowance, or raise
        ``RateLimitedError`` (taking nothing) while a bucket holds less (at most a full bucket is asked for)."""
        taken = Reservation(max(1, requests), max(0, tokens))
        self._apply(caller, limits, {"requests": taken.requests, "tokens": taken.tokens}, refuse=True)
        return taken

    def settle(self, caller: str, limits: Limits, reserved: Reservation | None, used: int | None) -> list[Bucket]:
        """Charge an answered request; the buckets as they now are. ``used``: the tokens of a successful answer,
        None when it failed. Reserved: the usage minus the reservation (a refund when the usage was less), or,
        failed, nothing more. Not reserved (it failed before): one request, and its usage if it has one."""
        if reserved is None:
            amounts = {"requests": 1.0, "tokens": float(max(0, used or 0))}
        else:
            amounts = {"tokens": float(max(0, used) - reserved.tokens) if used is not None else 0.0}
        return self._apply(caller, limits, amounts, refuse=False)

    def _apply(self, caller: str, limits: Limits, amounts: dict[str, float], *, refuse: bool) -> list[Bucket]:
        """Take ``amounts`` by kind (negative: give back, up to a full bucket) in one transaction; with
        ``refuse``, raise ``RateLimitedError`` first when a bucket cannot cover its amount."""
        wanted = [(kind, limit) for kind, limit in (("requests", limits.rpm), ("tokens", limits.tpm)) if limit > 0]
        changes = any(amounts.get(kind) for kind, _ in wanted)
        with self._transaction(write=changes) as db:
            now = self._clock()
            buckets = [self._read(db, caller, kind, limit, now) for kind, limit in wanted]
            refusal = _refusal(caller, buckets, amounts) if refuse else None
            if refusal is not None:
                raise refusal
            buckets = [Bucket(b.kind, b.limit, min(float(b.limit), b.level - amounts.get(b.kind, 0))) for b in buckets]
            changed = [b for b in buckets if amounts.get(b.kind)]
            if changed:
                self._write(db, caller, changed, now)
        return buckets

    # -- storage -------------------------------------------------------------------------------------------
    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction under this process's lock, rolled back when the block raises: a write one (``BEGIN
        IMMEDIATE``: the workers take turns), or a read (WAL: readers wait for nobody)."""
        with self._lock:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # never use a connection across fork
            conn = sqlite3.connect(self._path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")  # the buckets need not survive a crash of the host
            conn.execute(_SCHEMA)
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    @staticmethod
    def _read(db: sqlite3.Connection, caller: str, kind: str, limit: int, now: float) -> Bucket:
        row = db.execute("SELECT level, at FROM buckets WHERE caller = ? AND kind = ?", (caller, kind)).fetchone()
        if row is None:
            return Bucket(kind, limit, float(limit))
        level, at = row
        return Bucket(kind, limit, min(float(limit), level + max(0.0, now - at) * limit / WINDOW_S))

    def _write(self, db: sqlite3.Connection, caller: str, buckets: list[Bucket], now: float) -> None:
        db.executemany("INSERT OR REPLACE INTO buckets VALUES (?, ?, ?, ?, ?)",
                       [(caller, b.kind, b.level, now, b.limit) for b in buckets])  # fmt: skip
        self._operations += 1
        if self._operations % PRUNE_EVERY == 0:  # full again: as good as absent
            db.execute("DELETE FROM buckets WHERE level + (? - at) * capacity / ? >= capacity", (now, WINDOW_S))
