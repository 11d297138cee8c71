"""The per-worker pixel gate: concurrent large decodes never hold more than its capacity; small ones pass;
first come first served; waiters give up at their deadline (503) or when their client left (499).

Deterministic: holders block on events the test sets, and the gate's ``on_wait`` hook says when a decode
starts waiting (no sleeps)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from inference.codecs.pixel_gate import PixelGate
from inference.errors import ClientClosedRequestError, OverloadedError

JOIN_S = 10  # generous bound for a thread to finish once released; never reached when the gate works


class Holders:
    """Threads that each take ``pixels`` from the gate and keep them until ``release`` is set."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside = 0
        self.most_inside = 0
        self.held_most = 0
        self.order: list[str] = []
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()
        self.errors: list[BaseException] = []
        self.threads: list[threading.Thread] = []

    def start(self, gate: PixelGate, name: str, pixels: int, **kwargs: object) -> None:
        def run() -> None:
            try:
                with gate.hold(pixels, **kwargs):
                    with self.lock:
                        self.inside += 1
                        self.most_inside = max(self.most_inside, self.inside)
                        self.held_most = max(self.held_most, gate.in_use)
                        self.order.append(name)
                    self.entered.release()
                    self.release.wait(JOIN_S)
                    with self.lock:
                        self.inside -= 1
            except BaseException as err:  # noqa: BLE001 - surfaced by join
                self.errors.append(err)

        thread = threading.Thread(target=run, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()

    def join(self) -> None:
        for thread in self.threads:
            thread.join(JOIN_S)
            assert not thread.is_alive()
        assert not self.errors, self.errors


def waiting_counter() -> tuple[Callable[[int], None], threading.Semaphore]:
    started = threading.Semaphore(0)
    return lambda pixels: started.release(), started


def test_concurrent_large_decodes_never_hold_more_than_the_capacity():
    on_wait, waiting = waiting_counter()
    gate = PixelGate(100, free_below=10, on_wait=on_wait)
    holders = Holders()
    for number in range(4):
        holders.start(gate, f"decode-{number}", 40)
    assert holders.entered.acquire(timeout=JOIN_S) and holders.entered.acquire(timeout=JOIN_S)  # two fit
    assert waiting.acquire(timeout=JOIN_S) and waiting.acquire(timeout=JOIN_S)  # the other two wait
    assert (holders.inside, gate.in_use) == (2, 80)
    holders.release.set()
    holders.join()
    assert holders.most_inside == 2 and holders.held_most <= 100
    assert len(holders.order) == 4 and gate.in_use == 0


def test_small_images_pass_a_full_gate():
    gate = PixelGate(100, free_below=10)
    with gate.hold(100):
        with gate.hold(10):  # would block forever if it needed the gate
            assert gate.in_use == 100


def test_an_image_larger_than_the_capacity_waits_until_it_is_alone():
    on_wait, waiting = waiting_counter()
    gate = PixelGate(100, free_below=10, on_wait=on_wait)
    holders = Holders()
    with gate.hold(30):
        holders.start(gate, "huge", 1000)
        assert waiting.acquire(timeout=JOIN_S)
        assert holders.inside == 0
    assert holders.entered.acquire(timeout=JOIN_S)
    assert gate.in_use == 100  # charged the whole capacity, not more
    holders.release.set()
    holders.join()
    assert gate.in_use == 0


def test_first_come_first_served_a_large_decode_is_not_starved_by_later_smaller_ones():
    on_wait, waiting = waiting_counter()
    gate = PixelGate(100, free_below=10, on_wait=on_wait)
    holders = Holders()
    with gate.hold(60):
        holders.start(gate, "large", 80)
        assert waiting.acquire(timeout=JOIN_S)
        holders.start(gate, "later", 30)  # 60 + 30 would fit, but "large" came first
        assert waiting.acquire(timeout=JOIN_S)
        assert holders.inside == 0
    assert holders.entered.acquire(timeout=JOIN_S)
    assert holders.order == ["large"]
    holders.release.set()
    holders.join()
    assert holders.order == ["large", "later"] and gate.in_use == 0


def test_a_waiter_gives_up_at_its_deadline_with_503():
    gate = PixelGate(100, free_below=10)
    with gate.hold(100):
        with pytest.raises(OverloadedError, match="deadline passed") as caught:
            with gate.hold(50, deadline=time.monotonic() - 1):
                pass
    assert caught.value.status == 503 and gate.in_use == 0


def test_a_waiter_gives_up_when_its_client_leaves_with_499_and_the_next_goes_on():
    on_wait, waiting = waiting_counter()
    gate = PixelGate(100, free_below=10, on_wait=on_wait)
    gone = threading.Event()
    outcome: list[BaseException] = []

    def wait_then_give_up() -> None:
        try:
            with gate.hold(50, cancelled=gone):
                pass
        except ClientClosedRequestError as err:
            outcome.append(err)

    with gate.hold(100):
        thread = threading.Thread(target=wait_then_give_up, daemon=True)
        thread.start()
        assert waiting.acquire(timeout=JOIN_S)
        gone.set()
        thread.join(JOIN_S)
        assert not thread.is_alive() and len(outcome) == 1 and outcome[0].status == 499
    with gate.hold(100):  # the queue holds no trace of the one that left
        assert gate.in_use == 100
    assert gate.in_use == 0
