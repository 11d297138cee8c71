"""bge-reranker-v2-gemma-style decoder rerankers (``inference/handlers/llm_rerank.py``, ``PairTemplate``) on tiny
random Gemma and Gemma2 folders: which folders are one, scores equal to the model card's reference code
(FlagEmbedding's ``get_inputs``, the last position's ``Yes`` logit) run with transformers (1e-5, fp32,
raw logits; the card pads to a multiple of 8, which moves RoPE positions by a few), alone or in
a batch, long queries and documents cut as the reference cuts them, ``truncate=false`` refusing them."""

from __future__ import annotations

import numpy as np
import pytest

from inference.errors import InvalidInputError
from inference.handlers import model_family
from inference.handlers.llm_rerank import DecoderRerankHandler
from tests.conftest import make_settings
from tests.tiny_flag_rerankers import build_tiny_gemma_reranker, reference_scores, template_length
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


@pytest.fixture(scope="module", params=["gemma", "gemma2"])
def folder(request, tmp_path_factory):
    return build_tiny_gemma_reranker(tmp_path_factory.mktemp(request.param), request.param, MAX_LENGTH)


@pytest.fixture(scope="module")
def handler(folder):
    return DecoderRerankHandler(folder, make_settings(model_dir=folder, device="cpu"))


def reference(folder, query, documents):
    """The card code with its ``max_length`` the model's less the separator and prompt the handler keeps whole."""
    return np.asarray(reference_scores(folder, query, documents, MAX_LENGTH - template_length(folder)))


def raw(handler, query, documents, truncate=True):
    return handler.score(handler.tokenize_pairs(query, documents, truncate))[:, 0]


def test_a_gemma_causal_lm_is_a_reranker_only_with_a_ranking_or_classification_card(folder, tmp_path):
    assert model_family(folder) == "llm-rerank"  # bge-reranker-v2-gemma's card: pipeline_tag text-classification
    plain = build_tiny_gemma_reranker(tmp_path / "plain", card=False)
    assert model_family(plain) == "text"  # a gemma causal LM without a card: could be any Gemma
    (plain / "README.md").write_text("---\npipeline_tag: text-generation\n---\n", encoding="utf-8")
    assert model_family(plain) == "text"  # a chat model is never a reranker silently
    (plain / "README.md").write_text("---\npipeline_tag: text-ranking\n---\n", encoding="utf-8")
    assert model_family(plain) == "llm-rerank"


def test_scores_equal_the_model_card_code(handler, folder):
    expected = reference(folder, QUERY, DOCS)
    got = raw(handler, QUERY, DOCS)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.ptp(expected) > 0.3  # the tiny model ranks the documents apart
    np.testing.assert_allclose(handler.activation(got), 1 / (1 + np.exp(-expected)), atol=1e-6)  # normalize=True


def test_batch_equals_one_at_a_time(handler):
    batch = raw(handler, QUERY, DOCS)
    single = np.concatenate([raw(handler, QUERY, [doc]) for doc in DOCS])
    np.testing.assert_allclose(batch, single, atol=1e-5)


def test_long_queries_and_documents_are_cut_as_the_card_code_cuts_them(handler, folder):
    budget = MAX_LENGTH - template_length(folder)
    query = " ".join(WORDS[:60])  # more than 3/4 of the budget: cut
    documents = [" ".join(WORDS) * 3, "paris", "the " * 500]
    pairs = handler.tokenize_pairs(query, documents, True)
    prompt = handler._ids(f"\n{handler._template.prompt}")
    for pair in pairs:
        assert len(pair) <= MAX_LENGTH and pair.ids[-len(prompt) :] == prompt
        assert pair.ids[0] == handler._bos
    assert len(pairs[0]) == len(pairs[2]) == MAX_LENGTH
    assert len(handler._ids(f"A: {query}")) > budget * 3 // 4
    expected = reference(folder, query, documents)
    np.testing.assert_allclose(raw(handler, query, documents), expected, atol=1e-5)


def test_truncate_false_refuses_a_query_or_document_that_does_not_fit(handler):
    assert len(handler.tokenize_pairs(QUERY, DOCS[:2], False)) == 2
    with pytest.raises(InvalidInputError, match=r"documents\[1\].*more than the model's maximum of 80"):
        handler.tokenize_pairs(QUERY, ["paris", "hello world " * 40], False)
    with pytest.raises(InvalidInputError, match=r"documents\[0\]"):
        handler.tokenize_pairs(" ".join(WORDS[:60]), ["paris"], False)
