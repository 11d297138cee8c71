"""``EmbeddingServer._hold_until_ready`` (inference/server.py): what a worker marks on the shared board before
it takes connections, in-process with a model load held by the test. The real 2-worker server is in
tests/reliability/test_reliability_startup.py."""

from __future__ import annotations

import threading

import pytest

from inference.handlers.fake import FakeEmbeddingHandler
from inference.readiness import IDLE, LOADING, READY
from inference.server import EmbeddingServer
from inference.service import EmbeddingService
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


def worker_server(monkeypatch, gate: threading.Event, *, fail: bool = False) -> EmbeddingServer:
    """The server object as seen inside the worker in ``SLOT``, its model loading until ``gate`` opens."""
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # EmbeddingServer sets it by default; keep the env as it was

    def loader(settings):
        gate.wait(30)
        if fail:
            raise RuntimeError("no weights")
        return FakeEmbeddingHandler(settings)

    server = EmbeddingServer(make_settings(handler="fake", device="cpu", workers=2))
    server._worker_slot = SLOT
    server._service = EmbeddingService(make_settings(handler="fake", log_level="WARNING"), loader)
    server._service.start_loading()
    return server


def hold_in_thread(server: EmbeddingServer, worker: StubWorker) -> threading.Thread:
    thread = threading.Thread(target=server._hold_until_ready, args=(worker,), daemon=True)
    thread.start()
    return thread


def test_first_worker_takes_connections_at_once_marked_loading(monkeypatch, gate):
    server = worker_server(monkeypatch, gate)
    hold = hold_in_thread(server, StubWorker())
    hold.join(5)
    assert not hold.is_alive(), "with no ready peer, a loading worker must take connections (and answer 503)"
    assert server._board.state(SLOT) == LOADING and not server._peers_ready()

    gate.set()
    poll(lambda: server._board.state(SLOT) == READY, 10, "READY after the load")
    assert server._peers_ready()


def test_replacement_worker_waits_for_its_model_heartbeating_while_a_peer_serves(monkeypatch, gate):
    server = worker_server(monkeypatch, gate)
    server._board.set(PEER, READY)
    worker = StubWorker()
    hold = hold_in_thread(server, worker)
    poll(lambda: worker.beats >= 1, 10, "a heartbeat while the model loads")
    assert hold.is_alive(), "a worker must not take connections while a ready peer can serve them"
    assert server._board.state(SLOT) == IDLE and server._peers_ready()

    gate.set()
    hold.join(10)
    assert not hold.is_alive()
    poll(lambda: server._board.state(SLOT) == READY, 10, "READY after the load")
    assert server._peers_ready()


def test_replacement_whose_load_fails_says_so_on_ping(monkeypatch, gate):
    server = worker_server(monkeypatch, gate, fail=True)
    server._board.set(PEER, READY)
    hold = hold_in_thread(server, StubWorker())
    gate.set()
    hold.join(10)
    assert not hold.is_alive() and server._service.load_error == "RuntimeError: no weights"
    assert server._board.state(SLOT) == LOADING and not server._peers_ready()
