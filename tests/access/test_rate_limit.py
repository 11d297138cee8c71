"""Rate limits (inference/access/rate_limit.py): requests and tokens per minute as token buckets, whichever runs
out first; a request's estimate reserved before it runs and settled to its usage after; shared through one
SQLite file by every process that opens it (the server's workers)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from inference.access.rate_limit import Limits, RateLimiter, Reservation, duration, rate_headers
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


def take(limiter: RateLimiter, caller: str, limits: Limits, tokens: int = 0, requests: int = 1) -> Reservation:
    """A request's admission: the check before its body, then the reservation of its demand."""
    limiter.check(caller, limits)
    return limiter.reserve(caller, limits, requests, tokens)


def refused(call) -> RateLimitedError:
    with pytest.raises(RateLimitedError) as err:
        call()
    return err.value


def test_requests_per_minute_reached_first(limiter: RateLimiter, clock: FakeClock) -> None:
    limits = Limits(rpm=3, tpm=1_000_000)
    for remaining in (2, 1, 0):
        reservation = take(limiter, "team", limits, tokens=8)
        settled = headers(limiter.settle("team", limits, reservation, 10))
        assert settled["X-RateLimit-Remaining-Requests"] == str(remaining)
    err = refused(lambda: limiter.check("team", limits))
    headers_ = dict(err.headers())
    assert err.status == 429 and "3 requests per minute" in err.message
    assert "tokens" not in err.message  # the token limit is far away
    assert headers_["Retry-After"] == "20"  # one request refills in 60 / 3 s
    assert headers_["X-RateLimit-Limit-Requests"] == "3" and headers_["X-RateLimit-Remaining-Requests"] == "0"
    assert headers_["X-RateLimit-Remaining-Tokens"] == str(1_000_000 - 30)  # the usage, not the reservations
    clock.now += 19.9
    refused(lambda: take(limiter, "team", limits))
    clock.now += 0.1
    take(limiter, "team", limits)  # 20 s later: one request again


def test_the_token_bucket_must_cover_the_estimate(limiter: RateLimiter, clock: FakeClock) -> None:
    """Admitted only while the bucket holds the request's estimate (not merely one token); refused, it costs
    nothing, and Retry-After is the wait until the estimate is there."""
    limits = Limits(rpm=1000, tpm=600)
    first = take(limiter, "team", limits, tokens=400)
    assert headers(limiter.settle("team", limits, first, 450))["X-RateLimit-Remaining-Tokens"] == "150"
    err = refused(lambda: take(limiter, "team", limits, tokens=200))
    assert "600 tokens per minute" in err.message and "this request needs 200 tokens" in err.message
    assert "requests per minute" not in err.message
    assert dict(err.headers())["Retry-After"] == "5"  # 50 tokens short at 10 per second
    assert dict(err.headers())["X-RateLimit-Remaining-Tokens"] == "150"
    assert dict(err.headers())["X-RateLimit-Remaining-Requests"] == "999"  # the refusal took no request
    take(limiter, "team", limits, tokens=150)  # what is there is enough for a smaller request
    clock.now += 20
    refused(lambda: take(limiter, "team", limits, tokens=201))
    take(limiter, "team", limits, tokens=200)  # 20 s: 200 tokens back


def test_concurrent_reservations_never_overshoot(limiter: RateLimiter) -> None:
    """Ten requests in flight at once (none answered yet): only those whose estimates the bucket covers are
    admitted; once they are settled, the usage exceeds the limit by at most what usage exceeds estimates."""
    limits = Limits(tpm=1000)
    admitted = []
    for _ in range(10):
        try:
            admitted.append(take(limiter, "k", limits, tokens=300))
        except RateLimitedError:
            pass
    assert len(admitted) == 3  # 3 x 300 reserved; 100 left cannot cover a fourth
    for reservation in admitted:
        after = headers(limiter.settle("k", limits, reservation, 310))
    assert after["X-RateLimit-Remaining-Tokens"] == "70"  # 930 used of 1000


def test_settling_charges_the_usage_minus_the_reservation(limiter: RateLimiter) -> None:
    limits = Limits(rpm=10, tpm=1000)
    over = take(limiter, "k", limits, tokens=100)
    assert headers(limiter.settle("k", limits, over, 40))["X-RateLimit-Remaining-Tokens"] == "960"  # 60 back
    under = take(limiter, "k", limits, tokens=100)
    assert headers(limiter.settle("k", limits, under, 130))["X-RateLimit-Remaining-Tokens"] == "830"
    failed = take(limiter, "k", limits, tokens=100)  # failed after admission (5xx, 499, 4xx): still charged
    settled = headers(limiter.settle("k", limits, failed, None))
    assert settled["X-RateLimit-Remaining-Tokens"] == "730" and settled["X-RateLimit-Remaining-Requests"] == "7"
    limiter.check("k", limits)  # failed before its reservation (a bad body): one request, no tokens
    settled = headers(limiter.settle("k", limits, None, None))
    assert settled["X-RateLimit-Remaining-Tokens"] == "730" and settled["X-RateLimit-Remaining-Requests"] == "6"


def test_a_refund_never_fills_a_bucket_past_its_limit(limiter: RateLimiter, clock: FakeClock) -> None:
    limits = Limits(tpm=100)
    reservation = take(limiter, "k", limits, tokens=90)
    clock.now += 60  # full again meanwhile
    assert headers(limiter.settle("k", limits, reservation, 10))["X-RateLimit-Remaining-Tokens"] == "100"


def test_records_count_one_request_each(limiter: RateLimiter) -> None:
    limits = Limits(rpm=10)
    take(limiter, "batch", limits, requests=7)
    err = refused(lambda: take(limiter, "batch", limits, requests=4))
    assert "this request needs 4 requests" in err.message and dict(err.headers())["Retry-After"] == "6"
    take(limiter, "batch", limits, requests=3)


def test_a_demand_above_the_limit_needs_a_full_bucket(limiter: RateLimiter, clock: FakeClock) -> None:
    """A record body bigger than a minute's allowance is not refused for ever: admitted on a full bucket, it
    takes the bucket below zero, and the caller waits until it is refilled."""
    limits = Limits(rpm=10, tpm=100)
    take(limiter, "batch", limits, requests=25, tokens=500)
    err = refused(lambda: take(limiter, "batch", limits))
    assert dict(err.headers())["Retry-After"] == "241"  # tokens: 400 owed + 1 at 100 per minute; requests: 96 s
    clock.now += 60 * 5  # 500 tokens refilled: full again
    take(limiter, "batch", limits, requests=25, tokens=500)


def test_retry_after_is_the_longest_wait_when_both_limits_are_out(limiter: RateLimiter) -> None:
    limits = Limits(rpm=6, tpm=60)  # a request refills in 10 s, a token in 1 s
    take(limiter, "k", limits, requests=6, tokens=60)
    err = refused(lambda: limiter.check("k", limits))
    assert "6 requests per minute and 60 tokens per minute" in err.message
    assert dict(err.headers())["Retry-After"] == "10"  # requests: 10 s for one; tokens: 1 s for one
    err = refused(lambda: limiter.reserve("k", limits, 1, 45))  # as when a concurrent request took the last ones
    assert "6 requests per minute and 60 tokens per minute" in err.message
    assert dict(err.headers())["Retry-After"] == "45"  # tokens: 45 s for the estimate; requests: 10 s


def test_callers_are_counted_apart_and_unlimited_kinds_are_not_counted(limiter: RateLimiter) -> None:
    take(limiter, "a", Limits(rpm=1))
    refused(lambda: take(limiter, "a", Limits(rpm=1)))
    reservation = take(limiter, "b", Limits(rpm=1))  # b has its own
    assert "X-RateLimit-Limit-Tokens" not in headers(limiter.settle("b", Limits(rpm=1), reservation, 5))
    reservation = take(limiter, "c", Limits(tpm=5), tokens=2)
    assert headers(limiter.settle("c", Limits(tpm=5), reservation, 3)) == {
        "X-RateLimit-Limit-Tokens": "5", "X-RateLimit-Remaining-Tokens": "2", "X-RateLimit-Reset-Tokens": "36s"}


def test_a_burst_up_to_the_limit_then_the_limits_pace(limiter: RateLimiter, clock: FakeClock) -> None:
    limits = Limits(rpm=120)
    assert sum(1 for _ in range(200) if _admitted(limiter, "k", limits)) == 120
    clock.now += 30  # half a minute: half the allowance back
    assert sum(1 for _ in range(100) if _admitted(limiter, "k", limits)) == 60


def _admitted(limiter: RateLimiter, caller: str, limits: Limits) -> bool:
    try:
        take(limiter, caller, limits)
        return True
    except RateLimitedError:
        return False


def _worker(path: str, n: int, results) -> None:
    limiter = RateLimiter(Path(path))
    results.put(sum(_admitted(limiter, "shared", Limits(rpm=50)) for _ in range(n)))


def test_processes_share_one_allowance(tmp_path: Path) -> None:
    """Four processes (as gunicorn workers) asking 40 times each: exactly the 50 requests of the minute pass."""
    path = str(tmp_path / "limits.sqlite3")
    take(RateLimiter(Path(path)), "warm", Limits(rpm=1))  # the file and its schema exist before the workers start
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
    take(limiter, "addr:10.0.0.1", Limits(rpm=10))
    take(limiter, "addr:10.0.0.2", Limits(rpm=10))
    clock.now += 61  # both full again
    take(limiter, "addr:10.0.0.3", Limits(rpm=10))
    take(limiter, "addr:10.0.0.3", Limits(rpm=10))  # the 4th write prunes
    rows = limiter._connection().execute("SELECT caller FROM buckets").fetchall()
    assert rows == [("addr:10.0.0.3",)]


@pytest.mark.parametrize(("seconds", "text"), [(0.0201, "21ms"), (1.5, "1.5s"), (59.99, "1m0s"), (360, "6m0s")])
def test_reset_durations_read_like_openais(seconds: float, text: str) -> None:
    assert duration(seconds) == text
