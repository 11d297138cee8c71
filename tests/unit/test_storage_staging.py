"""The copy of AIP_STORAGE_URI while the server answers (inference/runtime/staging.py), piece by piece: the plan
before the weights are there, what a waiting worker says and gets once the master gives its verdict, and a copy
process that dies. The whole server is in tests/integration/test_vertex_storage_startup.py."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from inference.runtime import server as server_module
from inference.runtime import staging
from inference.runtime.staging import OPEN, PENDING, SHUT, StorageStaging, pending_plan
from inference.settings import Settings
from inference.storage_copy import COPYING, DONE, FAILED, CopyStatus, StorageCopyError
from tests.conftest import make_settings
from tests.fake_gcs import FakeGcs, fake_gcs
from tests.reliability.harness import poll

URI = "gs://bucket/models/m"


def staged(tmp_path: Path) -> StorageStaging:
    """A staging whose status file the test writes (no copy process)."""
    staging_ = StorageStaging(URI, tmp_path / "model", progress_s=10, log_level="INFO")
    staging_.status_path = tmp_path / "status.json"
    return staging_


def test_until_the_weights_are_copied_a_cpu_server_plans_one_worker(monkeypatch):
    monkeypatch.setattr(staging, "usable_cores", lambda: 4)
    assert (pending_plan(0, None, None).workers, pending_plan(0, None, None).torch_threads) == (1, 4)
    assert "AIP_STORAGE_URI" in pending_plan(0, None, None).reason
    assert pending_plan(0, 3, None).workers == 3  # EMB_WORKERS needs no model size
    assert pending_plan(2, None, None).workers == 2  # nor one worker per GPU
    server = server_module.EmbeddingServer(Settings(storage_uri=URI, device="cpu"))  # no copy, no network here
    assert server.plan.workers == 1 and server.cfg.workers == 1
    with pytest.raises(ValueError, match="not a gs://bucket/prefix"):
        server_module.EmbeddingServer(Settings(storage_uri="s3://bucket/m", device="cpu"))


def test_a_waiting_worker_reports_the_copy_then_loads_the_copied_folder(tmp_path):
    stage = staged(tmp_path)
    assert stage.progress() == f"model is being copied from {URI} (listing the objects)"
    CopyStatus(URI, COPYING, files=1, files_total=3, bytes=10, bytes_total=200).write(stage.status_path)
    assert stage.progress() == f"model is being copied from {URI} (10 of 200 bytes, 1 of 3 files)"
    loaded: list[Settings] = []
    load = stage.loader(lambda settings: loaded.append(settings) or "handler")  # type: ignore[func-returns-value]
    CopyStatus(URI, DONE, 3, 3, 200, 200, model_dir=str(tmp_path / "model" / "m")).write(stage.status_path)
    stage.gate.open(torch_threads=2)
    assert stage.gate.state == OPEN and stage.progress() is None  # "model is loading" from here on
    assert load(make_settings(storage_uri=URI, model_dir=None, torch_threads=None)) == "handler"
    assert (loaded[0].model_dir, loaded[0].torch_threads) == (tmp_path / "model" / "m", 2)


def test_a_shut_gate_fails_the_load_with_the_copys_reason(tmp_path):
    stage = staged(tmp_path)
    CopyStatus(URI, FAILED, error="Forbidden: 403 the caller may not read m/model.safetensors").write(stage.status_path)
    assert stage.progress() is None  # the reason is never what callers read
    stage.gate.shut()
    assert stage.gate.state == SHUT
    with pytest.raises(StorageCopyError, match=f"AIP_STORAGE_URI={URI}: Forbidden: 403 the caller may not read"):
        stage.loader(lambda settings: None)(make_settings())  # type: ignore[arg-type, return-value]


def test_a_copy_process_that_dies_is_a_failed_copy(tmp_path, monkeypatch):
    state = FakeGcs({"models/m/config.json": b"{}", "models/m/w.safetensors": b"x" * 10_000},
                    held=frozenset({"models/m/w.safetensors"}))  # fmt: skip
    with fake_gcs(state):
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", state.url)
        stage = StorageStaging(URI, tmp_path / "model", progress_s=10, log_level="INFO")
        stage.start(tmp_path)
        assert state.holding.wait(30)  # copying, held
        assert stage.poll() is None and stage.gate.state == PENDING
        stage._process.send_signal(signal.SIGKILL)  # type: ignore[union-attr]  # as the OOM killer would
        verdict = poll(stage.poll, 30, "the copy's verdict")
        assert isinstance(verdict, CopyStatus) and verdict.state == FAILED and verdict.model_dir is None
        assert "ended before it finished" in str(verdict.error)
        assert stage.poll() is None  # the verdict is given once
