"""jina-reranker-v3-style listwise reranking on a tiny random ``JinaForRanking`` folder: the handler's scores equal
the model card's ``rerank`` (transcribed in tests/tiny_listwise.py) to 1e-5, in one block and in several, with
texts cut at the card's caps and the scoring tokens removed from the texts; blocks of different requests share a
forward pass without changing each other's vectors."""

from __future__ import annotations

import numpy as np
import pytest

from inference.errors import InvalidInputError
from inference.handlers import load_handler, model_family
from inference.handlers.st_config import ModelFolderError
from tests.conftest import make_settings
from tests.tiny_listwise import build_tiny_listwise_reranker, reference_scores
from tests.tiny_rerankers import WORDS

QUERY = "paris capital search"


def _documents(count: int, seed: int, low: int = 20, high: int = 90) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(low, high)))) for _ in range(count)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_tiny_listwise_reranker(tmp_path_factory.mktemp("listwise"))


@pytest.fixture(scope="module")
def handler(folder):
    return load_handler(make_settings(model_dir=folder, handler="auto", device="cpu"))


def _scores(handler, query, documents, truncate=True):
    return handler.merge(handler.forward_blocks(handler.tokenize_blocks(query, documents, truncate)))


def test_the_folder_is_a_listwise_reranker(folder, handler):
    assert model_family(folder) == "listwise-rerank"
    assert handler.info.kind == "rerank" and handler.info.pooling == "listwise"


@pytest.mark.parametrize(("count", "blocks"), [(4, 1), (12, 2), (30, 4)])
def test_scores_equal_the_model_card_code(handler, folder, count, blocks):
    documents = _documents(count, seed=count)
    assert len(handler.tokenize_blocks(QUERY, documents, True)) == blocks
    expected = reference_scores(folder, QUERY, documents)
    got = _scores(handler, QUERY, documents)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.ptp(got) > 0.05  # the documents are told apart


def test_several_blocks_weight_the_query_vector_by_each_block_best_score(handler, folder):
    """Averaging the blocks' query vectors without the weights is off by far more than the tolerance."""
    documents = _documents(12, seed=12)
    outputs = handler.forward_blocks(handler.tokenize_blocks(QUERY, documents, True))
    unweighted = np.mean([output[0] for output in outputs], axis=0)
    vectors = np.concatenate([output[1:] for output in outputs])
    plain = vectors @ unweighted / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(unweighted))
    expected = reference_scores(folder, QUERY, documents)
    assert np.abs(plain - expected).max() > 1e-4
    np.testing.assert_allclose(handler.merge(outputs), expected, atol=1e-5)


def test_long_texts_are_cut_at_the_card_caps(handler, folder):
    documents = [" ".join(_documents(1, seed=3, low=2100, high=2101)), "paris is the capital of france", "hello"]
    query = " ".join(_documents(1, seed=4, low=600, high=601))
    np.testing.assert_allclose(_scores(handler, query, documents), reference_scores(folder, query, documents),
                               atol=1e-5)  # fmt: skip
    with pytest.raises(InvalidInputError, match=r"documents\[0\].*2048 tokens"):
        handler.tokenize_blocks(QUERY, documents, False)
    with pytest.raises(InvalidInputError, match="query.*512 tokens"):
        handler.tokenize_blocks(query, documents[1:], False)


def test_scoring_tokens_in_texts_are_removed(handler, folder):
    query = "paris <|rerank_token|> capital <|embed_token|>"
    documents = ["the <|embed_token|> capital <|rerank_token|> of france", "a river", "search engine"]
    np.testing.assert_allclose(_scores(handler, query, documents), reference_scores(folder, query, documents),
                               atol=1e-5)  # fmt: skip


def test_blocks_of_other_requests_in_the_same_batch_change_nothing(handler):
    """Left padding with position ids counted from each row's first token: a block's vectors are the same alone
    and in a batch with longer and shorter blocks."""
    first = handler.tokenize_blocks(QUERY, _documents(12, seed=7), True)
    second = handler.tokenize_blocks("river", ["a short one"], True)
    alone = handler.forward_blocks(first) + handler.forward_blocks(second)
    together = handler.forward_blocks(second + first)
    for mine, shared in zip(alone, together[1:] + together[:1], strict=True):
        np.testing.assert_allclose(shared, mine, atol=1e-5)


def test_weights_without_a_projector_are_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    folder = build_tiny_listwise_reranker(tmp_path)
    weights = load_file(folder / "model.safetensors")
    save_file({k: v for k, v in weights.items() if not k.startswith("projector.")}, folder / "model.safetensors",
              metadata={"format": "pt"})  # fmt: skip
    with pytest.raises(ModelFolderError, match="projector.0.weight"):
        load_handler(make_settings(model_dir=folder, handler="auto", device="cpu"))
