"""How a reranker builds and cuts its pairs (``inference/handlers/pair_tokens.py``), on tiny random cross-encoders
(BERT: max length 24, 3 special tokens, an odd budget of 21; XLM-R: 32, 4, an even 28): scores equal
sentence-transformers' ``CrossEncoder.predict`` (which cuts a pair ``longest_first``) and ids equal the Hugging Face
tokenizer's, for long documents, long queries and queries that alone are over the limit; ``truncate=false``
refuses a query that alone is too long before any document is looked at, and names the first document that
does not fit."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from sentence_transformers import CrossEncoder
from transformers import AutoTokenizer

from inference.errors import InvalidInputError
from inference.handlers.pair_tokens import COMPARE_BUDGETS
from inference.handlers.rerank import CrossEncoderHandler
from tests.conftest import make_settings
from tests.tiny_rerankers import WORDS, build_tiny_bert_reranker, build_tiny_xlmr_reranker


def words(count: int, start: int = 0) -> str:
    return " ".join(WORDS[(start + 3 * i) % len(WORDS)] for i in range(count))


SHORT = ["paris is the capital of france", "the river", "hello world", ""]
CASES = {
    "long documents are cut": ("paris capital", [words(40), words(200, 3), *SHORT]),
    "a query over half the room is cut with a long document": (words(15), [words(40), words(12, 1), *SHORT]),
    "a query alone over the limit": (words(60), [*SHORT, words(10), words(23), words(40), words(60, 2), words(90)]),
    # Past COMPARE_BUDGETS budgets of tokens on both sides the document is taken as the longer: here it is.
    "a query far over the limit": (words(300), [words(30), words(300, 4), words(400, 2), *SHORT]),
}


@pytest.fixture(scope="module", params=["bert", "xlmr"])
def folder(request, tmp_path_factory):
    build = build_tiny_bert_reranker if request.param == "bert" else build_tiny_xlmr_reranker
    return build(tmp_path_factory.mktemp(request.param))


@pytest.fixture(scope="module")
def handler(folder):
    return CrossEncoderHandler(folder, make_settings(model_dir=folder, device="cpu"))


@pytest.fixture(scope="module")
def cross_encoder(folder):
    return CrossEncoder(str(folder), device="cpu")


def scores(handler, query, documents):
    return handler.activation(handler.score(handler.tokenize_pairs(query, documents, True)))[:, 0]


@pytest.mark.parametrize("case", list(CASES))
def test_cut_pairs_score_as_cross_encoder_predict(handler, cross_encoder, folder, case):
    query, documents = CASES[case]
    expected = cross_encoder.predict([(query, document) for document in documents])
    np.testing.assert_allclose(scores(handler, query, documents), expected, atol=1e-5)
    reference = AutoTokenizer.from_pretrained(folder)(
        [query] * len(documents), documents, truncation="longest_first", max_length=handler.info.max_length
    )
    assert [pair.ids for pair in handler.tokenize_pairs(query, documents, True)] == reference["input_ids"]


def test_both_sides_far_over_the_limit_keep_half_each_the_document_the_odd_token(handler, cross_encoder):
    """Past ``COMPARE_BUDGETS`` budgets on both sides (a 300-word query, a 250-word document) the longer side is not
    looked for: the document keeps the odd token of an odd budget (CrossEncoder.predict gives it to the longer
    side, the query here: BERT's budget of 21 is odd, so its pair differs by that token; XLM-R's 28 is even)."""
    query, document = words(300), words(250, 1)
    budget = handler.info.max_length - len(handler.tokenize_pairs("", [""], False)[0])
    assert COMPARE_BUDGETS * budget < 250  # the tiny tokenizers give one token a word
    cut = (" ".join(query.split()[: budget // 2]), " ".join(document.split()[: budget - budget // 2]))
    assert handler.tokenize_pairs(query, [document], True) == handler.tokenize_pairs(*cut[:1], cut[1:], False)
    np.testing.assert_allclose(scores(handler, query, [document]), cross_encoder.predict([cut]), atol=1e-5)


def test_a_huge_query_costs_its_head(handler):
    """A 5 MB query cut as its first few thousand characters are: both give more tokens than the budget."""
    huge = words(1_100_000)
    assert len(huge) > 5_000_000
    documents = [words(6), words(30, 1)]
    assert handler.tokenize_pairs(huge, documents, True) == handler.tokenize_pairs(huge[:3000], documents, True)
    with pytest.raises(InvalidInputError, match="the query alone has more than") as refused:
        handler.tokenize_pairs(huge, documents, False)
    assert refused.value.param == "query"


class Untouchable(Sequence[str]):
    """Documents that fail the test when one at or after ``first_forbidden`` is read."""

    def __init__(self, documents: list[str], first_forbidden: int) -> None:
        self._documents, self._forbidden = documents, first_forbidden

    def __len__(self) -> int:
        return len(self._documents)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice) or index >= self._forbidden:
            raise AssertionError(f"document {index} was read")
        return self._documents[index]


def test_truncate_false_refuses_a_query_alone_over_the_limit_before_any_document(handler):
    limit = handler.info.max_length
    with pytest.raises(InvalidInputError) as refused:
        handler.tokenize_pairs(words(limit), Untouchable(["the river"] * 3, first_forbidden=0), False)
    assert refused.value.param == "query"
    assert f"more than the model's maximum of {limit}" in refused.value.message
    assert "truncate=true" in refused.value.message


def test_truncate_false_names_the_first_document_that_does_not_fit(handler):
    limit = handler.info.max_length
    documents = ["the river", words(limit), words(limit * 100_000), "hello world"]  # the third: 2 MB and more
    with pytest.raises(InvalidInputError) as refused:
        handler.tokenize_pairs("paris capital", documents, False)
    assert refused.value.param == "documents[1]"
    assert f"more than the model's maximum of {limit}" in refused.value.message


def test_truncate_false_pairs_that_fit_are_the_tokenizers_own(handler, cross_encoder, folder):
    query, documents = "paris capital", ["paris is the capital of france", "the river", ""]
    reference = AutoTokenizer.from_pretrained(folder)([query] * len(documents), documents)
    assert [pair.ids for pair in handler.tokenize_pairs(query, documents, False)] == reference["input_ids"]
    pairs = handler.tokenize_pairs(query, documents, False)
    expected = cross_encoder.predict([(query, document) for document in documents])
    np.testing.assert_allclose(handler.activation(handler.score(pairs))[:, 0], expected, atol=1e-5)
    fits = handler.info.max_length - len(handler.tokenize_pairs(query, ["the"], False)[0]) + 1  # document tokens
    assert len(handler.tokenize_pairs(query, [words(fits)], False)[0]) == handler.info.max_length
