"""Late-interaction handler against the reference, Sentence Transformers 6's ``MultiVectorEncoder`` loading the
same folder: token vectors (queries with expansion, documents without padding and skip-list tokens), MaxSim scores,
and what each part of the model changes (the checks below fail if the projection, the query expansion, the
attention over expansion tokens or the skip-list were dropped)."""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import pytest
import torch
from sentence_transformers import MultiVectorEncoder

from inference.core.types import DOCUMENT, MULTIVECTOR, QUERY
from inference.endpoints.multivector.service import maxsim
from inference.handlers import load_handler, model_family
from inference.handlers.colbert import ColbertHandler
from tests.conftest import make_settings
from tests.tiny_colbert import DOCUMENT_LENGTH, HIDDEN, QUERY_LENGTH, WIDTH, build_native_colbert, build_pylate_colbert

QUERIES = [
    "hello, world!",
    "a",
    "what is the capital of France? " * 4,  # beyond the query length: cut
    "[MASK] marks, (brackets) & symbols?",
]
DOCUMENTS = [
    "Paris is the capital of France.",
    "x",
    "A much longer document, with punctuation; commas, and words. " * 6,  # beyond the document length: cut
    "!!!",  # nothing but skip-list tokens
    "hello world",
]
LAYOUTS = {
    "pylate": dict(kind="pylate"),
    "pylate-attend": dict(kind="pylate", attend=True),
    "pylate-jina": dict(kind="pylate", attend=True, markers=("[QueryMarker]", "[DocumentMarker]"), added_markers=True,
                        activation="torch.nn.modules.activation.GELU", model_type="ColBERT", matryoshka=[16, 8, 4]),
    "native": dict(kind="native"),
    "native-min-truncated": dict(kind="native", attend=True, strategy="min", query_length=20, truncate_dim=8),
}  # fmt: skip


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("colbert")
    built = {}
    for name, options in LAYOUTS.items():
        options = dict(options)
        builder = build_pylate_colbert if options.pop("kind") == "pylate" else build_native_colbert
        built[name] = builder(root / name, **options)
    return built


@pytest.fixture(scope="module")
def handlers(folders: dict[str, Path]) -> dict[str, ColbertHandler]:
    return {name: load_handler(make_settings(model_dir=folder, device="cpu")) for name, folder in folders.items()}


@pytest.fixture(scope="module")
def references(folders: dict[str, Path]) -> dict[str, MultiVectorEncoder]:
    return {name: MultiVectorEncoder(str(folder), device="cpu") for name, folder in folders.items()}


def ours(handler: ColbertHandler, texts: list[str], input_type: str) -> list[np.ndarray]:
    return handler.forward(handler.tokenize(texts, input_type, True), input_type)


def reference(model: MultiVectorEncoder, texts: list[str], input_type: str) -> list[np.ndarray]:
    encode = model.encode_query if input_type == QUERY else model.encode_document
    return encode(texts, convert_to_numpy=True)


def assert_same(mine: list[np.ndarray], theirs: list[np.ndarray]) -> None:
    assert len(mine) == len(theirs)
    for index, (a, b) in enumerate(zip(mine, theirs, strict=True)):
        assert a.dtype == np.float32 and a.shape == b.shape, (index, a.shape, b.shape)
        np.testing.assert_allclose(a, b, atol=1e-5, err_msg=f"sequence {index}")


def test_model_family(folders: dict[str, Path], minilm_dir: Path) -> None:
    assert {name: model_family(folder) for name, folder in folders.items()} == dict.fromkeys(LAYOUTS, "multivector")
    assert model_family(minilm_dir) == "text"


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("input_type", [QUERY, DOCUMENT])
def test_vectors_match_the_reference(handlers, references, layout: str, input_type: str) -> None:
    texts = QUERIES if input_type == QUERY else DOCUMENTS
    assert_same(ours(handlers[layout], texts, input_type), reference(references[layout], texts, input_type))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_maxsim_matches_the_reference_similarity(handlers, references, layout: str) -> None:
    queries, documents = ours(handlers[layout], QUERIES, QUERY), ours(handlers[layout], DOCUMENTS, DOCUMENT)
    expected = references[layout].similarity(reference(references[layout], QUERIES, QUERY),
                                             reference(references[layout], DOCUMENTS, DOCUMENT))  # fmt: skip
    scores = np.stack([maxsim(query, documents) for query in queries])
    np.testing.assert_allclose(scores, expected.cpu().numpy(), atol=1e-4)


@pytest.mark.parametrize("layout", ["pylate", "native"])
def test_a_batch_equals_one_at_a_time(handlers, layout: str) -> None:
    """Padding in a batch of documents of different lengths changes no vector."""
    handler = handlers[layout]
    batch = ours(handler, DOCUMENTS, DOCUMENT)
    assert_same(batch, [ours(handler, [text], DOCUMENT)[0] for text in DOCUMENTS])


def test_info(handlers) -> None:
    info = handlers["pylate"].info
    assert (info.kind, info.dimensions, info.query_length, info.max_length, info.late_chunking, info.pooling) == (
        MULTIVECTOR,
        WIDTH,
        QUERY_LENGTH,
        DOCUMENT_LENGTH,
        False,
        "maxsim",
    )
    assert info.dimension_options == (WIDTH,)
    assert handlers["pylate-jina"].info.dimension_options == (16, 8, 4)
    assert handlers["native"].info.dimension_options == (16, 8, 4)
    truncated = handlers["native-min-truncated"].info
    assert (truncated.dimensions, truncated.dimension_options, truncated.query_length) == (8, (8, 4), 20)


def test_tokenize_inserts_the_marker_and_expands_queries(handlers) -> None:
    handler = handlers["pylate"]
    tokenizer = handler._hf_tokenizer
    mask, marker_q, marker_d = tokenizer.convert_tokens_to_ids(["[MASK]", "[unused0]", "[unused1]"])
    short, long = handler.tokenize([QUERIES[0], QUERIES[2]], QUERY, True)
    plain = tokenizer(QUERIES[0])["input_ids"]
    assert short == [plain[0], marker_q, *plain[1:]] + [mask] * (QUERY_LENGTH - len(plain) - 1)
    assert len(long) == QUERY_LENGTH and long[-1] == tokenizer.sep_token_id and mask not in long
    [cut] = handler.tokenize([DOCUMENTS[2]], DOCUMENT, True)
    [whole] = handler.tokenize([DOCUMENTS[2]], DOCUMENT, False)
    assert len(cut) == DOCUMENT_LENGTH < len(whole) and cut[:2] == whole[:2] == [plain[0], marker_d]
    assert cut[-1] == whole[-1] == tokenizer.sep_token_id


def test_the_projection_is_applied(handlers, references, monkeypatch: pytest.MonkeyPatch) -> None:
    handler, expected = handlers["native"], reference(references["native"], DOCUMENTS[:1], DOCUMENT)
    assert expected[0].shape[1] == WIDTH != HIDDEN
    assert_same(ours(handler, DOCUMENTS[:1], DOCUMENT), expected)
    linear = handler._head[0].linear
    monkeypatch.setattr(handler, "_head", torch.nn.Sequential())
    assert ours(handler, DOCUMENTS[:1], DOCUMENT)[0].shape[1] == HIDDEN
    monkeypatch.setattr(handler, "_head", torch.nn.Sequential(linear))  # the projection without its Tanh
    assert not np.allclose(ours(handler, DOCUMENTS[:1], DOCUMENT)[0], expected[0], atol=1e-3)


def test_query_expansion_tokens_are_returned(handlers, references) -> None:
    """A short query's vectors are its tokens' and the expansion tokens', query_length in all."""
    handler = handlers["pylate"]
    real = len(handler._hf_tokenizer(QUERIES[1])["input_ids"]) + 1  # and the marker
    [expected] = reference(references["pylate"], QUERIES[1:2], QUERY)
    assert real < QUERY_LENGTH == len(expected)
    assert_same(ours(handler, QUERIES[1:2], QUERY), [expected])


@pytest.mark.parametrize("layout", ["pylate", "pylate-attend"])
def test_attention_over_expansion_tokens(handlers, references, layout: str) -> None:
    """Without ``attend_to_expansion_tokens`` the real tokens' vectors are those of the query without expansion;
    with it they are not; the expansion tokens' vectors are returned either way."""
    handler = handlers[layout]
    [ids] = handler.tokenize(QUERIES[:1], QUERY, True)
    real = len(ids) - handler._tokens.expanded(ids)
    assert real < len(ids)
    [unexpanded] = handler.forward([ids[:real]], QUERY)
    [expected] = reference(references[layout], QUERIES[:1], QUERY)
    assert_same(ours(handler, QUERIES[:1], QUERY), [expected])
    same = np.allclose(expected[:real], unexpanded, atol=1e-5)
    assert same is (layout == "pylate")
    pylate, attend = (reference(references[name], QUERIES[:1], QUERY)[0] for name in ("pylate", "pylate-attend"))
    assert not np.allclose(pylate, attend, atol=1e-3)  # same weights: only the attention differs


def test_skiplist_tokens_are_dropped_from_documents(handlers, references, monkeypatch: pytest.MonkeyPatch) -> None:
    handler = handlers["pylate"]
    [ids] = handler.tokenize(DOCUMENTS[:1], DOCUMENT, True)
    tokens = handler._hf_tokenizer.convert_ids_to_tokens(ids)
    punctuation = sum(token in string.punctuation for token in tokens)
    [expected] = reference(references["pylate"], DOCUMENTS[:1], DOCUMENT)
    assert punctuation > 0 and len(expected) == len(ids) - punctuation
    assert_same(ours(handler, DOCUMENTS[:1], DOCUMENT), [expected])
    assert ours(handler, ["!!!"], DOCUMENT)[0].shape == (3, WIDTH)  # [CLS], marker, [SEP]
    monkeypatch.setattr(handler._tokens, "kept", lambda ids, input_type: np.ones(len(ids), dtype=bool))
    assert len(ours(handler, DOCUMENTS[:1], DOCUMENT)[0]) == len(ids) != len(expected)


def test_text_tokenizer_has_the_prompts(handlers) -> None:
    pytest.importorskip("inference.handlers.text_tokenizer")
    tokenizer = handlers["pylate"].text_tokenizer
    assert tokenizer.prompts == {"query": "[unused0]", "document": "[unused1]"}
    assert tokenizer.count(["[unused0]hello"], add_special_tokens=True) == [4]
