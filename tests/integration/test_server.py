"""A real server process (gunicorn via `python -m inference`) on a free port, real HTTP, real model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
import pytest
import requests
from sentence_transformers import SentenceTransformer

from tests.conftest import free_port

TEXTS = ["hello world", "Bonjour le monde", "Ein Satz.", "short", "a somewhat longer sentence about search " * 5]


def wait_until_ready(url: str, proc: subprocess.Popen, deadline_s: float = 120) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stdout.read()}")
        try:
            if requests.get(f"{url}/ping", timeout=1).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or a worker still loading
            pass
        time.sleep(0.2)  # polling interval, not synchronisation: the loop checks readiness
    raise TimeoutError("server did not become ready")


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without serving settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMB_", "SAGEMAKER_", "MODEL_DIR", "AZUREML"))}
    return {**env, **settings}


@contextmanager
def running_server(env: dict[str, str], *args: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """``python -m inference serve`` on a free local port until the block ends: (its URL, the process)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "inference", "serve", "--host", "127.0.0.1", "--port", str(port), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, proc)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def server():
    with running_server(clean_env(EMB_THREADS="16", EMB_DEVICE="cpu")) as running:
        yield running


@pytest.fixture(scope="module")
def reference(minilm_dir):
    return SentenceTransformer(str(minilm_dir), device="cpu").encode(TEXTS, normalize_embeddings=True)


def embed(url, **body):
    response = requests.post(f"{url}/invocations", json=body, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def test_real_http_matches_sentence_transformers(server, reference):
    url, _ = server
    body = embed(url, input=TEXTS)
    ours = np.array([d["embedding"] for d in body["data"]])
    assert (ours * reference).sum(1).min() >= 0.9999
    assert body["model"] == "all-MiniLM-L6-v2" and body["usage"]["prompt_tokens"] > len(TEXTS) * 2


def test_concurrent_requests_each_get_their_own_vectors_in_order(server, reference):
    url, _ = server
    jobs = [[TEXTS[(i + k) % len(TEXTS)] for k in range(1 + i % 4)] for i in range(24)]
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda texts: embed(url, input=texts), jobs))
    for texts, body in zip(jobs, results, strict=False):
        got = np.array([d["embedding"] for d in body["data"]])
        want = reference[[TEXTS.index(t) for t in texts]]
        assert (got * want).sum(1).min() >= 0.9999


def test_oversized_body_is_413_and_server_keeps_serving(server):
    url, _ = server
    big = json.dumps({"input": ["x" * 1000] * 7000})  # ~7 MiB > 6 MiB
    response = requests.post(f"{url}/invocations", data=big, headers={"Content-Type": "application/json"}, timeout=60)
    assert response.status_code == 413 and response.json()["error"]["type"] == "payload_too_large"
    assert requests.get(f"{url}/ping", timeout=5).status_code == 200


@pytest.mark.parametrize("task", ["retrieval.query", "text-matching"])
def test_jina_task_names_are_accepted_and_ignored_by_a_model_without_tasks(server, reference, task):
    url, _ = server
    with_task = np.array([d["embedding"] for d in embed(url, input=TEXTS, task=task)["data"]])
    without_task = np.array([d["embedding"] for d in embed(url, input=TEXTS)["data"]])
    assert (with_task * without_task).sum(1).min() >= 0.9999  # ignored: the same vectors as without a task
    assert (with_task * reference).sum(1).min() >= 0.9999


def test_sigterm_stops_the_server_and_requests_were_logged_as_json(server):
    url, proc = server
    requests.post(f"{url}/invocations", json={"input": "logged"}, timeout=30)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=30)
    assert time.monotonic() - started < 30
    assert proc.returncode == 0
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("logger") == "inference.access"]
    assert any(a["path"] == "/invocations" and a["status"] == 200 and a["inputs"] == 1 and a["tokens"] for a in access)
    assert not any(a["path"] == "/ping" for a in access)
