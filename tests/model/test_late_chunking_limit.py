"""Late chunking with ``truncate=true`` past the token limit (inference/service.py ``_late_chunk``).

The concatenation is cut to the limit (keeping ``[SEP]``); each input within the cut sequence gets the mean
of its token vectors from one forward pass of that cut sequence (a partly cut input: of its kept tokens),
and an input that falls entirely beyond the limit is a 400 naming its index. all-MiniLM-L6-v2 with a
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


def hand_reference(folder, texts: list[str]) -> tuple[np.ndarray, int]:
    """Cut [CLS] + texts + [SEP] to LIMIT tokens (keeping [SEP]), one forward pass, mean over each text's
    kept tokens; normalised vectors and the cut length."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    pieces = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    ids = [tokenizer.cls_token_id] + [t for p in pieces for t in p]
    assert len(ids) + 1 > LIMIT, "the inputs must go past the limit"
    ids = ids[: LIMIT - 1] + [tokenizer.sep_token_id]
    with torch.no_grad():
        tokens = model(input_ids=torch.tensor([ids])).last_hidden_state[0].numpy()
    out, start, end = [], 1, LIMIT - 1
    for piece in pieces:
        assert start < end, "every text keeps a token"
        out.append(tokens[start : min(start + len(piece), end)].mean(0))
        start += len(piece)
    vectors = np.stack(out)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), len(ids)


def late_chunk(client, texts: list[str]):
    response = client.post("/v1/embeddings", json={"input": texts, "late_chunking": True, "truncate": True})
    return response.status_code, response.get_json()


def test_inputs_within_the_cut_match_the_hand_computed_reference(client, minilm_dir):
    texts = [FIRST, SECOND]  # [CLS] + 7 + 8 + [SEP] = 17 tokens: SECOND loses its last token
    expected, n_tokens = hand_reference(minilm_dir, texts)
    status, body = late_chunk(client, texts)
    assert status == 200, body
    ours = np.array([item["embedding"] for item in body["data"]], dtype=np.float32)
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    assert body["usage"]["prompt_tokens"] == n_tokens == LIMIT


def test_an_input_entirely_past_the_limit_is_a_400_naming_it(client):
    status, body = late_chunk(client, [FIRST, SECOND, THIRD])
    assert status == 400
    error = body["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "input[2]"
    assert "input[2]" in error["message"] and f"maximum of {LIMIT}" in error["message"]
