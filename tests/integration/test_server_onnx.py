"""The real server (gunicorn, default settings) on a model with an ONNX package: its CPU workers serve it on ONNX
Runtime and never load torch, with sentence-transformers' vectors (docs/performance/cpu.md#cpu-backends)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests
from sentence_transformers import SentenceTransformer

from tests.integration.test_server import clean_env, running_server

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["hello world", "Bonjour le monde", "Ein Satz.", "short", "a somewhat longer sentence about search " * 40]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


@pytest.fixture(scope="module")
def onnx_server(tmp_path_factory):
    env = clean_env(EMB_ONNX_CACHE_DIR=str(tmp_path_factory.mktemp("onnx-cache")), CUDA_VISIBLE_DEVICES="")
    export = subprocess.run([sys.executable, "-m", "inference", "export-onnx", "--into", "cache"], env=env,
                            capture_output=True, text=True, timeout=300, cwd=ROOT)  # fmt: skip
    assert export.returncode == 0 and "exported" in export.stdout, export.stderr
    with running_server(env, "--workers", "2") as running:
        yield running


def test_workers_serve_the_package_without_torch(onnx_server, minilm_dir):
    url, proc = onnx_server
    assert requests.get(f"{url}/info", timeout=10).json()["backend"] == "onnx"
    response = requests.post(f"{url}/v1/embeddings", json={"input": TEXTS}, timeout=60)
    assert response.status_code == 200, response.text
    ours = np.array([row["embedding"] for row in response.json()["data"]], dtype=np.float32)
    reference = SentenceTransformer(str(minilm_dir), device="cpu").encode(TEXTS, normalize_embeddings=True)
    np.testing.assert_allclose(ours, reference, atol=1e-5, rtol=0)
    workers = _children(proc.pid)
    assert len(workers) == 2
    for pid in [proc.pid, *workers]:
        maps = Path(f"/proc/{pid}/maps").read_text()
        assert "libonnxruntime" in maps or pid == proc.pid
        assert "libtorch" not in maps, f"process {pid} loaded torch"
