"""``ServerReadiness.hold`` (inference/runtime/readiness.py): what a worker marks on the shared board before it
takes connections, in-process with a model load held by the test, and what its peers then see. The real
2-worker server is in tests/reliability/test_reliability_startup.py."""

from __future__ import annotations

import threading

import pytest

from inference.core.engine import ModelEngine
from inference.handlers.fake import FakeEmbeddingHandler
from inference.runtime.readiness import IDLE, LOADING, READY, ServerReadiness, WorkerBoard
from tests.conftest import make_settings
from tests.reliability.harness import poll

SLOT, PEER = 0, 1


class StubWorker:
    """What the hold uses of gunicorn's worker: ``alive`` and the heartbeat."""

    def __init__(self) -> None:
        self.alive = True
        self.beats = 0

    def notify(self) -> None:
        self.beats += 1


@pytest.fixture
def gate():
    event = threading.Event()
    yield event
    event.set()


def loading_engine(gate: threading.Event, *, fail: bool = False) -> ModelEngine:
    """The worker's engine, its model loading until ``gate`` opens."""

    def loader(settings):
        gate.wait(30)
        if fail:
            raise RuntimeError("no weights")
        return FakeEmbeddingHandler(settings)

    engine = ModelEngine(make_settings(handler="fake", log_level="WARNING"), loader)
    engine.start_loading()
    return engine


def on_board(board: WorkerBoard, slot: int) -> ServerReadiness:
    """The readiness object as the worker in ``slot`` holds it (every worker shares the master's board)."""
    readiness = ServerReadiness(board)
    readiness.joined(slot)
    return readiness


def hold_in_thread(readiness: ServerReadiness, engine: ModelEngine, worker: StubWorker) -> threading.Thread:
    thread = threading.Thread(target=readiness.hold, args=(engine, lambda: worker.alive, worker.notify), daemon=True)
    thread.start()
    return thread


def test_first_worker_takes_connections_at_once_marked_loading(gate):
    board = WorkerBoard(4)
    me, peer = on_board(board, SLOT), on_board(board, PEER)
    hold = hold_in_thread(me, loading_engine(gate), StubWorker())
    hold.join(5)
    assert not hold.is_alive(), "with no ready peer, a loading worker must take connections (and answer 503)"
    assert board.state(SLOT) == LOADING and not peer.peers_ready()

    gate.set()
    poll(lambda: board.state(SLOT) == READY, 10, "READY after the load")
    assert peer.peers_ready()


def test_replacement_worker_waits_for_its_model_heartbeating_while_a_peer_serves(gate):
    board = WorkerBoard(4)
    me, peer = on_board(board, SLOT), on_board(board, PEER)
    board.set(PEER, READY)
    worker = StubWorker()
    hold = hold_in_thread(me, loading_engine(gate), worker)
    poll(lambda: worker.beats >= 1, 10, "a heartbeat while the model loads")
    assert hold.is_alive(), "a worker must not take connections while a ready peer can serve them"
    assert board.state(SLOT) == IDLE and peer.peers_ready()

    gate.set()
    hold.join(10)
    assert not hold.is_alive()
    poll(lambda: board.state(SLOT) == READY, 10, "READY after the load")
    assert peer.peers_ready()


def test_replacement_whose_load_fails_says_so_on_ping(gate):
    board = WorkerBoard(4)
    me, peer = on_board(board, SLOT), on_board(board, PEER)
    board.set(PEER, READY)
    engine = loading_engine(gate, fail=True)
    hold = hold_in_thread(me, engine, StubWorker())
    gate.set()
    hold.join(10)
    assert not hold.is_alive() and engine.load_error == "RuntimeError: no weights"
    assert board.state(SLOT) == LOADING and not peer.peers_ready()
