"""Sequence classifiers with several labels (``inference/handlers/classifier.py``) on tiny random BERT folders: the
scores equal ``transformers.pipeline("text-classification", top_k=None)`` on the same folder (softmax for the
three-label single-label one, sigmoid for the four-label ``multi_label_classification`` one), for texts, text
pairs and inputs cut at the max length; on these models the other activation is far off, so a wrong one fails
here. ``raw_scores`` are the model's logits; folders with several labels are classifiers, one-label ones still
rerankers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

from inference.errors import InvalidInputError
from inference.handlers import model_family
from inference.handlers.classifier import SIGMOID, SOFTMAX, SequenceClassifierHandler, activate
from tests.conftest import make_settings
from tests.tiny_classifiers import (
    MULTI_LABELS,
    SINGLE_LABELS,
    build_multi_label_classifier,
    build_single_label_classifier,
)
from tests.tiny_rerankers import WORDS, build_tiny_bert_reranker

TEXTS = ["paris is the capital of france", "hello world", "search engine vector query document rank", "bonjour",
         "the best answer"]  # fmt: skip
PAIRS = [("paris capital", "paris is the capital of france"), ("hello", "bonjour le monde")]
LONG = " ".join(WORDS[(3 * i) % len(WORDS)] for i in range(60))  # over the max length of 24 tokens
KINDS = {"single": (build_single_label_classifier, SINGLE_LABELS, SOFTMAX),
         "multi": (build_multi_label_classifier, MULTI_LABELS, SIGMOID)}  # fmt: skip


@pytest.fixture(scope="module", params=list(KINDS))
def case(request, tmp_path_factory):
    build, labels, activation = KINDS[request.param]
    folder = build(tmp_path_factory.mktemp(request.param))
    handler = SequenceClassifierHandler(folder, make_settings(model_dir=folder, device="cpu"))
    reference = pipeline("text-classification", model=str(folder), top_k=None, device="cpu")
    return folder, handler, reference, labels, activation


def reference_scores(reference, inputs, labels, **kwargs) -> np.ndarray:
    """The pipeline's scores as a (inputs, labels) array in label order."""
    sent = [item if isinstance(item, str) else {"text": item[0], "text_pair": item[1]} for item in inputs]
    answers = reference(sent, **kwargs)
    return np.array([[next(a["score"] for a in answer if a["label"] == label) for label in labels]
                     for answer in answers])  # fmt: skip


def scores(handler, inputs, truncate=True) -> np.ndarray:
    return handler.activation(handler.logits(handler.tokenize(inputs, truncate)))


def test_labels_and_activation_come_from_the_folder(case):
    _, handler, _, labels, activation = case
    assert handler.info.kind == "classify" and handler.info.labels == labels
    assert handler.activation_name == activation


def test_scores_equal_the_text_classification_pipeline(case):
    _, handler, reference, labels, _ = case
    inputs = [*TEXTS, *PAIRS]
    np.testing.assert_allclose(scores(handler, inputs), reference_scores(reference, inputs, labels), atol=1e-5)


def test_an_input_cut_at_the_max_length_equals_the_pipeline_with_truncation(case):
    _, handler, reference, labels, _ = case
    inputs = [LONG, (LONG, "paris capital"), ("paris capital", LONG), TEXTS[0]]
    expected = reference_scores(reference, inputs, labels, truncation=True)
    assert all(len(ids) == handler.info.max_length for ids in handler.tokenize(inputs[:3], True))
    np.testing.assert_allclose(scores(handler, inputs), expected, atol=1e-5)


def test_the_other_activation_would_fail_the_parity(case):
    """Softmax and sigmoid are far apart on these models' logits: the parity test above sees a wrong one."""
    _, handler, reference, labels, activation = case
    logits = handler.logits(handler.tokenize(TEXTS, True))
    wrong = activate(logits, SOFTMAX if activation == SIGMOID else SIGMOID)
    assert np.abs(wrong - reference_scores(reference, TEXTS, labels)).max() > 0.05


def test_raw_scores_are_the_models_logits(case):
    folder, handler, _, _, _ = case
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.no_grad():
        expected = np.stack([model(**tokenizer(text, return_tensors="pt")).logits[0].numpy() for text in TEXTS])
    np.testing.assert_allclose(handler.logits(handler.tokenize(TEXTS, True)), expected, atol=1e-5)


def test_an_over_long_input_without_truncate_is_refused(case):
    _, handler, _, _, _ = case
    with pytest.raises(InvalidInputError, match=r"inputs\[1\] has \d+ tokens, more than the model's maximum of 24"):
        handler.tokenize([TEXTS[0], LONG], False)
    assert handler.tokenize([TEXTS[0]], False) == handler.tokenize([TEXTS[0]], True)


def test_folders_with_several_labels_are_classifiers_and_one_label_folders_rerankers(case, tmp_path):
    folder, *_ = case
    assert model_family(folder) == "classify"
    assert model_family(build_tiny_bert_reranker(tmp_path / "reranker")) == "rerank"


def test_the_text_tokenizer_is_the_models_own(case):
    folder, handler, *_ = case
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert handler.text_tokenizer.count(TEXTS, True) == [len(tokenizer(text)["input_ids"]) for text in TEXTS]
