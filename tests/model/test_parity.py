"""The embedded default model must match sentence-transformers' own encode()."""

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from inference.endpoints.embeddings.postprocess import finish_vectors

TEXTS = [
    "hello world",
    "The quick brown fox jumps over the lazy dog.",
    "Bonjour le monde, comment allez-vous ?",
    "東京は日本の首都です。",
    "Ein ziemlich langer deutscher Satz über Einbettungen und Suche. " * 40,  # beyond 256 tokens: truncated
    "x",
]


@pytest.fixture(scope="module")
def reference(minilm_dir):
    model = SentenceTransformer(str(minilm_dir), device="cpu")
    return model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)


def test_vectors_match_sentence_transformers(minilm_handler, reference):
    ids = minilm_handler.tokenize(TEXTS, None, truncate=True)
    ours = finish_vectors(minilm_handler.forward(ids, None), None, True)
    cosine = (ours * reference).sum(axis=1)
    assert cosine.min() >= 0.9999, cosine


def test_batch_equals_single(minilm_handler):
    ids = minilm_handler.tokenize(TEXTS, None, truncate=True)
    batched = minilm_handler.forward(ids, None)
    single = np.concatenate([minilm_handler.forward([one], None) for one in ids])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_truncation_cuts_at_max_length_keeping_special_tokens(minilm_handler):
    [full] = minilm_handler.tokenize([TEXTS[4]], None, truncate=False)
    [cut] = minilm_handler.tokenize([TEXTS[4]], None, truncate=True)
    assert len(full) > 256 and len(cut) == minilm_handler.info.max_length == 256
    assert cut[0] == full[0] and cut[-1] == full[-1] and cut[1:255] == full[1:255]


def test_info(minilm_handler):
    info = minilm_handler.info
    assert (info.name, info.dimensions, info.pooling, info.dtype) == ("all-MiniLM-L6-v2", 384, "mean", "float32")
