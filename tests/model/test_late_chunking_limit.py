"""Late chunking past the token limit ("long late chunking", inference/endpoints/embeddings/late_chunking.py).

Inputs that together pass the limit are packed, in order, into windows of whole inputs that each fit it; each
window is one forward pass, and each input gets the mean of its token vectors from its window's pass. An input
longer than the limit alone is cut with ``truncate`` and a 400 naming it without. all-MiniLM-L6-v2 with a
16-token limit keeps it quick.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from inference.api.app import create_app
from tests.conftest import make_settings

LIMIT = 16
FIRST, SECOND, THIRD = "Berlin is the capital of Germany.", "It has 3.8 million inhabitants.", "The city is a state."


@pytest.fixture(scope="module")
def client():
    root = logging.getLogger()
    handlers = root.handlers[:]
    settings = make_settings(device="cpu", max_length=LIMIT, log_level="WARNING")
    app = create_app(settings, load_in_background=False)
    root.handlers[:] = handlers
    return app.test_client()


def hand_reference(folder, windows: list[list[str]]) -> tuple[np.ndarray, int]:
    """Each window as [CLS] + its texts + [SEP] (a lone text cut to fit), one forward pass per window, the mean
    over each text's tokens; normalised vectors in order and the tokens encoded."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    out, total = [], 0
    for texts in windows:
        pieces = [tokenizer(t, add_special_tokens=False)["input_ids"][: LIMIT - 2] for t in texts]
        ids = [tokenizer.cls_token_id] + [t for p in pieces for t in p] + [tokenizer.sep_token_id]
        assert len(ids) <= LIMIT
        with torch.no_grad():
            tokens = model(input_ids=torch.tensor([ids])).last_hidden_state[0].numpy()
        start = 1
        for piece in pieces:
            out.append(tokens[start : start + len(piece)].mean(0))
            start += len(piece)
        total += len(ids)
    vectors = np.stack(out)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), total


def late_chunk(client, texts: list[str], truncate: bool = True):
    response = client.post("/v1/embeddings", json={"input": texts, "late_chunking": True, "truncate": truncate})
    return response.status_code, response.get_json()


def vectors(body) -> np.ndarray:
    return np.array([item["embedding"] for item in body["data"]], dtype=np.float32)


@pytest.mark.parametrize("truncate", [True, False])
def test_inputs_past_the_limit_are_encoded_in_windows_of_whole_inputs(client, minilm_dir, truncate):
    # [CLS] + 7 + 8 + 6 + [SEP] > 16: FIRST fills one window, SECOND and THIRD (8 + 6 + 2 = 16) share the next
    expected, n_tokens = hand_reference(minilm_dir, [[FIRST], [SECOND, THIRD]])
    status, body = late_chunk(client, [FIRST, SECOND, THIRD], truncate)
    assert status == 200, body
    np.testing.assert_allclose(vectors(body), expected, atol=1e-5)
    assert body["usage"]["prompt_tokens"] == n_tokens


def test_inputs_within_the_limit_share_one_pass(client, minilm_dir):
    expected, n_tokens = hand_reference(minilm_dir, [[SECOND, THIRD]])
    status, body = late_chunk(client, [SECOND, THIRD])
    assert status == 200, body
    np.testing.assert_allclose(vectors(body), expected, atol=1e-5)
    alone, _ = hand_reference(minilm_dir, [[SECOND], [THIRD]])
    assert not np.allclose(vectors(body), alone, atol=1e-3)  # each input saw the other's context


def test_an_input_longer_than_the_limit_alone_is_cut_or_refused(client, minilm_dir):
    long = "the city is a state and " * 4
    expected, _ = hand_reference(minilm_dir, [[long], [FIRST]])
    status, body = late_chunk(client, [long, FIRST])
    assert status == 200, body
    np.testing.assert_allclose(vectors(body), expected, atol=1e-5)
    status, body = late_chunk(client, [FIRST, long], truncate=False)
    assert status == 400
    error = body["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "input[1]"
    assert "input[1]" in error["message"] and f"maximum of {LIMIT}" in error["message"]
