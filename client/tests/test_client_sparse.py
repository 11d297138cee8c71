"""``EmbeddingClient.embed_sparse`` against the real server serving a tiny random SPLADE model, over every transport:
a local server (``/embed_sparse``), real boto3 ``sagemaker-runtime`` (``/invocations``), an Azure-style scoring URI,
Vertex AI ``:predict`` and ``:rawPredict`` (the server on Vertex's routes). Sparse vectors are compared with Sentence
Transformers' ``SparseEncoder`` on the same folder (run by the server's interpreter) and with the server's own
answers; requests are cut so each answer fits the response limit (every input bounded by the vocabulary), and a 413
sends each half."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from fixtures import VERTEX_ENDPOINT
from reach import Recording, clients
from server_process import sparse_encode

from embedding_client import EmbeddingClient, EmbeddingServiceError, SparseResponse, SparseVector
from embedding_client.sizing import sparse_answer_bytes

TEXTS = [
    "Paris is the capital of France.",
    "x",
    "A much longer document, with punctuation; commas, and words. " * 6,  # beyond the 32 tokens: cut
    "!!!",
    "hello world",
    "sparse lexical vectors weigh every vocabulary entry",
    "héllo wörld, ça va? 東京",
]
ATOL = 1e-5
VOCABULARY = 30522


@pytest.fixture(scope="module")
def reference(sparse_folder: Path) -> dict[str | None, list[dict[str, list[Any]]]]:
    return {None: sparse_encode(sparse_folder, TEXTS), "query": sparse_encode(sparse_folder, TEXTS, "query")}


def direct(url: str, **body: Any) -> list[list[dict[str, Any]]]:
    """The server's own answer to ``POST /embed_sparse`` (no client code involved)."""
    response = requests.post(f"{url}/embed_sparse", json=body, timeout=30)
    assert response.status_code == 200, response.text
    answer: list[list[dict[str, Any]]] = response.json()
    return answer


def assert_close(got: SparseResponse, expected: list[dict[str, list[Any]]], atol: float = ATOL) -> None:
    assert isinstance(got, SparseResponse) and len(got) == len(expected)
    for index, (mine, theirs) in enumerate(zip(got, expected, strict=True)):
        assert isinstance(mine, SparseVector) and mine.indices.dtype == np.int64 and mine.values.dtype == np.float32
        np.testing.assert_array_equal(mine.indices, theirs["indices"], err_msg=f"input {index}")
        np.testing.assert_allclose(mine.values, theirs["values"], atol=atol, rtol=0, err_msg=f"input {index}")


def test_sparse_vectors_equal_sparse_encoder_on_every_transport(
    sparse_server: str, reference: dict[str | None, list[dict[str, list[Any]]]], fake_aws: None
) -> None:
    for name, client in clients(sparse_server).items():
        response = client.embed_sparse(TEXTS)
        assert_close(response, reference[None])
        assert response.total_tokens == 0, name  # TEI's sparse answer carries no usage
        assert all(len(vector) > 0 and np.all(np.diff(vector.indices) > 0) for vector in response), name
        assert_close(client.embed_sparse(TEXTS[:3], prompt_name="query"), reference["query"][:3])
    assert all(len(a["indices"]) != len(b["indices"]) for a, b in zip(reference[None], reference["query"],
                                                                      strict=True))  # fmt: skip


def test_a_single_text_the_results_and_the_options(
    sparse_server: str, reference: dict[str | None, list[dict[str, list[Any]]]]
) -> None:
    client = EmbeddingClient.local(sparse_server)
    single = client.embed_sparse({"text": "hello world"})
    assert len(single) == 1 and single[0] is single.vectors[0]
    assert_close(single, reference[None][4:5])
    raw = direct(sparse_server, inputs="hello world")[0]
    assert single[0].to_dict() == pytest.approx({entry["index"]: entry["value"] for entry in raw}, abs=1e-7)
    dense = single[0].to_dense(VOCABULARY)
    assert dense.shape == (VOCABULARY,) and np.count_nonzero(dense) == len(raw)
    np.testing.assert_allclose(dense[single[0].indices], single[0].values)
    with pytest.raises(EmbeddingServiceError) as raised:
        client.embed_sparse(TEXTS[2:3], truncate=False)
    assert raised.value.status == 400 and "maximum" in raised.value.message
    with pytest.raises(EmbeddingServiceError) as raised:
        client.embed_sparse(["a"], prompt_name="passage")
    assert raised.value.status == 400 and "passage" in raised.value.message


def test_requests_are_cut_so_that_each_answer_fits(
    sparse_server: str, reference: dict[str | None, list[dict[str, list[Any]]]], fake_aws: None
) -> None:
    """An input may answer every vocabulary entry (about 1.2 MB): a local client (GET /info: the vocabulary) sends
    as many as fit its limit, a Vertex client (1.5 MB answers) one at a time."""
    per_input = sparse_answer_bytes(VOCABULARY)
    assert 1_100_000 < per_input < 1_300_000
    every = clients(sparse_server, max_response_bytes=3 * per_input + 1024)
    for name in ("local", "sagemaker"):  # SageMaker's guess (BERT's vocabulary) is this model's
        recording = Recording(every[name])
        assert_close(every[name].embed_sparse(TEXTS), reference[None])
        assert recording.counts == [3, 3, 1], (name, recording.sent)
    vertex = clients(sparse_server)["vertex"]
    recording = Recording(vertex)
    assert_close(vertex.embed_sparse(TEXTS[:3]), reference[None][:3])
    assert recording.counts == [1, 1, 1]
    with pytest.raises(ValueError, match="more than the 1000000 the endpoint returns"):
        EmbeddingClient.local(sparse_server, max_response_bytes=1_000_000).embed_sparse(["a"])


class Refusing:
    """A transport whose server refuses (413) every answer of more than ``most`` inputs."""

    def __init__(self, most: int = 2) -> None:
        self.counts: list[int] = []
        self.most = most

    def post(self, body: bytes) -> bytes:
        texts = json.loads(body)["inputs"]
        self.counts.append(len(texts))
        if len(texts) > self.most:
            raise EmbeddingServiceError(413, "response_too_large", f"{len(texts)} inputs: {self.most} fit")
        return json.dumps([[{"index": len(text), "value": 0.5}] for text in texts]).encode()


def test_a_413_halves_down_to_one_input() -> None:
    transport = Refusing()  # answers bounded by a vocabulary of 30,522 fit 10 MB eight at a time: one request of 7
    client = EmbeddingClient(transport=transport, max_response_bytes=10_000_000)
    response = client.embed_sparse(["a", "bb", "ccc", "d", "ee", "fff", "g"])
    assert [vector.to_dict() for vector in response] == [{n: 0.5} for n in (1, 2, 3, 1, 2, 3, 1)]
    assert transport.counts == [7, 3, 1, 2, 4, 2, 2] and response.total_tokens == 0
    refusing = Refusing(most=0)
    with pytest.raises(EmbeddingServiceError, match="413 response_too_large: 1 inputs"):
        EmbeddingClient(transport=refusing).embed_sparse(["a", "b", "c"])
    assert refusing.counts == [3, 1]


class Answering:
    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def post(self, body: bytes) -> bytes:
        return json.dumps(self.answer).encode()


def test_bad_answers_are_raised() -> None:
    with pytest.raises(EmbeddingServiceError, match="sent 2 inputs, got 1 sparse vectors"):
        EmbeddingClient(transport=Answering([[]])).embed_sparse(["a", "b"])
    with pytest.raises(EmbeddingServiceError) as raised:
        EmbeddingClient(transport=Answering({"data": [{"embedding": [0.1]}]})).embed_sparse(["a"])
    assert raised.value.code == "wrong_model_kind"
    with pytest.raises(EmbeddingServiceError, match="not a list of"):
        EmbeddingClient(transport=Answering([[{"index": 1}]])).embed_sparse(["a"])
    with pytest.raises(EmbeddingServiceError) as raised:
        EmbeddingClient(transport=Answering([[0.5, -0.5]])).embed_sparse(["a"])
    assert raised.value.code == "wrong_model_kind" and "dense" in raised.value.message
    unordered = EmbeddingClient(transport=Answering([[{"index": 9, "value": 1}, {"index": 2, "value": 3}]]))
    vector = unordered.embed_sparse("a")[0]
    assert vector.indices.tolist() == [2, 9] and vector.values.tolist() == [3.0, 1.0]


def test_an_embedding_model_is_refused(local_server: str, fake_aws: None) -> None:
    with pytest.raises(EmbeddingServiceError) as raised:
        EmbeddingClient.local(local_server).embed_sparse(["a"])
    assert raised.value.status == 400 and raised.value.code == "wrong_model_kind"
    with pytest.raises(EmbeddingServiceError) as raised:  # /invocations reads TEI's /embed body too: dense vectors
        EmbeddingClient("e", "us-east-1", endpoint_url=local_server).embed_sparse(["a"])
    assert raised.value.status == 200 and raised.value.code == "wrong_model_kind"


def test_the_vertex_and_native_bodies(sparse_server: str) -> None:
    """What :predict is sent (the texts as instances, the options as parameters) and what /embed_sparse is sent."""
    client = clients(sparse_server)["vertex"]
    sent: list[Any] = []
    session_post = client.transport._session.request  # type: ignore[attr-defined]

    def spy(method: str, url: str, **kwargs: Any) -> Any:
        if kwargs["data"] is not None:  # not GET /info
            sent.append((url, json.loads(kwargs["data"])))
        return session_post(method, url, **kwargs)

    client.transport._session.request = spy  # type: ignore[attr-defined]
    client.embed_sparse(["a", {"text": "b"}], prompt_name="query")
    assert sent == [(f"{sparse_server}{VERTEX_ENDPOINT}:predict", {
        "instances": ["a"], "parameters": {"truncate": True, "prompt_name": "query"}}),
        (f"{sparse_server}{VERTEX_ENDPOINT}:predict", {
        "instances": ["b"], "parameters": {"truncate": True, "prompt_name": "query"}})]  # fmt: skip
    local = EmbeddingClient.local(sparse_server)
    local.transport._session.request = spy  # type: ignore[attr-defined]
    sent.clear()
    local.embed_sparse(["a", "b"], truncate=False)
    assert sent == [(f"{sparse_server}/embed_sparse", {"truncate": False, "inputs": ["a", "b"]})]


class Refuse:
    def post(self, body: bytes) -> bytes:
        raise AssertionError("not expected to be called")


@pytest.mark.parametrize(
    ("texts", "kwargs", "error", "message"),
    [
        ([], {}, ValueError, "texts must not be empty"),
        (["a", 3], {}, TypeError, r"texts\[1\] must be str"),
        ([b"\x89PNG"], {}, TypeError, "a SPLADE model embeds no images"),
        (["a"], {"prompt_name": 3}, TypeError, "prompt_name must be a str"),
        (["x" * 500], {}, ValueError, r"inputs\[0\] alone makes a \d+-byte body"),
    ],
)
def test_argument_checks(texts: list[Any], kwargs: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        EmbeddingClient(transport=Refuse(), max_body_bytes=300).embed_sparse(texts, **kwargs)
