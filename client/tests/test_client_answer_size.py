"""Requests are cut so that each answer fits the endpoint's response limit (``max_response_bytes``, by default the
body limit: SageMaker real-time 6 MB, Serverless 4 MB, Vertex AI 1.5 MB), bounded from the number of inputs, the
dimensions (``dimensions``, else the model's once an answer showed them, else 8192) and the types asked for."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embedding_client import EmbeddingClient, plan_batches
from embedding_client.sizing import (
    ASSUMED_DIMENSIONS,
    FRAME_BYTES,
    classify_answer_bytes,
    embedding_answer_bytes,
    most_tokens,
    multivector_answer_bytes,
)

OPTIONS = {"embedding_type": ["base64"], "normalized": True, "truncate": True}


@settings(max_examples=200, deadline=None)
@given(count=st.integers(1, 300), batch_size=st.integers(1, 64), answer=st.integers(1, 5000),
       limit=st.integers(FRAME_BYTES + 1, 60_000))  # fmt: skip
def test_batches_keep_every_answer_within_the_limit(count, batch_size, answer, limit):
    items = ["x"] * count
    if FRAME_BYTES + answer > limit:
        with pytest.raises(ValueError, match="more than the .* the endpoint returns"):
            plan_batches(items, OPTIONS, batch_size, 10**9, answer_bytes=answer, max_answer_bytes=limit)
        return
    batches = plan_batches(items, OPTIONS, batch_size, 10**9, answer_bytes=answer, max_answer_bytes=limit)
    assert [i for batch in batches for i in batch] == list(range(count))
    assert all(FRAME_BYTES + len(batch) * answer <= limit and len(batch) <= batch_size for batch in batches)
    fitting = min(batch_size, (limit - FRAME_BYTES) // answer)
    assert all(len(batch) == fitting for batch in batches[:-1])  # as many as fit


def answer_entry(kinds: list[str], dims: int, index: int) -> int:
    """The JSON the server writes for one input: worst-case values (floats of 16 characters, -128, 255)."""
    vector = np.full(dims, -1.40372895e-05, dtype=np.float32)
    packed = -(-dims // 8)
    values = {"float": "[" + ",".join(["-0.0000140372895"] * dims) + "]",
              "base64": json.dumps(base64.b64encode(vector.astype("<f4").tobytes()).decode()),
              "binary": json.dumps([-128] * packed, separators=(",", ":")),
              "ubinary": json.dumps([255] * packed, separators=(",", ":"))}  # fmt: skip
    embedding = "{" + ",".join(f'"{kind}":{values[kind]}' for kind in kinds) + "}"
    return len(f'{{"object":"embedding","index":{index},"embedding":{embedding}}},')


@pytest.mark.parametrize("dims", [1, 8, 384, 1000, 1024, 8192])
@pytest.mark.parametrize("kinds", [["base64"], ["binary"], ["ubinary"], ["float"], ["base64", "binary", "ubinary"]])
def test_the_answer_bound_is_at_least_the_longest_entry(dims, kinds):
    assert answer_entry(kinds, dims, 9_999_999) <= embedding_answer_bytes(kinds, dims)


class Answering:
    """A transport answering base64 embeddings of ``dims`` dimensions (one per input), recording the counts."""

    def __init__(self, dims: int) -> None:
        self.dims, self.counts = dims, []

    def post(self, body: bytes) -> bytes:
        request = json.loads(body)
        dims = request.get("dimensions", self.dims)
        self.counts.append(len(request["input"]))
        value = base64.b64encode(np.zeros(dims, "<f4").tobytes()).decode()
        data = [{"object": "embedding", "index": i, "embedding": {"base64": value}}
                for i in range(len(request["input"]))]  # fmt: skip
        return json.dumps({"object": "list", "model": "m", "data": data, "usage": {}}).encode()


def test_the_first_answer_shows_the_dimensions_that_size_the_rest():
    transport = Answering(384)
    client = EmbeddingClient(transport=transport, batch_size=2048)
    assert client.embed(["t"] * 3000).shape == (3000, 384)
    first = (6_000_000 - FRAME_BYTES) // embedding_answer_bytes(["base64"], ASSUMED_DIMENSIONS)
    assert transport.counts == [first, 2048, 3000 - first - 2048]
    transport.counts.clear()
    client.embed(["t"] * 2000)  # the client remembers them
    assert transport.counts == [2000]


@pytest.mark.parametrize(("kwargs", "expected"), [({}, 6_000_000), ({"mode": "serverless"}, 4_000_000),
                                                  ({"max_body_bytes": 300}, 6_000_000),
                                                  ({"max_response_bytes": 10_000_000}, 10_000_000)])  # fmt: skip
def test_the_response_limit_is_the_platforms_unless_given(kwargs, expected):
    assert EmbeddingClient(transport=Answering(8), **kwargs).max_response_bytes == expected


def test_vertex_answers_are_cut_at_1_5_mb_or_10_on_a_dedicated_endpoint(monkeypatch):
    monkeypatch.setattr("embedding_client.client.google_token", lambda credentials: lambda: "token")
    shared = EmbeddingClient.vertex("p", "us-central1", "1", credentials=object())
    assert shared.max_response_bytes == 1_500_000
    dedicated = EmbeddingClient.vertex("p", "us-central1", "1", credentials=object(), dedicated=True,
                                       api_endpoint="https://1.us-central1-1.prediction.vertexai.goog")  # fmt: skip
    assert dedicated.max_response_bytes == 10_000_000


def test_serverless_answers_are_cut_at_4_mb():
    transport = Answering(1024)
    EmbeddingClient(transport=transport, batch_size=2048, mode="serverless").embed(["t"] * 2048, dimensions=1024)
    assert max(transport.counts) * embedding_answer_bytes(["base64"], 1024) + FRAME_BYTES <= 4_000_000


def multivector_entry(kinds: list[str], dims: int, tokens: int, index: int) -> int:
    """The JSON the server writes for one multi-vector input: ``tokens`` worst-case vectors of each type."""
    vector = np.full(dims, -1.40372895e-05, dtype=np.float32)
    packed = -(-dims // 8)
    one = {"float": "[" + ",".join(["-0.0000140372895"] * dims) + "]",
           "base64": json.dumps(base64.b64encode(vector.astype("<f4").tobytes()).decode()),
           "binary": json.dumps([-128] * packed, separators=(",", ":")),
           "ubinary": json.dumps([255] * packed, separators=(",", ":"))}  # fmt: skip
    embeddings = "{" + ",".join(f'"{kind}":[' + ",".join([one[kind]] * tokens) + "]" for kind in kinds) + "}"
    return len(f'{{"object":"embeddings","index":{index},"embeddings":{embeddings}}},')


@pytest.mark.parametrize("dims", [1, 8, 96, 128, 1024])
@pytest.mark.parametrize("tokens", [0, 1, 32, 512])
@pytest.mark.parametrize("kinds", [["base64"], ["binary"], ["ubinary"], ["float"], ["base64", "binary", "ubinary"]])
def test_the_multivector_bound_is_at_least_the_longest_entry(dims, tokens, kinds):
    assert multivector_entry(kinds, dims, tokens, 9_999_999) <= multivector_answer_bytes(kinds, dims, tokens)


@pytest.mark.parametrize(("text", "input_type", "query_length", "max_length", "expected"), [
    ("hello", "document", None, None, 13), ("hello", "document", 32, 8, 8), ("東京", "document", None, 512, 14),
    ("hello", "query", 32, 512, 32), ("hello", "query", None, 512, 512), ("hello", "query", None, None, 8192),
])  # fmt: skip
def test_token_counts_are_bounded_as_the_server_bounds_them(text, input_type, query_length, max_length, expected):
    assert most_tokens(text, input_type, query_length, max_length) == expected


@pytest.mark.parametrize("labels", [["a"], ["sports", "politics", "science", "travel"], ["é" * 40, "x"],
                                    [f"label {i}" for i in range(256)]])  # fmt: skip
def test_the_classify_bound_is_at_least_the_longest_entry(labels):
    score = -1.3118662508860245e-05  # 24 characters, a float64's most
    longest = max(labels, key=lambda label: len(json.dumps(label, ensure_ascii=False).encode()))
    entry = {"object": "classification", "index": 9_999_999, "prediction": longest, "score": score,
             "predictions": [{"label": label, "score": score} for label in labels]}  # fmt: skip
    written = len(json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode()) + 1
    assert written <= classify_answer_bytes(labels)


@settings(max_examples=200, deadline=None)
@given(answers=st.lists(st.integers(1, 20_000), min_size=1, max_size=80), batch_size=st.integers(1, 16),
       limit=st.integers(FRAME_BYTES + 1, 60_000))  # fmt: skip
def test_batches_with_an_answer_bound_per_item(answers, batch_size, limit):
    """Greedy: each batch's answers fit (an item over the limit alone, with ``alone_if_over``), in order."""
    items = ["x"] * len(answers)
    if any(FRAME_BYTES + answer > limit for answer in answers):
        with pytest.raises(ValueError, match="more than the .* the endpoint returns"):
            plan_batches(items, OPTIONS, batch_size, 10**9, answer_bytes=answers, max_answer_bytes=limit)
    batches = plan_batches(items, OPTIONS, batch_size, 10**9, answer_bytes=answers, max_answer_bytes=limit,
                           alone_if_over=True)  # fmt: skip
    assert [i for batch in batches for i in batch] == list(range(len(items)))
    for batch, after in zip(batches, [*batches[1:], None], strict=True):
        total = FRAME_BYTES + sum(answers[i] for i in batch)
        assert len(batch) <= batch_size and (total <= limit or len(batch) == 1)
        if after is not None and len(batch) < batch_size:  # the next item did not fit
            assert total + answers[after.start] > limit
