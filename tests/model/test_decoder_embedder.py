"""A decoder embedder (Qwen3-Embedding class: causal attention, last-token pooling, an instruction prompt for
queries) served by the text handler: vectors equal sentence-transformers' on a tiny random Qwen3 saved as a
sentence-transformers folder, for a batch of mixed lengths, one text at a time, and with the query prompt."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules import Normalize, Transformer
from sentence_transformers.sentence_transformer.modules import Pooling
from transformers import AutoTokenizer, Qwen3Config, Qwen3Model

from inference.handlers import load_handler, model_family
from inference.model_dir import embedded_model_dir
from tests.conftest import make_settings

TEXTS = ["hello world", "a much longer sentence about search engines, their vectors and ranks", "x"]
PROMPT = "Instruct: Given a web search query, retrieve relevant passages\nQuery: "


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("qwen3")
    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir())
    config = Qwen3Config(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, head_dim=16,
                         num_attention_heads=2, num_key_value_heads=1, intermediate_size=37,
                         max_position_embeddings=128)  # fmt: skip
    torch.manual_seed(0)
    Qwen3Model(config).save_pretrained(root / "base")
    tokenizer.save_pretrained(root / "base")
    modules = [Transformer(str(root / "base"), max_seq_length=64), Pooling(32, pooling_mode="lasttoken"), Normalize()]
    SentenceTransformer(modules=modules, prompts={"query": PROMPT}, device="cpu").save(str(root / "model"))
    return root / "model"


def test_vectors_equal_sentence_transformers(folder):
    reference = SentenceTransformer(str(folder), device="cpu")
    handler = load_handler(make_settings(model_dir=folder, handler="auto", device="cpu", log_level="WARNING"))
    assert model_family(folder) == "text" and handler.info.pooling == "lasttoken"

    def ours(task):
        vectors = handler.forward(handler.tokenize(TEXTS, task, True), task)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    np.testing.assert_allclose(ours(None), reference.encode(TEXTS), atol=1e-5)
    np.testing.assert_allclose(ours(None), np.stack([reference.encode([t])[0] for t in TEXTS]), atol=1e-5)
    np.testing.assert_allclose(ours("query"), reference.encode_query(TEXTS), atol=1e-5)
    assert not np.allclose(ours("query"), ours(None), atol=1e-3)  # the instruction changes the vectors
