"""Admission by work and deadline (core/budget.py), with a fake clock: admit, shed, too large, Retry-After, the
throughput estimate."""

import pytest

from inference.core.budget import BODY_BYTES, HALF_LIFE_TOKENS, MIN_SAMPLE_TOKENS, WorkBudget, WorkSnapshot
from inference.errors import OverloadedError, RequestTooLargeError
from tests.conftest import FakeClock


@pytest.fixture
def clock():
    return FakeClock()


def budget_at(rate: float | None, clock: FakeClock, deadline_s: float = 45.0) -> WorkBudget:
    budget = WorkBudget(deadline_s, clock=clock)
    if rate is not None:
        budget.calibrate(int(rate), 1.0)
    return budget


def test_admits_what_finishes_by_the_deadline_and_counts_it(clock):
    budget = budget_at(1000, clock)
    budget.admit(15_000, 10, clock.now + 45)  # 15 s of work
    budget.admit(16_000, 10, clock.now + 45)  # 31 s with the queue ahead: ADMIT_SHARE (0.7) of the 45 s left
    assert budget.snapshot() == WorkSnapshot(queued_tokens=31_000, queued_requests=2, tokens_per_s=1000.0)
    with pytest.raises(OverloadedError):
        budget.admit(1_000, 1, clock.now + 45)  # 32 s > 0.7 x 45 s: the margin for the estimate
    budget.release(15_000, 1)
    assert budget.snapshot().queued_tokens == 16_000 and budget.snapshot().queued_requests == 1


def test_sheds_what_the_queue_ahead_would_push_past_the_deadline(clock):
    budget = budget_at(1000, clock)
    budget.admit(30_000, 10, clock.now + 45)
    with pytest.raises(OverloadedError) as shed:
        budget.admit(20_000, 10, clock.now + 45)  # 30 s + 20 s > 45 s
    assert shed.value.status == 503 and shed.value.retry_after == 30  # the queued work's 30 s
    assert budget.snapshot().queued_tokens == 30_000 and budget.snapshot().queued_requests == 1  # nothing counted


def test_time_already_spent_counts(clock):
    """The deadline is absolute: a request that waited in the HTTP front has less time left."""
    budget = budget_at(1000, clock)
    deadline = clock.now + 45
    clock.now += 40
    budget.admit(3_000, 1, deadline)  # 3 s of work, 5 s left (0.7 x 5 s = 3.5 s may be filled)
    with pytest.raises(OverloadedError):
        budget.admit(1_000, 1, deadline)  # 4 s > 3.5 s


def test_a_passed_deadline_is_shed_even_before_the_rate_is_known(clock):
    budget = budget_at(None, clock)
    with pytest.raises(OverloadedError, match="deadline passed"):
        budget.admit(1, 1, clock.now)
    budget.admit(10**9, 1, clock.now + 1)  # no rate yet: nothing else to judge by
    assert budget.snapshot().queued_tokens == 10**9


def test_a_request_over_the_deadline_alone_is_413_with_how_to_split_it(clock):
    budget = budget_at(1000, clock)
    with pytest.raises(RequestTooLargeError) as refused:
        budget.admit(90_000, 300, clock.now + 45)  # 90 s alone, even on an idle worker
    err = refused.value
    assert err.status == 413 and err.type == "request_too_large"
    assert "needs about 90.0 s of model time" in err.message and "45 s request deadline" in err.message
    assert "split it: about 150 of these inputs per request would fit" in err.message  # 300 x 45 / 90
    assert budget.snapshot().queued_tokens == 0


def test_too_large_is_judged_on_the_whole_deadline_not_the_time_left(clock):
    """A request that fits the deadline but not the time left is a 503 (retry), never a 413 (split)."""
    budget = budget_at(1000, clock)
    deadline = clock.now + 45
    clock.now += 44
    with pytest.raises(OverloadedError):
        budget.admit(10_000, 10, deadline)


def test_no_deadline_admits_everything(clock):
    budget = budget_at(1, clock)
    budget.admit(10**6, 1, None)
    assert budget.snapshot().queued_tokens == 10**6


@pytest.mark.parametrize(("queued", "retry_after"), [(0, 1), (1, 1), (1500, 2), (44_001, 45), (10**7, 45)])
def test_retry_after_is_the_queued_seconds_at_least_1_at_most_the_deadline(clock, queued, retry_after):
    budget = budget_at(1000, clock)
    budget.admit(queued, 1, None)
    assert budget.retry_after() == retry_after


def test_retry_after_without_a_rate_is_1(clock):
    assert budget_at(None, clock).retry_after() == 1


def test_throughput_is_an_average_of_real_forward_passes_weighted_by_their_tokens(clock):
    budget = budget_at(1000, clock)
    budget.observe(MIN_SAMPLE_TOKENS - 1, 10.0)  # a small pass: its fixed cost dominates, left out
    assert budget.tokens_per_s == 1000
    budget.observe(HALF_LIFE_TOKENS, HALF_LIFE_TOKENS / 3000)  # 3000 tokens/s, a half-life's worth: halfway
    assert budget.tokens_per_s == pytest.approx(2000)
    budget.observe(4 * HALF_LIFE_TOKENS, 4 * HALF_LIFE_TOKENS / 3000)  # a big pass moves it most of the way
    assert budget.tokens_per_s == pytest.approx(3000 - 1000 / 16)


def test_the_first_real_pass_sets_the_rate_without_calibration(clock):
    budget = budget_at(None, clock)
    budget.observe(2048, 0.5)
    assert budget.tokens_per_s == 4096


def test_a_reservation_counts_until_swapped_for_the_exact_cost_or_released(clock):
    budget = budget_at(1000, clock)
    first = budget.reserve(15_000, 64, clock.now + 45)  # a lower bound, before tokenising
    with pytest.raises(OverloadedError):  # a request measured at the same time sees the first one's share
        budget.reserve(16_501, 64, clock.now + 45)
    assert budget.snapshot().queued_tokens == 15_000 and budget.snapshot().queued_requests == 1
    reserved = first.take()
    budget.swap(reserved, 20_000)  # the exact cost, once tokenised: not judged again
    assert first.take() is None and budget.snapshot().queued_tokens == 20_000
    first.release()  # taken already: nothing to return
    assert budget.snapshot().queued_tokens == 20_000 and budget.snapshot().queued_requests == 1
    budget.release(20_000, 1)
    dropped = budget.reserve(5_000, 10, clock.now + 45)
    dropped.release()  # the request ended before its submit (e.g. a 400 after tokenising)
    dropped.release()
    assert budget.snapshot().queued_tokens == 0 and budget.snapshot().queued_requests == 0


def measured(budget: WorkBudget, cost: int, body_bytes: int, clock: FakeClock) -> None:
    """A request of ``body_bytes`` whose admission cost (a lower bound) is ``cost``, reserved and released."""
    token = BODY_BYTES.set(body_bytes)
    try:
        budget.reserve(cost, 1, clock.now + 45).release()
    finally:
        BODY_BYTES.reset(token)


def test_refuse_unread_judges_a_head_by_the_least_dense_recent_request(clock):
    """Before its body is read, a request is taken to cost its Content-Length times the least admission cost per
    byte among recent requests: refused only when even that would not fit the queue."""
    budget = budget_at(1000, clock)  # room: 0.7 x 45 s x 1000 tokens/s = 31,500 tokens
    budget.admit(20_000, 64, clock.now + 45)
    assert budget.refuse_unread(120_000) is None  # nothing measured yet: only "at least one token" is known
    budget.reserve(8_000, 64, clock.now + 45).release()  # no body size known (not through the web layer)
    assert budget.refuse_unread(120_000) is None
    measured(budget, 8_000, 60_000, clock)  # 0.133 tokens per byte (64 long texts)
    measured(budget, 256, 120_000, clock)  # one long text cut at 256 tokens: 0.002 per byte, the least
    assert budget.refuse_unread(120_000) is None  # 20,000 + 256 fits
    for _ in range(64):  # the sparse one leaves the window
        measured(budget, 8_000, 60_000, clock)
    refused = budget.refuse_unread(120_000)  # 20,000 + 16,000 > 31,500
    assert isinstance(refused, OverloadedError) and refused.retry_after == 20
    assert budget.refuse_unread(60_000) is None  # 20,000 + 8,000 fits
    assert budget.refuse_unread(None) is None  # chunked: only one token is sure
    with pytest.raises(OverloadedError):
        measured(budget, 16_000, 120_000, clock)  # refused after parsing: still measured
    budget.admit(11_499, 1, clock.now + 45)
    assert budget.refuse_unread(None) is not None  # full: not even one more token fits
    assert budget.snapshot().queued_tokens == 31_499  # judging counted nothing


def test_refuse_unread_never_refuses_before_a_rate_is_known(clock):
    budget = budget_at(None, clock)
    measured(budget, 100, 10, clock)
    assert budget.refuse_unread(10**9) is None
