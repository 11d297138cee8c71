"""Late chunking on the real MiniLM model against a hand-computed reference (arXiv 2409.04701)."""

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from inference.core.types import TextInput
from inference.endpoints.embeddings.types import EmbedRequest
from inference.errors import InvalidInputError
from inference.handlers import load_handler
from tests.conftest import loaded_service, make_settings

CHUNKS = ["Berlin is the capital of Germany.", "It has 3.8 million inhabitants.", "The city is also a state."]


@pytest.fixture(scope="module")
def service():
    return loaded_service(make_settings(device="cpu", warmup=False), load_handler)


def hand_reference(folder):
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    pieces = [tokenizer(c, add_special_tokens=False)["input_ids"] for c in CHUNKS]
    ids = [tokenizer.cls_token_id] + [t for p in pieces for t in p] + [tokenizer.sep_token_id]
    with torch.no_grad():
        tokens = model(input_ids=torch.tensor([ids])).last_hidden_state[0].numpy()
    out, start = [], 1
    for piece in pieces:
        out.append(tokens[start : start + len(piece)].mean(0))
        start += len(piece)
    out = np.stack(out)
    return out / np.linalg.norm(out, axis=1, keepdims=True), len(ids)


def test_late_chunking_matches_hand_computed_reference(service, minilm_dir):
    expected, n_tokens = hand_reference(minilm_dir)
    result = service.embed(EmbedRequest(inputs=tuple(TextInput(c) for c in CHUNKS), late_chunking=True))
    np.testing.assert_allclose(result.vectors, expected, atol=1e-5)
    assert result.prompt_tokens == n_tokens
    independent = service.embed(EmbedRequest(inputs=tuple(TextInput(c) for c in CHUNKS)))
    assert not np.allclose(independent.vectors, result.vectors, atol=1e-3)  # context changed the vectors


def test_late_chunking_of_an_input_over_max_length_without_truncate_is_400(service):
    long_inputs = (TextInput("word"), TextInput("word " * 600))
    with pytest.raises(InvalidInputError, match=r"input\[1\] has \d+ tokens"):
        service.embed(EmbedRequest(inputs=long_inputs, late_chunking=True, truncate=False))
