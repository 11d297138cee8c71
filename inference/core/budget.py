"""Admission by work and deadline: a request is taken only if the worker can finish it in time.

The cost of a request is its tokens after truncation (an image counts as its batch cost). ``WorkBudget`` keeps
the work queued on this worker (admitted, not yet through a forward pass) and its throughput in tokens/s: seeded
by a calibration forward at model load, then an exponentially weighted average over real forward passes (each
timed around the batcher's forward call, counting the tokens it processed). Before a request is queued:

- alone it would need longer than the deadline even on an idle worker: ``RequestTooLargeError`` (413), with how
  many inputs per request would fit;
- with the work ahead of it, it would finish after ``ADMIT_SHARE`` of the time left to its deadline (a margin
  for the estimate): ``OverloadedError`` (503) at once, with ``Retry-After`` = the seconds the queued work needs
  (at least 1, at most the deadline).

Small forward passes are left out of the average: below ``MIN_SAMPLE_TOKENS`` a pass's fixed cost dominates
(one 7-token text: ~500 tokens/s on one CPU thread, against 2,000-6,000 in full batches), and a quiet hour of
single short texts would otherwise make the next burst look many times too expensive. Each sample moves the
estimate by a weight that grows with its size: a pass of ``HALF_LIFE_TOKENS`` moves it halfway.

Until a rate is known (no calibration, e.g. ``EMB_WARMUP=false``) only the queued work is tracked. Framework-free.

Refusing costs work too: reading and parsing a 120 KB body to find that it cannot fit took a 2-core worker's CPU
from its model under a retry storm. So the HTTP front asks ``refuse_unread`` from a request's head: the least
admission cost (the lower bound ``reserve`` is given) per body byte among the last ``DENSITY_WINDOW`` requests
measured, times its Content-Length, is what it is taken to cost; when that would not fit the queue either, it is
refused before its body is read. Requests denser than that are judged after parsing as before; one sparser than
every recent request may be refused early (503, retryable). The web layer says how big the body of the request
being served is through ``BODY_BYTES`` (a context variable of the request's thread).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from ..errors import OverloadedError, RequestTooLargeError

MIN_SAMPLE_TOKENS = 1024
HALF_LIFE_TOKENS = 8192
# Share of the time left that admitted work may fill: the rate measured now is an estimate, and a worker slows
# when the request threads (or anything else on the host) take CPU from its model. Measured with bench/overload.py
# on 2 cores: admitting up to the full time left let 0.6% of requests reach their deadline still queued; 80%, 0.04%
# on a machine shared with another job; see docs/performance/reliability.md.
ADMIT_SHARE = 0.7
DENSITY_WINDOW = 64  # requests whose admission cost per body byte is remembered (refuse_unread)
BODY_BYTES: ContextVar[int] = ContextVar("body_bytes", default=0)  # the body size of the request being served


class Reservation:
    """Work admitted ahead of its exact cost (``WorkBudget.reserve``): the request's first submit swaps it for the
    exact cost (``take``); ``release`` returns it if the request never got that far."""

    def __init__(self, budget: WorkBudget, tokens: int) -> None:
        self._budget, self._tokens, self._lock = budget, tokens, threading.Lock()
        self._open = True

    def take(self) -> int | None:
        """The reserved tokens, once (the first submit's); None after that or after ``release``."""
        with self._lock:
            if not self._open:
                return None
            self._open = False
            return self._tokens

    def release(self) -> None:
        if self.take() is not None:
            self._budget.release(self._tokens, 1)


@dataclass(frozen=True, slots=True)
class WorkSnapshot:
    """What ``/ping`` reports: work queued on this worker and its throughput estimate (None: not measured yet)."""

    queued_tokens: int
    queued_requests: int
    tokens_per_s: float | None


class WorkBudget:
    """Thread-safe; every method is a lock and a little arithmetic (it sits on the request path)."""

    def __init__(self, deadline_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.deadline_s = deadline_s
        self.clock = clock  # the time deadlines are in (the batcher reads it too; tests pass a fake one)
        self._lock = threading.Lock()
        self._queued = 0
        self._requests = 0
        self._rate: float | None = None
        self._densities: deque[float] = deque(maxlen=DENSITY_WINDOW)

    def snapshot(self) -> WorkSnapshot:
        with self._lock:
            return WorkSnapshot(self._queued, self._requests, self._rate)

    @property
    def tokens_per_s(self) -> float | None:
        return self._rate

    def admit(self, cost: int, inputs: int, deadline: float | None) -> None:
        """Count ``cost`` tokens of one request (``inputs`` inputs) as queued, or raise 413 / 503 counting nothing.

        ``deadline`` is absolute (``clock()`` seconds); None: no deadline, only the work is counted."""
        with self._lock:
            if deadline is not None:
                self._check(cost, inputs, deadline - self.clock())
            self._queued += cost
            self._requests += 1

    def reserve(self, cost: int, inputs: int, deadline: float) -> Reservation:
        """Admit a lower bound of a request's cost before the work of measuring it exactly (tokenising): a request
        that cannot be served is refused at almost no cost, and requests measured at the same time see each
        other's share (else all of them pass, tokenise, and most are refused late). 413 / 503 as ``admit``."""
        size = BODY_BYTES.get()
        if size > 0 and cost > 0:  # refused or not, a measure of what a body of this size costs at least
            with self._lock:
                self._densities.append(cost / size)
        self.admit(cost, inputs, deadline)
        return Reservation(self, cost)

    def admit_reserved(self, reservation: Reservation | None, cost: int, inputs: int, deadline: float | None) -> None:
        """Count a request's exact ``cost``: in place of its reservation if it holds one not yet taken (admitted
        already), else judged by ``admit``."""
        reserved = reservation.take() if reservation is not None else None
        if reserved is None:
            self.admit(cost, inputs, deadline)
        else:
            self.swap(reserved, cost)

    def swap(self, reserved: int, cost: int) -> None:
        """A reservation of ``reserved`` tokens becomes the request's exact ``cost`` (already admitted)."""
        with self._lock:
            self._queued += cost - reserved

    def _check(self, cost: int, inputs: int, left: float) -> None:
        rate = self._rate
        if rate is not None and cost / rate > max(self.deadline_s, left):
            raise RequestTooLargeError(self._too_large(cost, inputs, rate))
        if left <= 0:
            raise OverloadedError(
                "the request's deadline passed before the model ran; retry shortly", retry_after=self._retry_after(rate)
            )
        if rate is not None and (self._queued + cost) / rate > ADMIT_SHARE * left:
            raise OverloadedError(
                f"{self._queued} tokens of work queued ({self._queued / rate:.1f} s at {rate:.0f} tokens/s); this "
                f"request ({cost} tokens) would miss its deadline; retry shortly",
                retry_after=self._retry_after(rate),
            )

    def refuse_unread(self, body_bytes: int | None) -> OverloadedError | None:
        """The 503 for a request of ``body_bytes`` (None: unknown) arriving now, judged before its body is read:
        when even its least likely cost (at least one token) would not fit the queued work; else None."""
        with self._lock:
            rate = self._rate
            if rate is None:
                return None
            density = min(self._densities) if self._densities and body_bytes else 0.0
            least = max(1.0, density * (body_bytes or 0))
            if (self._queued + least) / rate <= ADMIT_SHARE * self.deadline_s:
                return None
            return OverloadedError(
                f"{self._queued} tokens of work queued ({self._queued / rate:.1f} s at {rate:.0f} tokens/s); a "
                f"request of {body_bytes or 0} bytes would miss its deadline; retry shortly",
                retry_after=self._retry_after(rate),
            )

    def release(self, tokens: int, requests: int = 0) -> None:
        """Work done or dropped: ``tokens`` leave the queue, and ``requests`` whose last work that was."""
        with self._lock:
            self._queued -= tokens
            self._requests -= requests

    def observe(self, tokens: int, seconds: float) -> None:
        """One forward pass of ``tokens`` took ``seconds``: update the throughput estimate."""
        if tokens < MIN_SAMPLE_TOKENS or seconds <= 0:
            return
        sample = tokens / seconds
        weight = 1 - 0.5 ** (tokens / HALF_LIFE_TOKENS)
        with self._lock:
            self._rate = sample if self._rate is None else self._rate + weight * (sample - self._rate)

    def calibrate(self, tokens: int, seconds: float) -> None:
        """Set the estimate from a calibration pass (model load), before any request is judged."""
        if tokens > 0 and seconds > 0:
            with self._lock:
                self._rate = tokens / seconds

    def retry_after(self) -> int:
        """Seconds until the queued work is done, as ``Retry-After``: at least 1, at most the deadline."""
        with self._lock:
            return self._retry_after(self._rate)

    def _retry_after(self, rate: float | None) -> int:
        if rate is None:
            return 1
        return max(1, math.ceil(min(self._queued / rate, self.deadline_s)))

    def _too_large(self, cost: int, inputs: int, rate: float) -> str:
        need = (
            f"this request needs about {cost / rate:.1f} s of model time ({cost} tokens at {rate:.0f} tokens/s), "
            f"more than the {self.deadline_s:g} s request deadline (EMB_REQUEST_DEADLINE_S)"
        )
        fit = int(inputs * self.deadline_s * rate / cost)
        if fit < 1:
            return f"{need}; even one input is too much: the deadline is too short for this model"
        return f"{need}; split it: about {fit} of these inputs per request would fit"
