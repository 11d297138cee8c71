"""SPLADE (``inference/handlers/splade.py``) on a tiny random ``BertForMaskedLM`` with the real MiniLM tokenizer,
saved by sentence-transformers' own ``SparseEncoder.save``: every vector equals ``SparseEncoder.encode`` on the
same folder to 1e-5 (fp32), alone or batched with others, cut at the max length, with a prompt, and with the
folder's ``max_active_dims``; the folder is recognised as ``sparse``, a bare masked LM is not."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sentence_transformers import SparseEncoder

from inference.core.protocol import SPARSE_ENTRY
from inference.errors import InvalidInputError
from inference.handlers import model_family
from inference.handlers.splade import SpladeHandler
from tests.conftest import make_settings
from tests.tiny_sparse import MAX_SEQ_LENGTH, build_tiny_splade

TEXTS = ["paris is the capital of france", "hello world", "x",
         "sparse retrieval expands a query over the vocabulary with learned term weights"]  # fmt: skip
LONG = "the quick brown fox jumps over the lazy dog " * 20  # far over the 32-token max length


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_tiny_splade(tmp_path_factory.mktemp("splade") / "tiny-splade", prompts={"query": "query: "})


@pytest.fixture(scope="module")
def handler(folder):
    return SpladeHandler(folder, make_settings(model_dir=folder, device="cpu"))


@pytest.fixture(scope="module")
def reference(folder):
    return SparseEncoder(str(folder), device="cpu")


def dense(vectors, vocabulary):
    out = np.zeros((len(vectors), vocabulary), dtype=np.float32)
    for row, vector in enumerate(vectors):
        assert vector.dtype == SPARSE_ENTRY and np.all(np.diff(vector["index"]) > 0)  # ascending, distinct
        assert np.all(vector["value"] > 0)
        out[row, vector["index"]] = vector["value"]
    return out


def expected(reference, texts, **kwargs):
    return reference.encode(texts, convert_to_tensor=True, convert_to_sparse_tensor=False, **kwargs).numpy()


def test_the_folder_is_a_sparse_model(folder, handler):
    assert model_family(folder) == "sparse"
    assert handler.info.kind == "sparse" and handler.info.dimensions == 30522
    assert handler.info.max_length == MAX_SEQ_LENGTH and handler.info.pooling == "splade_max"


def test_vectors_equal_the_sparse_encoder(handler, reference):
    got = dense(handler.forward(handler.tokenize(TEXTS, None, True)), handler.info.dimensions)
    want = expected(reference, TEXTS)
    assert all(100 < np.count_nonzero(row) < 2000 for row in want)  # sparse, but not trivially so
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert [np.count_nonzero(row) for row in got] == [np.count_nonzero(row) for row in want]


def test_a_text_alone_equals_it_in_a_batch(handler):
    batch = dense(handler.forward(handler.tokenize(TEXTS, None, True)), handler.info.dimensions)
    for index, text in enumerate(TEXTS):
        alone = dense(handler.forward(handler.tokenize([text], None, True)), handler.info.dimensions)
        np.testing.assert_allclose(alone[0], batch[index], atol=1e-5)


def test_a_long_text_is_cut_as_the_reference_cuts_it(handler, reference):
    ids = handler.tokenize([LONG, TEXTS[0]], None, True)
    assert len(ids[0]) == MAX_SEQ_LENGTH
    got = dense(handler.forward(ids), handler.info.dimensions)
    np.testing.assert_allclose(got, expected(reference, [LONG, TEXTS[0]]), atol=1e-5)
    with pytest.raises(InvalidInputError, match="more than the model's maximum of 32"):
        handler.tokenize([TEXTS[0], LONG], None, False)


def test_a_prompt_is_prepended_as_the_reference_does(handler, reference):
    got = dense(handler.forward(handler.tokenize(TEXTS[:2], "query", True)), handler.info.dimensions)
    np.testing.assert_allclose(got, expected(reference, TEXTS[:2], prompt_name="query"), atol=1e-5)
    with pytest.raises(InvalidInputError, match="unknown prompt_name 'nope'"):
        handler.tokenize(TEXTS, "nope", True)


def test_passes_are_cut_to_bound_the_logits(handler, monkeypatch):
    """Many texts: several passes of at most LOGIT_BYTES of logits each, the same vectors as one pass."""
    from inference.handlers import splade

    ids = handler.tokenize(TEXTS * 3, None, True)
    whole = dense(handler.forward(ids), handler.info.dimensions)
    monkeypatch.setattr(splade, "LOGIT_BYTES", 30522 * 4 * 16)  # 16 padded tokens a pass
    lengths = [len(sequence) for sequence in ids]
    passes = handler._passes(lengths)
    assert len(passes) > 4 and sorted(p for one in passes for p in one) == list(range(len(ids)))
    assert all(len(one) == 1 or len(one) * max(lengths[p] for p in one) <= 16 for one in passes)
    np.testing.assert_allclose(dense(handler.forward(ids), handler.info.dimensions), whole, atol=1e-5)


def test_max_active_dims_keeps_the_largest_values(folder, tmp_path, reference):
    meta = json.loads((folder / "config_sentence_transformers.json").read_text())
    capped = tmp_path / "capped"
    capped.mkdir()
    for path in folder.iterdir():
        if path.is_file():
            (capped / path.name).write_bytes(path.read_bytes())
        else:
            (capped / path.name).mkdir()
            for inner in path.iterdir():
                (capped / path.name / inner.name).write_bytes(inner.read_bytes())
    (capped / "config_sentence_transformers.json").write_text(json.dumps({**meta, "max_active_dims": 16}))
    handler = SpladeHandler(capped, make_settings(model_dir=capped, device="cpu"))
    got = handler.forward(handler.tokenize(TEXTS, None, True))
    assert [len(vector) for vector in got] == [16] * len(TEXTS)
    want = expected(reference, TEXTS, max_active_dims=16)
    np.testing.assert_allclose(dense(got, handler.info.dimensions), want, atol=1e-5)


def test_a_bare_masked_lm_is_not_taken_for_splade(folder, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        (bare / name).write_bytes((folder / name).read_bytes())
    assert model_family(bare) == "text"
    handler = SpladeHandler(bare, make_settings(model_dir=bare, device="cpu", handler="sparse"))
    assert handler.info.kind == "sparse"  # EMB_HANDLER=sparse serves it: max pooling of relu
