"""The shared readiness board of a server's workers, and the health probes' use of it (runtime guard)."""

from __future__ import annotations

import multiprocessing

from werkzeug.test import Client

from inference.api.app import create_app
from inference.api.route_table import probe_paths, readiness_paths
from inference.runtime.guard import Probes, guard
from inference.runtime.readiness import IDLE, LOADING, READY, ServerReadiness, WorkerBoard
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


def _guarded(peers: dict[str, bool]) -> Client:
    settings = make_settings(handler="fake", log_level="WARNING")
    app = create_app(settings, load_in_background=False)
    probes = Probes(probe_paths(settings), readiness_paths(settings))
    return Client(guard(app, probes, lambda: not peers["ready"], settings.max_body_bytes))


def test_ping_is_503_while_another_worker_takes_connections_it_cannot_serve():
    peers = {"ready": False}
    client = _guarded(peers)
    reply = client.get("/ping")
    assert reply.status_code == 503 and reply.headers["Retry-After"]
    error = reply.get_json()["error"]
    assert error == {"type": "model_not_ready", "message": "other workers are still loading the model"}
    assert client.get("/health/ready").status_code == 503
    assert client.get("/health/live").status_code == 200  # liveness does not wait for the peers
    assert client.post("/invocations", json={"input": ["this worker serves"]}).status_code == 200
    peers["ready"] = True
    assert client.get("/ping").status_code == 200


def test_a_worker_reports_its_own_state_peers_only_the_others():
    board = WorkerBoard(3)
    readiness = ServerReadiness(board)
    readiness.joined(0)
    assert readiness.peers_ready()
    board.set(0, LOADING)  # this worker loading: its own /ping says why (model loading or failed)
    assert readiness.peers_ready()
    board.set(2, LOADING)
    assert not readiness.peers_ready()
    readiness.worker_exited(2)
    assert readiness.peers_ready()
