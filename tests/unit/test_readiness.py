"""The shared readiness board of a server's workers, and /ping's use of it."""

from __future__ import annotations

import multiprocessing

from inference.api.app import create_app
from inference.readiness import IDLE, LOADING, READY, WorkerBoard
from tests.conftest import make_settings


def test_board_states():
    board = WorkerBoard(3)
    assert len(board) == 3 and not board.any_ready() and board.none_loading()
    board.set(0, LOADING)
    assert not board.none_loading() and not board.any_ready()
    board.set(0, READY)
    assert board.any_ready() and not board.any_ready(exclude=0) and board.none_loading()
    board.set(1, LOADING)
    assert not board.none_loading()
    board.set(1, IDLE)  # the master clears a dead worker's slot
    assert board.none_loading() and board.state(1) == IDLE


def _mark(board: WorkerBoard, slot: int) -> None:
    board.set(slot, READY)


def test_board_is_shared_with_forked_workers():
    board = WorkerBoard(2)
    child = multiprocessing.get_context("fork").Process(target=_mark, args=(board, 1))
    child.start()
    child.join(10)
    assert child.exitcode == 0 and board.state(1) == READY


def test_ping_is_503_while_another_worker_takes_connections_it_cannot_serve():
    peers = {"ready": False}
    app = create_app(
        make_settings(handler="fake", log_level="WARNING"), load_in_background=False, peers_ready=lambda: peers["ready"]
    )
    client = app.test_client()
    reply = client.get("/ping")
    assert reply.status_code == 503
    error = reply.get_json()["error"]
    assert error == {"type": "model_not_ready", "message": "other workers are still loading the model"}
    assert client.post("/invocations", json={"input": ["this worker serves"]}).status_code == 200
    peers["ready"] = True
    assert client.get("/ping").status_code == 200
