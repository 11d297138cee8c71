"""A remote-code reranker (jina-reranker-v2's shape: ``auto_map`` naming its own config and
``AutoModelForSequenceClassification`` classes) loads only with EMB_TRUST_REMOTE_CODE=true, and then scores with
its own code, as sentence-transformers' CrossEncoder(trust_remote_code=True) does."""

from __future__ import annotations

import numpy as np
import pytest
from sentence_transformers import CrossEncoder

from inference.handlers import load_handler, model_family
from inference.handlers.st_config import ModelFolderError
from tests.conftest import make_settings
from tests.tiny_rerankers import build_remote_code_reranker

QUERY = "search engine"
DOCS = ["the best search engine", "a river in france", "vector query document rank " * 12]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_remote_code_reranker(tmp_path_factory.mktemp("remote-reranker"))


def test_detected_as_a_reranker(folder):
    assert model_family(folder) == "rerank"


def test_refused_without_trust_remote_code_naming_the_setting(folder):
    with pytest.raises(ModelFolderError, match="EMB_TRUST_REMOTE_CODE=true"):
        load_handler(make_settings(model_dir=folder, device="cpu"))


def test_scores_with_its_own_code_like_cross_encoder(folder):
    handler = load_handler(make_settings(model_dir=folder, device="cpu", trust_remote_code=True))
    scores = handler.activation(handler.score(handler.tokenize_pairs(QUERY, DOCS, True)))[:, 0]
    expected = CrossEncoder(str(folder), device="cpu", trust_remote_code=True).predict([(QUERY, d) for d in DOCS])
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    # The remote class scales the logits by 3: the built-in XLM-R class on the same weights gives a third of them.
    import torch
    from transformers import XLMRobertaForSequenceClassification

    builtin = XLMRobertaForSequenceClassification.from_pretrained(folder).eval()
    pairs = handler.tokenize_pairs(QUERY, DOCS, True)
    with torch.inference_mode():
        plain = np.array([builtin(input_ids=torch.tensor([p.ids])).logits[0, 0].item() for p in pairs])
    np.testing.assert_allclose(handler.score(pairs)[:, 0], 3.0 * plain, rtol=1e-4, atol=1e-5)
