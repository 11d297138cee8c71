"""Requests and tokens per minute per caller, shared by all workers of one server: token buckets in SQLite.

Each limit is a bucket holding up to a minute's allowance and refilling continuously (``limit / 60`` per
second), so a caller may burst up to its per-minute limit and then goes at the limit's pace. A request is
admitted while its caller has at least one request and one token left; one request is taken then, and its
tokens (the response's ``usage``) once it is answered, so a big request can take the token bucket below zero:
the caller then waits until it refills. Whichever limit is reached first answers 429, with ``Retry-After`` (whole
seconds until every exhausted limit allows a request) and the ``X-RateLimit-*`` headers OpenAI's API uses.

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


class RateLimiter:
    """``admit`` before a request runs (429 when its caller is out), ``charge`` its tokens after."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self._path, self._clock = path, clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._operations = 0

    def admit(self, caller: str, limits: Limits) -> list[Bucket]:
        """Take one request from ``caller``'s allowance, or raise ``RateLimitedError``."""
        wanted = [(kind, limit) for kind, limit in (("requests", limits.rpm), ("tokens", limits.tpm)) if limit > 0]
        with self._transaction() as db:
            now = self._clock()
            buckets = [self._read(db, caller, kind, limit, now) for kind, limit in wanted]
            short = [bucket for bucket in buckets if bucket.level < 1]
            if short:
                names = " and ".join(f"{b.limit} {b.kind} per minute" for b in short)
                raise RateLimitedError(
                    f"rate limit reached: {names} for this {'key' if not caller.startswith('addr:') else 'client'}",
                    retry_after=max(1, math.ceil(max(b.wait_s(1) for b in short))), rate_headers=rate_headers(buckets),
                )  # fmt: skip
            buckets = [Bucket(b.kind, b.limit, b.level - 1) if b.kind == "requests" else b for b in buckets]
            self._write(db, caller, buckets, now)
        return buckets

    def charge(self, caller: str, limits: Limits, tokens: int) -> list[Bucket]:
        """Take ``tokens`` from ``caller``'s token allowance (it may go below zero); the buckets as they now are."""
        with self._transaction() as db:
            now = self._clock()
            buckets = [self._read(db, caller, "requests", limits.rpm, now)] if limits.rpm > 0 else []
            if limits.tpm > 0:  # only the token bucket changes (admit took the request)
                left = self._read(db, caller, "tokens", limits.tpm, now).level - max(0, tokens)
                buckets.append(Bucket("tokens", limits.tpm, left))
                self._write(db, caller, buckets[-1:], now)
        return buckets

    # -- storage -------------------------------------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``: the workers take turns), under this process's lock;
        rolled back when the block raises."""
        with self._lock:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
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
