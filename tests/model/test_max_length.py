"""``EMB_MAX_LENGTH`` (inference/settings.py) lowers the embedded model's token limit, never raises it.

Through the environment variable, the app and HTTP, on all-MiniLM-L6-v2 (its own limit: 256 tokens):
a long text is cut like sentence-transformers with ``max_seq_length`` set, ``truncate=false`` past the limit
is a 400, and a value above the model's limit leaves 256.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from inference.api.app import create_app
from inference.settings import Settings

SERVING_ENV = ("EMB_", "SAGEMAKER_", "MODEL_DIR", "AZUREML", "LOG_LEVEL")
LONG = "Embeddings map a sentence to a vector so that similar sentences end up close together. " * 30
SHORT = "hello world"  # 4 tokens with [CLS] and [SEP]


def client_with_env(**env: str):
    """The app built from ``Settings()`` as the server builds it, with only ``env`` set of its variables."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith(SERVING_ENV)]:
            patch.delenv(name)
        for name, value in {"EMB_DEVICE": "cpu", "EMB_LOG_LEVEL": "WARNING", **env}.items():
            patch.setenv(name, value)
        settings = Settings()
    root = logging.getLogger()
    handlers = root.handlers[:]
    app = create_app(settings, load_in_background=False)
    root.handlers[:] = handlers
    return app.test_client()


@pytest.fixture(scope="module")
def client16():
    return client_with_env(EMB_MAX_LENGTH="16")


@pytest.fixture(scope="module")
def client_huge():
    return client_with_env(EMB_MAX_LENGTH="100000")


def st_encode(minilm_dir, texts: list[str], max_seq_length: int | None = None) -> np.ndarray:
    model = SentenceTransformer(str(minilm_dir), device="cpu")
    if max_seq_length is not None:
        model.max_seq_length = max_seq_length
    return model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)


def embed(client, texts: list[str], **options: object):
    response = client.post("/v1/embeddings", json={"input": texts, **options})
    return response.status_code, response.get_json()


def vectors(body) -> np.ndarray:
    return np.array([item["embedding"] for item in body["data"]], dtype=np.float32)


def test_env_override_cuts_texts_to_16_tokens_like_sentence_transformers(client16, minilm_dir):
    status, one = embed(client16, [LONG])
    assert status == 200 and one["usage"]["prompt_tokens"] == 16
    status, body = embed(client16, [LONG, SHORT])
    assert status == 200 and body["usage"]["prompt_tokens"] == 16 + 4

    ours = vectors(body)
    cut = st_encode(minilm_dir, [LONG, SHORT], max_seq_length=16)
    assert (ours * cut).sum(axis=1).min() >= 0.9999
    uncut = st_encode(minilm_dir, [LONG])
    assert float(ours[0] @ uncut[0]) < 0.99, "the cut changes the vector (else this test shows nothing)"


def test_truncate_false_past_the_override_is_400(client16):
    status, body = embed(client16, [SHORT, LONG], truncate=False)
    assert status == 400
    error = body["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "input[1]"
    assert "maximum of 16" in error["message"]
    exactly = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"  # 14 + 2 tokens
    status, body = embed(client16, [exactly], truncate=False)
    assert status == 200 and body["usage"]["prompt_tokens"] == 16


def test_override_above_the_models_limit_keeps_256(client_huge, minilm_dir):
    status, body = embed(client_huge, [LONG])
    assert status == 200 and body["usage"]["prompt_tokens"] == 256
    assert float(vectors(body)[0] @ st_encode(minilm_dir, [LONG])[0]) >= 0.9999
    status, body = embed(client_huge, [LONG], truncate=False)
    assert status == 400 and "maximum of 256" in body["error"]["message"]
