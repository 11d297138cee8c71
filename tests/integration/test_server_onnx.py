"""The real server (gunicorn, default settings) on a model with an ONNX package: its CPU workers serve it on ONNX
Runtime and never load torch, with sentence-transformers' vectors (docs/performance/cpu.md#cpu-backends)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests
from sentence_transformers import SentenceTransformer

from tests.conftest import free_port
from tests.integration.test_server import wait_until_ready

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["hello world", "Bonjour le monde", "Ein Satz.", "short", "a somewhat longer sentence about search " * 40]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


@pytest.fixture(scope="module")
def onnx_server(tmp_path_factory):
    cache = tmp_path_factory.mktemp("onnx-cache")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMB_", "SAGEMAKER_", "MODEL_DIR", "AZUREML"))}
    env.update({"EMB_ONNX_CACHE_DIR": str(cache), "CUDA_VISIBLE_DEVICES": ""})
    export = subprocess.run([sys.executable, "-m", "inference", "export-onnx", "--into", "cache"], env=env,
                            capture_output=True, text=True, timeout=300, cwd=ROOT)  # fmt: skip
    assert export.returncode == 0 and "exported" in export.stdout, export.stderr
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "inference", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=ROOT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, proc)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


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
