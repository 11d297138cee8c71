"""Worker count and torch threads per worker, from GPUs, cores, memory and the model's size."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.runtime.worker_plan import (
    WORKER_OVERHEAD_BYTES,
    available_memory_bytes,
    per_worker_bytes,
    plan_workers,
    usable_cores,
    weight_bytes,
)
from inference.settings import Settings

GIB = 1024**3


def test_gpu_host_gets_one_worker_per_gpu_and_leaves_torch_threads_alone():
    plan = plan_workers(gpus=4, cores=48, memory=180 * GIB, weights=2 * GIB)
    assert (plan.workers, plan.torch_threads) == (4, None)


def test_cpu_host_gets_one_single_threaded_worker_per_core_when_memory_allows():
    plan = plan_workers(gpus=0, cores=8, memory=32 * GIB, weights=90 * 1024**2)
    assert (plan.workers, plan.torch_threads) == (8, 1)
    assert plan.reason == "one worker per core"


def test_memory_caps_cpu_workers_and_the_cores_are_shared_out_as_torch_threads():
    # A 2.2 GB model (fp32 XLM-R large) needs ~4.9 GiB per worker: 16 GiB x 0.8 allows 2 copies.
    weights = int(2.2e9)
    plan = plan_workers(gpus=0, cores=16, memory=16 * GIB, weights=weights)
    assert plan.workers == int(16 * GIB * 0.8) // per_worker_bytes(weights) == 2
    assert plan.torch_threads == 8
    assert "memory allows 2" in plan.reason


def test_too_little_memory_still_starts_one_worker_with_all_cores():
    plan = plan_workers(gpus=0, cores=4, memory=GIB, weights=4 * GIB)
    assert (plan.workers, plan.torch_threads) == (1, 4)


def test_unknown_memory_does_not_cap():
    assert plan_workers(gpus=0, cores=6, memory=None, weights=GIB).workers == 6


@pytest.mark.parametrize(
    ("workers", "threads", "expected"),
    [(1, None, (1, 8)), (3, None, (3, 2)), (2, 3, (2, 3)), (None, 2, (8, 2)), (16, None, (16, 1))],
)
def test_explicit_settings_win(workers, threads, expected):
    plan = plan_workers(gpus=0, cores=8, memory=64 * GIB, weights=0, workers=workers, torch_threads=threads)
    assert (plan.workers, plan.torch_threads) == expected


def test_explicit_workers_on_a_gpu_host():
    plan = plan_workers(gpus=2, cores=16, memory=None, weights=0, workers=1)
    assert (plan.workers, plan.reason) == (1, "EMB_WORKERS")


def test_weight_bytes_counts_weight_files_only(tmp_path: Path):
    (tmp_path / "0_Transformer").mkdir()
    (tmp_path / "0_Transformer" / "model.safetensors").write_bytes(b"x" * 1000)
    (tmp_path / "pytorch_model.bin").write_bytes(b"x" * 24)
    (tmp_path / "tokenizer.json").write_bytes(b"x" * 5000)
    assert weight_bytes(tmp_path) == 1024
    assert weight_bytes(tmp_path / "missing") == 0
    assert weight_bytes(None) == 0
    assert per_worker_bytes(1024) == 2048 + WORKER_OVERHEAD_BYTES


def test_host_probes_read_this_machine():
    import os

    assert 1 <= usable_cores() <= len(os.sched_getaffinity(0))
    memory = available_memory_bytes()
    assert memory is None or 0 < memory


def test_server_applies_the_plan_to_each_cpu_worker(monkeypatch, minilm_dir):
    """The master's plan reaches the worker's settings (torch threads) and gunicorn's worker count."""
    from inference.runtime import server as server_module

    monkeypatch.setattr(server_module, "usable_cores", lambda: 3)
    monkeypatch.setattr(server_module, "available_memory_bytes", lambda: 64 * GIB)
    app = server_module.EmbeddingServer(Settings(model_dir=minilm_dir, device="cpu"))
    assert (app.worker_count(), app.plan.torch_threads) == (3, 1)
    assert app.cfg.workers == 3

    pinned = server_module.EmbeddingServer(Settings(model_dir=minilm_dir, device="cpu", workers=1))
    assert (pinned.worker_count(), pinned.plan.torch_threads) == (1, 3)
