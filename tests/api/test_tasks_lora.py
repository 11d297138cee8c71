"""Task LoRA adapters through the HTTP API (tests/tiny_lora.py): the adapters are the model's tasks on /info,
chosen per request by ``task`` (Jina) or ``prompt_name`` (TEI); concurrent requests of different tasks, which
share micro-batches, each get the vectors that the same request gets alone; an unknown task is a 400."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from inference.api.app import ENGINE, create_app
from tests.conftest import make_settings
from tests.tiny_lora import LORA_TASKS, build_tiny_lora_qwen3

TEXTS = ["hello world", "a much longer sentence about search engines, their vectors and ranks", "x"]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = build_tiny_lora_qwen3(tmp_path_factory.mktemp("lora-api"))
    # The batcher waits a little for more work, so concurrent requests of different tasks meet in one batch.
    settings = make_settings(handler="auto", model_dir=folder, device="cpu", log_level="WARNING", batch_wait_ms=50)
    return create_app(settings, load_in_background=False).test_client()


def embed(client, task, texts=TEXTS):
    body = {"input": texts, **({"task": task} if task else {})}
    response = client.post("/v1/embeddings", json=body)
    assert response.status_code == 200, response.get_json()
    return np.array([d["embedding"] for d in response.get_json()["data"]], dtype=np.float32)


def test_the_adapters_are_the_models_tasks(client):
    info = client.get("/info").get_json()
    assert set(LORA_TASKS) <= set(info["tasks"]), info


def test_concurrent_requests_of_different_tasks_get_their_own_vectors(client):
    tasks = [*LORA_TASKS, None]
    single = {task: embed(client, task) for task in tasks}
    assert all(not np.allclose(single[task], single[None], atol=1e-3) for task in LORA_TASKS)
    handler = client.application.extensions[ENGINE].handler
    forward, batches = handler.forward, []

    def spy(batch, task):
        batches.append({getattr(ids, "task", task) for ids in batch})
        return forward(batch, task)

    jobs = [tasks[i % len(tasks)] for i in range(40)]
    handler.forward = spy
    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda task: embed(client, task), jobs))
    finally:
        del handler.forward
    assert max(len(tasks) for tasks in batches) > 1  # requests of different tasks shared forward passes
    for task, answer in zip(jobs, answers, strict=True):
        np.testing.assert_allclose(answer, single[task], atol=1e-5)


def test_prompt_name_chooses_the_adapter_too(client):
    tei = client.post("/embed", json={"inputs": TEXTS, "prompt_name": "clustering", "normalize": True})
    assert tei.status_code == 200, tei.get_json()
    np.testing.assert_allclose(np.array(tei.get_json(), dtype=np.float32), embed(client, "clustering"), atol=1e-5)


def test_an_unknown_task_is_refused(client):
    response = client.post("/v1/embeddings", json={"input": "x", "task": "retrieval.query"})
    assert response.status_code == 400 and "clustering" in response.get_json()["error"]["message"]
