"""OpenAI's official python client against a live server (``python -m inference serve``: gunicorn, real HTTP,
the embedded all-MiniLM-L6-v2): every field it sends is accepted and used, and a misspelt field comes back as
its ``BadRequestError`` naming the field. A TEI body over the same live HTTP gets TEI's answer."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import openai
import pytest
import requests
from sentence_transformers import SentenceTransformer

from tests.conftest import free_port

TEXTS = ["hello world", "Bonjour le monde", "a somewhat longer sentence about search"]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMB_", "SAGEMAKER_", "MODEL_DIR", "AZUREML"))}
    env.update({"EMB_DEVICE": "cpu", "EMB_WORKERS": "1"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "inference", "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"server exited with {proc.returncode}"
            try:
                if requests.get(f"{url}/ping", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.2)  # polling interval while the model loads
        else:
            raise TimeoutError("server did not become ready")
        yield url
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(api_key="unused", base_url=f"{server}/v1", max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def reference(minilm_dir):
    return SentenceTransformer(str(minilm_dir), device="cpu").encode(TEXTS, normalize_embeddings=True)


def as_array(response):
    return np.array([item.embedding for item in sorted(response.data, key=lambda item: item.index)])


def test_the_clients_default_request_matches_sentence_transformers(client, reference):
    """The client asks for base64 unless told otherwise, and decodes it itself."""
    response = client.embeddings.create(input=TEXTS, model="all-MiniLM-L6-v2")
    ours = as_array(response)
    assert ours.shape == (3, 384) and response.model == "all-MiniLM-L6-v2"
    assert (ours * reference).sum(1).min() >= 1 - 1e-5
    assert response.usage.prompt_tokens == response.usage.total_tokens > len(TEXTS)


def test_every_option_the_client_sends_is_used(client, reference):
    response = client.embeddings.create(
        input=TEXTS[0], model="all-MiniLM-L6-v2", encoding_format="float", dimensions=64, user="user-1"
    )
    ours = as_array(response)
    assert ours.shape == (1, 64)
    want = reference[:1, :64] / np.linalg.norm(reference[:1, :64])
    np.testing.assert_allclose(ours, want, atol=1e-5)


def test_a_misspelt_field_is_a_bad_request_naming_it(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(input="x", model="m", extra_body={"dimension": 64})
    assert info.value.status_code == 400
    error = info.value.body
    assert "unknown field 'dimension'; did you mean 'dimensions'?" in error["message"], error


def test_a_tei_body_over_live_http_gets_tei_shape(server, reference):
    response = requests.post(f"{server}/embed", json={"inputs": TEXTS}, timeout=60)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    ours = np.array(response.json())
    assert ours.shape == (3, 384) and (ours * reference).sum(1).min() >= 1 - 1e-5
    sagemaker = requests.post(f"{server}/invocations", json={"inputs": TEXTS[0]}, timeout=60)
    assert np.array(sagemaker.json()).shape == (1, 384)
