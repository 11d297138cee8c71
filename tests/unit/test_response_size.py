"""Response size bounds (inference/endpoints/response_size.py): never below the real encoded answer.

Each property runs the real endpoint (parse, run, encode) over a stub service that returns random vectors or
scores of the request's shape, adversarial values included (the longest float32 texts, huge unnormalised
values, NaN), and compares the body's length with the bound computed from the parsed request alone.
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inference.core.types import ModelInfo
from inference.endpoints.bound import WORST_FLOAT32, WORST_SCORE
from inference.endpoints.embeddings.endpoint import EmbeddingsEndpoint
from inference.endpoints.embeddings.types import EmbedResult
from inference.endpoints.rerank.endpoint import RerankEndpoint
from inference.endpoints.rerank.types import RerankResult
from inference.endpoints.response_size import (
    check_reply,
    check_response,
    response_bound,
)
from inference.endpoints.vertex import VertexEndpoint
from inference.errors import ResponseTooLargeError
from inference.mime import CSV, JSON, JSONLINES
from tests.conftest import make_settings

TYPES = ["float", "base64", "binary", "ubinary", "int8", "uint8"]
# float32 values orjson writes at full length, and others: huge (unnormalised), subnormal, signed zero, NaN.
ADVERSARIAL = np.array([WORST_FLOAT32, -1.0349996e12, -9.780780e12, -1.38576445e-36, 1e-45, -0.0, np.nan,
                        -3.4028235e38, 0.12345678, -0.000012345678], dtype=np.float32)  # fmt: skip
ADVERSARIAL_SCORES = [WORST_SCORE, -1.6208716857283037e-308, float("nan"), 0.5, -12.345678329467773, 1e300]
texts = st.text(min_size=1, max_size=30).filter(lambda t: t.strip())


def vectors(seed: int, count: int, dims: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    kind = seed % 3
    if kind == 0:
        return rng.choice(ADVERSARIAL, size=(count, dims)).astype(np.float32)
    scale = 10.0 ** rng.integers(-8, 12) if kind == 1 else 1.0
    return (rng.standard_normal((count, dims)) * scale).astype(np.float32)


class StubEmbeddings:
    """The service's contract for the endpoint: vectors of the request's shape, from ``seed``."""

    def __init__(self, info: ModelInfo, seed: int) -> None:
        self.info, self.seed = info, seed

    def default_deadline(self) -> float:
        return 1e12

    def embed(self, request, deadline=None, cancelled=None):
        dims = min(request.dimensions or self.info.dimensions, self.info.dimensions)
        self.seed += 1
        return EmbedResult(vectors(self.seed, len(request.inputs), dims), 10**9, self.info.name)


class StubReranker:
    max_documents = 10_000

    def __init__(self, info: ModelInfo, seed: int) -> None:
        self.info, self.rng = info, np.random.default_rng(seed)

    def default_deadline(self) -> float:
        return 1e12

    def rerank(self, request, deadline=None, cancelled=None):
        scores = self.rng.choice(ADVERSARIAL_SCORES + [float(self.rng.random())], size=len(request.documents))
        return RerankResult(scores.astype(np.float64), 10**9, self.info.name)


def embeddings_endpoint(info: ModelInfo, seed: int) -> EmbeddingsEndpoint:
    return EmbeddingsEndpoint(StubEmbeddings(info, seed), make_settings(max_inputs=4096, record_options={}))


def assert_bounded(parsed, reply, info):
    bound = response_bound(parsed, info, 6_000_000)
    assert len(reply.content) <= bound.bytes
    return bound


models = st.builds(lambda name, dims: ModelInfo(name, dims, 512), st.text(max_size=40), st.integers(1, 1100))
formats = st.one_of(st.sampled_from(TYPES), st.lists(st.sampled_from(TYPES), min_size=1, max_size=4))


@settings(max_examples=150, deadline=None)
@given(models, st.integers(1, 40), formats, st.one_of(st.none(), st.integers(1, 1100)), st.booleans(),
       st.sampled_from([JSON, JSONLINES]), st.integers(0, 10**6))  # fmt: skip
def test_an_embeddings_answer_is_never_larger_than_its_bound(info, count, types, dims, tei, accept, seed):
    body = {"inputs": ["x"] * count} if tei else {"input": ["x"] * count, "embedding_type": types}
    if dims is not None:
        body["dimensions"] = min(dims, info.dimensions)
    endpoint = embeddings_endpoint(info, seed)
    parsed = endpoint.parse(json.dumps(body).encode(), JSON, accept)
    reply = endpoint.run(parsed)
    assert_bounded(parsed, reply, info)


@settings(max_examples=100, deadline=None)
@given(models, st.lists(st.tuples(texts, st.one_of(st.none(), formats), st.one_of(st.none(), st.integers(1, 600))),
                        min_size=1, max_size=30), st.integers(0, 10**6))  # fmt: skip
def test_a_records_answer_is_never_larger_than_its_bound(info, records, seed):
    lines = []
    for text, types, dims in records:
        options = {} if types is None else {"embedding_type": types}
        if dims is not None:
            options["dimensions"] = min(dims, info.dimensions)
        lines.append(json.dumps({"input": text, **options} if options else {"text": text}))
    endpoint = embeddings_endpoint(info, seed)
    parsed = endpoint.parse("\n".join(lines).encode(), JSONLINES, None)
    assert_bounded(parsed, endpoint.run(parsed), info)


ids = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), min_size=1, max_size=12)


@settings(max_examples=50, deadline=None)
@given(models, st.lists(st.tuples(ids, st.lists(texts.filter(lambda t: "\r" not in t), min_size=1, max_size=5)),
                        min_size=1, max_size=6), st.integers(0, 10**6))  # fmt: skip
def test_jina_csv_rows_are_bounded_too(info, rows, seed):
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")  # Jina's rows: id, inputs, parameters
    writer.writerows([row_id, json.dumps(inputs), '{"embedding_type": "float"}'] for row_id, inputs in rows)
    endpoint = embeddings_endpoint(info, seed)
    parsed = endpoint.parse(out.getvalue().encode(), CSV, None)
    assert parsed.body.rows, "Jina rows"
    assert_bounded(parsed, endpoint.run(parsed), info)


documents = st.lists(st.text(max_size=60), min_size=1, max_size=30)


@settings(max_examples=150, deadline=None)
@given(models, texts, documents, st.one_of(st.none(), st.integers(1, 40)), st.booleans(), st.booleans(),
       st.sampled_from([JSON, JSONLINES]), st.integers(0, 10**6))  # fmt: skip
def test_a_rerank_answer_is_never_larger_than_its_bound(info, query, docs, top_n, echo, tei, accept, seed):
    if tei:
        body = {"query": query, "texts": docs, "return_text": echo}
    else:
        body = {"query": query, "documents": docs, "return_documents": echo, "top_n": top_n}
    endpoint = RerankEndpoint(StubReranker(info, seed))
    parsed = endpoint.parse(json.dumps(body).encode(), JSON, accept)
    assert_bounded(parsed, endpoint.run(parsed), info)
    records = endpoint.parse(json.dumps(body).encode() + b"\n" + json.dumps(body).encode(), JSONLINES, accept)
    assert_bounded(records, endpoint.run(records), info)


@settings(max_examples=100, deadline=None)
@given(models, st.lists(texts, min_size=1, max_size=30), st.lists(st.sampled_from(TYPES), min_size=1, max_size=6),
       st.one_of(st.none(), st.integers(1, 1100)), texts, documents, st.one_of(st.none(), st.integers(1, 40)),
       st.integers(0, 10**6))  # fmt: skip
def test_cohere_v2_answers_are_never_larger_than_their_bound(info, inputs, types, dims, query, docs, top_n, seed):
    body = {"texts": inputs, "input_type": "search_document", "embedding_types": types}
    if dims is not None:
        body["output_dimension"] = min(dims, info.dimensions)
    for endpoint in (embeddings_endpoint(info, seed).cohere(), embeddings_endpoint(info, seed).invocations()):
        parsed = endpoint.parse(json.dumps(body).encode(), JSON, None)
        assert parsed.body.format.shape == "cohere"  # /invocations reads Cohere's body too
        assert_bounded(parsed, endpoint.run(parsed), info)
    native = RerankEndpoint(StubReranker(info, seed))
    for reranker in (native.cohere(), native.invocations()):
        rerank = {"model": "m", "query": query, "documents": docs, "top_n": top_n, "api_version": 2}
        parsed = reranker.parse(json.dumps(rerank).encode(), JSON, None)
        assert parsed.body.format == "cohere"
        assert_bounded(parsed, reranker.run(parsed), info)


@settings(max_examples=100, deadline=None)
@given(models, st.integers(1, 30), formats, st.booleans(), st.lists(documents, min_size=1, max_size=4),
       st.integers(0, 10**6))  # fmt: skip
def test_vertex_predictions_are_never_larger_than_their_bound(info, count, types, reranker, instances, seed):
    embeddings = embeddings_endpoint(info, seed)
    kind = "rerank" if reranker else "embed"
    vertex = VertexEndpoint(embeddings, RerankEndpoint(StubReranker(info, seed)), None, lambda: kind, 4096)
    if reranker:
        body = {"instances": [{"query": "q", "documents": docs} for docs in instances]}
    else:
        body = {"instances": ["x"] * count, "parameters": {"embedding_type": types}}
    parsed = vertex.parse(json.dumps(body).encode(), JSON, None)
    reply = vertex.run(parsed)
    bound = response_bound(parsed, info, 1_500_000)
    assert len(reply.content) + 1024 <= bound.bytes  # room for what Vertex adds around the predictions


@pytest.mark.parametrize("dims", [1, 7, 384, 1024])
@pytest.mark.parametrize("types", [["float"], ["base64"], ["binary"], ["ubinary"], ["int8"], ["uint8"], TYPES])
def test_the_bound_is_tight_for_the_worst_vectors(dims, types):
    """Worst-case values (every float 16 characters, every binary byte -128, every ubinary 255) reach the bound
    within the index digits."""
    info = ModelInfo("m", dims, 512)
    worst = {"float": WORST_FLOAT32, "base64": 1.0, "binary": -1.0, "ubinary": 1.0, "int8": -1.0, "uint8": 1.0}

    class Worst(StubEmbeddings):
        def embed(self, request, deadline=None, cancelled=None):
            return EmbedResult(np.full((len(request.inputs), dims), worst[types[0]], np.float32), 10**19, "m")

    endpoint = EmbeddingsEndpoint(Worst(info, 0), make_settings(max_inputs=4096, record_options={}))
    parsed = endpoint.parse(json.dumps({"input": ["x"] * 100, "embedding_type": types[0]}).encode(), JSON, None)
    bound = assert_bounded(parsed, endpoint.run(parsed), info)
    assert bound.bytes - len(endpoint.run(parsed).content) <= 100 + 2  # one index digit each, one separator


def test_the_longest_float_texts_are_what_the_bound_assumes():
    """Every float32 exponent, both signs, many mantissas: at most 16 characters; float64 at most 24."""
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**23, size=(512, 400), dtype=np.uint32) | (np.arange(512, dtype=np.uint32)[:, None] << 23)
    values = bits.view(np.float32).ravel()
    written = orjson.dumps(values[np.isfinite(values)], option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].split(b",")
    assert max(map(len, written)) == 16 == len(orjson.dumps(np.array([WORST_FLOAT32]),
                                                            option=orjson.OPT_SERIALIZE_NUMPY)) - 2  # fmt: skip
    doubles = rng.integers(0, 2**52, size=(4096, 40), dtype=np.uint64)
    doubles |= np.arange(4096, dtype=np.uint64)[:, None] << np.uint64(52)
    finite = [x for x in doubles.view(np.float64).ravel().tolist() if np.isfinite(x)]
    assert max(len(orjson.dumps(x)) for x in finite) == 24 == len(orjson.dumps(WORST_SCORE))


def embed_call(info: ModelInfo, count: int, types, dims=None):
    body = {"input": ["x"] * count, "embedding_type": types, **({"dimensions": dims} if dims else {})}
    return embeddings_endpoint(info, 0).parse(json.dumps(body).encode(), JSON, None)


@pytest.mark.parametrize(("dims", "float_fits", "base64_fits"), [(384, 912, 2048), (768, 457, 1446),
                                                                 (1024, 343, 1087)])  # fmt: skip
def test_over_the_limit_is_413_naming_what_fits(dims, float_fits, base64_fits):
    info = ModelInfo("all-MiniLM-L6-v2", dims, 512)
    with pytest.raises(ResponseTooLargeError) as refused:
        check_response(embed_call(info, 2048, "float"), info, 6_000_000)
    message = refused.value.message
    assert f"At most {float_fits} such inputs fit" in message, message
    assert f"{dims}-dimension float embeddings" in message
    assert f'"embedding_type": "base64" (little-endian float32: {base64_fits} of these inputs fit)' in message
    assert response_bound(embed_call(info, float_fits, "float"), info, 0).bytes <= 6_000_000
    assert response_bound(embed_call(info, float_fits + 1, "float"), info, 0).bytes > 6_000_000
    check_response(embed_call(info, float_fits, "float"), info, 6_000_000)  # fits: no error
    if base64_fits == 2048:
        check_response(embed_call(info, 2048, "base64"), info, 6_000_000)


def test_no_limit_checks_nothing():
    info = ModelInfo("m", 8192, 512)
    check_response(embed_call(info, 2048, "float"), info, None)


def test_an_answer_encoded_past_the_limit_is_413_too():
    """A request parsed while the model loaded was not bounded: its encoded answer is checked."""
    info = ModelInfo("m", 8, 512)
    parsed = embed_call(info, 1, "float")
    check_reply(parsed, 6_000_000, 6_000_000)
    check_reply(parsed, 10**9, None)
    with pytest.raises(ResponseTooLargeError, match="the answer is 6.00 MB, more than the 6 MB"):
        check_reply(parsed, 6_000_001, 6_000_000)
    vertex = VertexEndpoint(embeddings_endpoint(info, 0), RerankEndpoint(StubReranker(info, 0)), None,
                            lambda: "embed", 8)  # fmt: skip
    predictions = vertex.parse(b'{"instances": ["x"]}', JSON, None)
    with pytest.raises(ResponseTooLargeError):  # Vertex adds its own fields around the predictions
        check_reply(predictions, 1_500_000 - 1000, 1_500_000)
