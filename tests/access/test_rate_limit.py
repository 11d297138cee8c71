"""Rate limits (inference/access/rate_limit.py): requests and tokens per minute as token buckets, whichever runs
out first; shared through one SQLite file by every process that opens it (the server's workers)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from inference.access.rate_limit import Limits, RateLimiter, duration, rate_headers
from inference.errors import RateLimitedError
from tests.conftest import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limiter(tmp_path: Path, clock: FakeClock) -> RateLimiter:
    return RateLimiter(tmp_path / "limits.sqlite3", clock)


def headers(buckets) -> dict[str, str]:
    return dict(rate_headers(buckets))


def test_requests_per_minute_reached_first(limiter: RateLimiter, clock: FakeClock) -> None:
    limits = Limits(rpm=3, tpm=1_000_000)
    for remaining in (2, 1, 0):
        admitted = headers(limiter.admit("team", limits))
        assert admitted["X-RateLimit-Remaining-Requests"] == str(remaining)
        limiter.charge("team", limits, 10)
    with pytest.raises(RateLimitedError) as err:
        limiter.admit("team", limits)
    refused = dict(err.value.headers())
    assert err.value.status == 429 and "3 requests per minute" in err.value.message
    assert "tokens" not in err.value.message  # the token limit is far away
    assert refused["Retry-After"] == "20"  # one request refills in 60 / 3 s
    assert refused["X-RateLimit-Limit-Requests"] == "3" and refused["X-RateLimit-Remaining-Requests"] == "0"
    assert refused["X-RateLimit-Remaining-Tokens"] == str(1_000_000 - 30)
    clock.now += 19.9
    with pytest.raises(RateLimitedError):
        limiter.admit("team", limits)
    clock.now += 0.1
    limiter.admit("team", limits)  # 20 s later: one request again


def test_tokens_per_minute_reached_first(limiter: RateLimiter, clock: FakeClock) -> None:
    limits = Limits(rpm=1000, tpm=600)
    limiter.admit("team", limits)
    after = headers(limiter.charge("team", limits, 500))
    assert after["X-RateLimit-Remaining-Tokens"] == "100" and after["X-RateLimit-Remaining-Requests"] == "999"
    limiter.admit("team", limits)  # 100 tokens left: admitted
    assert headers(limiter.charge("team", limits, 400))["X-RateLimit-Remaining-Tokens"] == "0"  # 300 owed
    with pytest.raises(RateLimitedError) as err:
        limiter.admit("team", limits)
    assert "600 tokens per minute" in err.value.message and "requests" not in err.value.message
    assert dict(err.value.headers())["Retry-After"] == "31"  # 301 tokens at 10 per second
    clock.now += 31
    limiter.admit("team", limits)


def test_callers_are_counted_apart_and_unlimited_kinds_are_not_counted(limiter: RateLimiter) -> None:
    limiter.admit("a", Limits(rpm=1))
    with pytest.raises(RateLimitedError):
        limiter.admit("a", Limits(rpm=1))
    assert "X-RateLimit-Limit-Tokens" not in headers(limiter.admit("b", Limits(rpm=1)))  # b has its own
    assert limiter.admit("c", Limits(tpm=5)) and headers(limiter.charge("c", Limits(tpm=5), 3)) == {
        "X-RateLimit-Limit-Tokens": "5", "X-RateLimit-Remaining-Tokens": "2", "X-RateLimit-Reset-Tokens": "36s"}


def test_a_burst_up_to_the_limit_then_the_limits_pace(limiter: RateLimiter, clock: FakeClock) -> None:
    limits = Limits(rpm=120)
    admitted = 0
    for _ in range(200):
        try:
            limiter.admit("k", limits)
            admitted += 1
        except RateLimitedError:
            pass
    assert admitted == 120
    clock.now += 30  # half a minute: half the allowance back
    assert sum(1 for _ in range(100) if _admitted(limiter, "k", limits)) == 60


def _admitted(limiter: RateLimiter, caller: str, limits: Limits) -> bool:
    try:
        limiter.admit(caller, limits)
        return True
    except RateLimitedError:
        return False


def _worker(path: str, n: int, results) -> None:
    limiter = RateLimiter(Path(path))
    results.put(sum(_admitted(limiter, "shared", Limits(rpm=50)) for _ in range(n)))


def test_processes_share_one_allowance(tmp_path: Path) -> None:
    """Four processes (as gunicorn workers) asking 40 times each: exactly the 50 requests of the minute pass."""
    path = str(tmp_path / "limits.sqlite3")
    RateLimiter(Path(path)).admit("warm", Limits(rpm=1))  # the file and its schema exist before the workers start
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no lock inherited from this one's threads
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(path, 40, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    counts = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert sum(counts) == 50, counts


def test_full_buckets_are_pruned(tmp_path: Path, clock: FakeClock, monkeypatch) -> None:
    monkeypatch.setattr("inference.access.rate_limit.PRUNE_EVERY", 4)
    limiter = RateLimiter(tmp_path / "l.sqlite3", clock)
    limiter.admit("addr:10.0.0.1", Limits(rpm=10))
    limiter.admit("addr:10.0.0.2", Limits(rpm=10))
    clock.now += 61  # both full again
    limiter.admit("addr:10.0.0.3", Limits(rpm=10))
    limiter.admit("addr:10.0.0.3", Limits(rpm=10))  # the 4th write prunes
    rows = limiter._connection().execute("SELECT caller FROM buckets").fetchall()
    assert rows == [("addr:10.0.0.3",)]


@pytest.mark.parametrize(("seconds", "text"), [(0.0201, "21ms"), (1.5, "1.5s"), (59.99, "1m0s"), (360, "6m0s")])
def test_reset_durations_read_like_openais(seconds: float, text: str) -> None:
    assert duration(seconds) == text
