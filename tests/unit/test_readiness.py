"""The shared readiness board of a server's workers (the front's probe answer: tests/reliability/test_front.py)."""

from __future__ import annotations

import multiprocessing

from inference.runtime.readiness import IDLE, LOADING, READY, ServerReadiness, WorkerBoard


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


def test_only_a_ready_worker_defers_to_loading_peers():
    class Model:
        ready, load_error = False, None

        def wait_ready(self, timeout=None):
            return self.ready

    board = WorkerBoard(3)
    readiness, model = ServerReadiness(board), Model()
    readiness.joined(0)
    readiness.hold(model, alive=lambda: True, heartbeat=lambda: None)
    board.set(1, LOADING)
    assert not readiness.blocked_by_peers()  # still loading itself: its own /ping says so
    model.ready = True
    assert readiness.blocked_by_peers()
    board.set(1, READY)
    assert not readiness.blocked_by_peers()
