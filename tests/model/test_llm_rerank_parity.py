"""Decoder rerankers (``inference/handlers/llm_rerank.py``) on a tiny random Qwen3-Reranker-style folder: which
folders are one, scores equal to Qwen3-Reranker's model card code run with transformers (1e-5, fp32), alone or in
a batch, long documents cut so the template's prefix and suffix stay whole, ``truncate=false`` refusing them."""

from __future__ import annotations

import numpy as np
import pytest

from inference.errors import InvalidInputError
from inference.handlers import model_family
from inference.handlers.llm_rerank import DecoderRerankHandler
from inference.handlers.llm_rerank_folder import QWEN3
from inference.handlers.st_config import ModelFolderError
from tests.conftest import make_settings
from tests.tiny_llm_rerankers import build_tiny_qwen3_reranker, reference_scores
from tests.tiny_rerankers import WORDS

MAX_LENGTH = 80
QUERY = "paris capital of france"
DOCS = [
    "paris is the capital of france",
    "the river",
    "hello world " * 40,  # longer than the max length: the document is cut
    "search engine vector query document rank",
    "",
    " ".join(WORDS),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_tiny_qwen3_reranker(tmp_path_factory.mktemp("qwen3-reranker"), MAX_LENGTH)


@pytest.fixture(scope="module")
def handler(folder):
    return DecoderRerankHandler(folder, make_settings(model_dir=folder, device="cpu"))


def scores(handler, query, documents):
    return handler.activation(handler.score(handler.tokenize_pairs(query, documents, True))[:, 0])


def test_a_causal_lm_with_a_text_ranking_card_is_a_decoder_reranker(folder, tmp_path):
    assert model_family(folder) == "llm-rerank"
    plain = build_tiny_qwen3_reranker(tmp_path / "plain", card=False)
    assert model_family(plain) == "llm-rerank"  # Qwen3-Reranker's shape: a qwen3 causal LM, no card, no modules
    (plain / "README.md").write_text("---\npipeline_tag: text-generation\n---\n", encoding="utf-8")
    assert model_family(plain) == "text"  # a chat model is never a reranker silently
    (plain / "README.md").unlink()
    (plain / "modules.json").write_text("[]", encoding="utf-8")
    assert model_family(plain) == "text"  # sentence-transformers modules: an embedder (Qwen3-Embedding's shape)


def test_scores_equal_the_model_card_code(handler, folder):
    expected = np.asarray(reference_scores(folder, QUERY, DOCS, MAX_LENGTH))
    got = scores(handler, QUERY, DOCS)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.ptp(expected) > 0.1  # the tiny model ranks the documents apart
    raw = handler.score(handler.tokenize_pairs(QUERY, DOCS, True))[:, 0]
    np.testing.assert_allclose(1 / (1 + np.exp(-raw.astype(np.float64))), expected, atol=1e-5)


def test_batch_equals_one_at_a_time(handler):
    batch = scores(handler, QUERY, DOCS)
    single = np.concatenate([scores(handler, QUERY, [doc]) for doc in DOCS])
    np.testing.assert_allclose(batch, single, atol=1e-5)


def test_long_documents_and_queries_keep_the_template_whole(handler, folder):
    query = " ".join(WORDS[:20])
    documents = [" ".join(WORDS) * 3, "paris", "the " * 500]
    pairs = handler.tokenize_pairs(query, documents, True)
    prefix, suffix = handler._ids(QWEN3.prefix), handler._ids(QWEN3.suffix)
    for pair in pairs:
        assert len(pair) <= MAX_LENGTH
        assert pair.ids[: len(prefix)] == prefix and pair.ids[-len(suffix) :] == suffix
    assert len(pairs[0]) == len(pairs[2]) == MAX_LENGTH
    expected = np.asarray(reference_scores(folder, query, documents, MAX_LENGTH))
    np.testing.assert_allclose(scores(handler, query, documents), expected, atol=1e-5)


def test_truncate_false_refuses_a_document_that_does_not_fit(handler):
    assert len(handler.tokenize_pairs(QUERY, DOCS[:2], False)) == 2
    with pytest.raises(InvalidInputError, match=r"documents\[1\].*more than the model's maximum of 80"):
        handler.tokenize_pairs(QUERY, ["paris", "hello world " * 40], False)


def test_a_causal_lm_without_a_template_is_refused(tmp_path):
    import json

    folder = build_tiny_qwen3_reranker(tmp_path / "llama")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "llama"}))
    with pytest.raises(ModelFolderError, match="model_type llama"):
        DecoderRerankHandler(folder, make_settings(model_dir=folder, device="cpu"))
