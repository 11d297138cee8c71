"""Vertex AI start-up with ``AIP_STORAGE_URI``: a real server (gunicorn, ``python -m inference serve``) whose model
is in a fake Cloud Storage (tests/fake_gcs.py) that holds the weights' download until the test releases it.

The server must answer its health route (503, JSON, Retry-After, the bytes copied so far) while the copy runs,
then serve the copied model: a tiny random BERT whose vectors differ from the embedded all-MiniLM-L6-v2 (32
dimensions, not 384), compared with transformers' own forward pass over the same folder (mean pooling, as its
sentence-transformers config says). A failed copy keeps the health
route 503 with the generic message, the reason in the log.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from tests.fake_gcs import FakeGcs, fake_gcs, objects_from
from tests.reliability.harness import Reply, Server, clean_env, poll, post_json, request
from tests.tiny_models import build_tiny_st_bert

TEXTS = ["hello world", "bonjour le monde", "hola mundo", "the world"]
WEIGHTS = "models/tiny/model.safetensors"
URI = "gs://bucket/models/tiny"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_st_bert(tmp_path_factory.mktemp("gcs") / "tiny", pooling="mean")


def reference_vectors(folder: Path, texts: list[str]) -> np.ndarray:
    """The folder's sentence vectors by transformers alone: mean of the token states, L2-normalised."""
    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=16, return_tensors="pt")
    with torch.no_grad():
        states = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    mean = (states * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(mean, dim=-1).numpy()


def vertex_env(state: FakeGcs, tmp_path: Path) -> dict[str, str]:
    """A Vertex AI container's variables; the copy lands under ``tmp_path`` (TMPDIR); workers as planned (CPU)."""
    env = clean_env(AIP_STORAGE_URI=URI, STORAGE_EMULATOR_HOST=state.url, AIP_HEALTH_ROUTE="/health",
                    AIP_PREDICT_ROUTE="/predict", TMPDIR=str(tmp_path), EMB_STORAGE_PROGRESS_S="0.1")  # fmt: skip
    del env["EMB_WORKERS"]  # the plan waits for the copied weights: one worker first, then as many as fit
    return env


def health(server: Server) -> Reply | None:
    if not server.alive():
        raise RuntimeError(f"server exited:\n{server.log_text()[-3000:]}")
    try:
        return request(server.port, "GET", "/health", timeout=2)
    except OSError:
        return None  # not bound yet


def message(reply: Reply) -> str:
    return str(json.loads(reply.body)["error"]["message"])


def copy_progress(server: Server) -> int | None:
    """The bytes copied so far, as the health route's 503 says (None before any were)."""
    reply = health(server)
    text = message(reply) if reply is not None and reply.status == 503 else ""
    copied = int(text.split("(")[1].split(" of ")[0]) if f"{URI} (" in text and " of " in text else 0
    return copied or None


def test_the_server_answers_503_while_the_model_is_copied_then_serves_the_copy(tiny_model, tmp_path) -> None:
    state = FakeGcs(objects_from(tiny_model, "models/tiny/"), held=frozenset({WEIGHTS}))
    total = sum(len(body) for body in state.objects.values())
    with fake_gcs(state), Server(vertex_env(state, tmp_path)) as server:
        started = time.monotonic()
        first = poll(lambda: health(server), 30, "a health answer")
        answered_after_s = time.monotonic() - started  # ~1 s on the 2-core development machine (no copy: 0.8-1 s)
        assert isinstance(first, Reply) and first.status == 503 and answered_after_s < 5
        assert first.headers["retry-after"] and first.headers["content-type"].startswith("application/json")
        assert message(first).startswith(f"model is being copied from {URI} (")
        # The weights are half sent and held: the copy stays in progress, and the health route says how far it got.
        assert state.holding.wait(30)
        copied = poll(lambda: copy_progress(server), 30, "the copy's progress on the health route")
        assert isinstance(copied, int) and 0 < copied < total and f"of {total} bytes" in message(health(server))
        assert poll(lambda: any("copying" in r.get("msg", "") for r in server.log_records()), 30, "a progress line")
        assert post_json(server.port, {"instances": TEXTS}, "/predict").status == 503  # no model yet, no MiniLM
        assert len(server.workers()) == 2  # the copy process and one worker: the plan waits for the weights

        state.release.set()
        poll(lambda: (reply := health(server)) is not None and reply.status == 200, 120, "health 200")
        reply = post_json(server.port, {"instances": TEXTS}, "/predict")
        assert reply.status == 200, reply.body[:500]
        served = np.array(json.loads(reply.body)["predictions"], dtype=np.float32)
        assert served.shape == (len(TEXTS), 32)  # the copied model, not the embedded all-MiniLM-L6-v2 (384)
        assert (served * reference_vectors(tiny_model, TEXTS)).sum(1).min() >= 0.9999
        assert poll(lambda: len(server.workers()) == 2, 60, "the re-planned second worker")  # 2 cores: 2 workers


def test_a_copy_that_fails_keeps_health_503_and_logs_why(tiny_model, tmp_path) -> None:
    state = FakeGcs(objects_from(tiny_model, "models/tiny/"), refused={WEIGHTS: 403})
    with fake_gcs(state), Server(vertex_env(state, tmp_path)) as server:

        def failed() -> Reply | None:
            reply = health(server)
            return reply if reply is not None and "failed" in message(reply) else None

        reply = poll(failed, 60, "the failed copy on the health route")
        assert isinstance(reply, Reply) and reply.status == 503 and reply.headers["retry-after"]
        assert message(reply) == "model failed to load; the server log says why"  # nothing of the bucket or why
        errors = [r["msg"] for r in server.log_records() if r.get("level") == "ERROR"]
        assert any(URI in line and "403" in line and "could not be copied" in line for line in errors), errors
        assert server.alive() and health(server).status == 503  # up, unready: Vertex's start-up probe decides
