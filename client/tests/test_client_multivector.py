"""``EmbeddingClient.embed_multivector`` against the real server serving a tiny random late-interaction model
(PyLate layout), over every transport: a local server (``/v1/multi-vector``), real boto3 ``sagemaker-runtime``
(``/invocations``), an Azure-style scoring URI, Vertex AI ``:predict`` and ``:rawPredict`` (the server on Vertex's
routes). Token vectors are compared with Sentence Transformers' ``MultiVectorEncoder`` on the same folder (run by the
server's interpreter) and with the server's own answers; requests are cut so each answer fits the response limit
(a server answering at most 10,000 bytes), and a 413 sends each half."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from fixtures import VERTEX_ENDPOINT
from reach import Recording, clients
from server_process import multivector_encode

from embedding_client import EmbeddingClient, EmbeddingServiceError, MultiVectorResponse

TEXTS = [
    "Paris is the capital of France.",
    "x",
    "A much longer document, with punctuation; commas, and words. " * 6,  # beyond the 40 tokens: cut
    "!!!",  # nothing but skip-list tokens: the special and marker tokens only
    "hello world",
    "late interaction scores every query token against every document token",
    "héllo wörld, ça va? 東京",
]
ATOL = 1e-5
SIDES = ("document", "query")


@pytest.fixture(scope="module")
def reference(colbert_folder: Path) -> dict[str, list[np.ndarray]]:
    encoded = multivector_encode(colbert_folder, TEXTS)
    return {side: [np.array(vectors, dtype=np.float32) for vectors in encoded[side]] for side in SIDES}


def direct(url: str, **body: Any) -> dict[str, Any]:
    """The server's own answer to ``POST /v1/multi-vector`` (no client code involved)."""
    response = requests.post(f"{url}/v1/multi-vector", json=body, timeout=30)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def assert_close(got: list[np.ndarray], expected: list[np.ndarray], atol: float = ATOL) -> None:
    assert len(got) == len(expected)
    for index, (mine, theirs) in enumerate(zip(got, expected, strict=True)):
        assert mine.dtype == np.float32 and mine.shape == theirs.shape, (index, mine.shape, theirs.shape)
        np.testing.assert_allclose(mine, theirs, atol=atol, rtol=0, err_msg=f"input {index}")


@pytest.mark.parametrize("side", SIDES)
def test_token_vectors_equal_multivector_encoder_on_every_transport(
    colbert_server: str, reference: dict[str, list[np.ndarray]], side: str, fake_aws: None
) -> None:
    usage = direct(colbert_server, input=TEXTS, input_type=side)["usage"]["total_tokens"]
    for name, client in clients(colbert_server).items():
        response = client.embed_multivector(TEXTS, input_type=side)  # type: ignore[arg-type]
        assert isinstance(response, MultiVectorResponse) and isinstance(response.embeddings, list), name
        assert_close(response.embeddings, reference[side])
        assert len(response) == len(TEXTS) and response[1] is response.embeddings[1]
        assert response.total_tokens == (0 if name == "vertex" else usage), name  # :predict carries no usage
        assert response.model == ("" if name == "vertex" else "my-colbert"), name  # Vertex names its own model
    assert all(len(vectors) == 12 for vectors in reference["query"])  # expanded to the query length


def test_every_embedding_type_decodes_to_the_servers_values(colbert_server: str, fake_aws: None) -> None:
    texts = TEXTS[:5]
    for name, client in clients(colbert_server).items():
        for kind, dtype in (("float", np.float32), ("base64", np.float32), ("binary", np.int8), ("ubinary", np.uint8)):
            raw = [entry["embeddings"] for entry in direct(colbert_server, input=texts, embedding_type=kind,
                                                           dimensions=8)["data"]]  # fmt: skip
            expected = ([np.stack([np.frombuffer(base64.b64decode(v), "<f4") for v in rows]) for rows in raw]
                        if kind == "base64" else [np.array(rows, dtype=dtype) for rows in raw])  # fmt: skip
            got = client.embed_multivector(texts, embedding_type=kind, dimensions=8).embeddings
            assert isinstance(got, list) and [array.dtype for array in got] == [dtype] * len(texts), (name, kind)
            for mine, theirs in zip(got, expected, strict=True):
                np.testing.assert_array_equal(mine, theirs)  # float fetched as base64: the same float32 values
            assert got[0].shape[1] == (8 if kind in ("float", "base64") else 1)
        several = client.embed_multivector(texts, embedding_type=["float", "ubinary"], normalized=False)
        assert isinstance(several.embeddings, dict) and set(several.embeddings) == {"float", "ubinary"}
        for vectors, packed in zip(several.embeddings["float"], several.embeddings["ubinary"], strict=True):
            np.testing.assert_array_equal(packed, np.packbits(vectors > 0, axis=1))
        assert set(several[0]) == {"float", "ubinary"} and len(list(several)) == len(texts)


def test_options_and_a_single_text(colbert_server: str, reference: dict[str, list[np.ndarray]]) -> None:
    client = EmbeddingClient.local(colbert_server)
    single = client.embed_multivector("hello world", input_type="query")
    assert len(single) == 1 and single[0].shape == (12, 16)
    np.testing.assert_allclose(single[0], reference["query"][4], atol=ATOL, rtol=0)
    short = client.embed_multivector(TEXTS[:2], dimensions=8, normalized=False)
    raw = direct(colbert_server, input=TEXTS[:2], dimensions=8, normalized=False)["data"]
    for mine, entry in zip(short, raw, strict=True):
        np.testing.assert_array_equal(mine, np.array(entry["embeddings"], dtype=np.float32))
    with pytest.raises(EmbeddingServiceError) as raised:
        client.embed_multivector(TEXTS[2:3], truncate=False)
    assert raised.value.status == 400 and "more than the model's maximum of 40" in raised.value.message
    with pytest.raises(EmbeddingServiceError) as raised:
        client.embed_multivector(TEXTS[:1], dimensions=12)
    assert raised.value.status == 400 and "dimensions=12" in raised.value.message


TEN_KB = 10_000  # the small server's EMB_MAX_RESPONSE_MB=0.01


@pytest.mark.parametrize("side", SIDES)
def test_requests_are_cut_so_that_each_answer_fits(
    colbert_small_server: str, colbert_server: str, side: str, fake_aws: None
) -> None:
    texts = [f"document {i} " + "about late interaction " * (i % 5) for i in range(30)]
    whole = EmbeddingClient.local(colbert_server).embed_multivector(texts, input_type=side)  # type: ignore[arg-type]
    for name in ("local", "sagemaker"):  # GET /info tells the local client the model; SageMaker's learns it
        client = clients(colbert_small_server, max_response_bytes=TEN_KB)[name]
        recording = Recording(client)
        for kind in ("float", ["float", "binary"]):
            recording.sent.clear()
            response = client.embed_multivector(texts, input_type=side, embedding_type=kind)  # type: ignore[arg-type]
            vectors = response.embeddings if isinstance(response.embeddings, list) else response.embeddings["float"]
            assert_close(vectors, whole.embeddings, atol=1e-6)  # type: ignore[arg-type]
            assert len(recording.sent) > 3 and sum(recording.counts) == len(texts), (name, recording.sent)
            assert all(isinstance(size, int) and size <= TEN_KB for _, size in recording.sent), recording.sent


def test_a_413_sends_each_half(colbert_small_server: str, colbert_server: str, fake_aws: None) -> None:
    texts = [f"text {i} " * (1 + i % 6) for i in range(24)]
    whole = EmbeddingClient.local(colbert_server).embed_multivector(texts)
    for name in ("local", "sagemaker"):
        client = clients(colbert_small_server)[name]  # sized for 6 MB: the server refuses the larger requests
        recording = Recording(client)
        assert_close(client.embed_multivector(texts).embeddings, whole.embeddings, atol=1e-6)  # type: ignore[arg-type]
        refused = [count for count, size in recording.sent if size == "413"]
        answered = [count for count, size in recording.sent if isinstance(size, int)]
        assert refused and min(refused) > 1 and sum(answered) == len(texts), (name, recording.sent)


def test_one_text_whose_answer_cannot_fit(colbert_small_server: str, fake_aws: None) -> None:
    long = "word " * 100  # 40 tokens after the cut: 40 vectors of 16 values, about 3,700 bytes as base64
    local = EmbeddingClient.local(colbert_small_server, max_response_bytes=2_000)
    with pytest.raises(ValueError, match="more than the 2000 the endpoint returns"):
        local.embed_multivector([long])  # the model's max length known (GET /info): refused before sending
    sagemaker = EmbeddingClient("e", "us-east-1", endpoint_url=colbert_small_server, max_response_bytes=2_000)
    recording = Recording(sagemaker)
    response = sagemaker.embed_multivector(["short", long, long])  # its max length unknown: the server judges
    assert [vectors.shape for vectors in response] == [(4, 16), (40, 16), (40, 16)]
    assert recording.counts == [1, 1, 1]  # a bound over the limit goes alone, answered within the server's


class Refusing:
    """A transport whose server refuses (413) every answer of more than ``most`` inputs."""

    def __init__(self, most: int = 2) -> None:
        self.counts: list[int] = []
        self.most = most

    def post(self, body: bytes) -> bytes:
        texts = json.loads(body)["input"]
        self.counts.append(len(texts))
        if len(texts) > self.most:
            raise EmbeddingServiceError(413, "response_too_large", f"{len(texts)} inputs: {self.most} fit")
        vector = base64.b64encode(np.zeros(4, "<f4").tobytes()).decode()
        data = [{"object": "embeddings", "index": i, "embeddings": {"base64": [vector] * len(text)}}
                for i, text in enumerate(texts)]  # fmt: skip
        return json.dumps({"object": "list", "model": "m", "data": data, "usage": {"total_tokens": 1}}).encode()


def test_a_413_halves_down_to_one_input() -> None:
    transport = Refusing()
    response = EmbeddingClient(transport=transport).embed_multivector(["a", "bb", "ccc", "d", "ee", "fff", "g"])
    assert [len(vectors) for vectors in response] == [1, 2, 3, 1, 2, 3, 1] and response.total_tokens == 4
    assert transport.counts == [7, 3, 1, 2, 4, 2, 2]
    refusing = Refusing(most=0)
    with pytest.raises(EmbeddingServiceError, match="413 response_too_large: 1 inputs"):
        EmbeddingClient(transport=refusing).embed_multivector(["a", "b", "c"])
    assert refusing.counts == [3, 1]  # the first half, alone, is refused: raised


def test_an_embedding_model_is_refused(local_server: str, fake_aws: None) -> None:
    with pytest.raises(EmbeddingServiceError) as raised:
        EmbeddingClient.local(local_server).embed_multivector(["a"])
    assert raised.value.status == 400 and raised.value.code == "wrong_model_kind"
    with pytest.raises(EmbeddingServiceError) as raised:  # /invocations reads an embeddings body: input_type unknown
        EmbeddingClient("e", "us-east-1", endpoint_url=local_server).embed_multivector(["a"])
    assert raised.value.status == 400


def test_the_vertex_bodies(colbert_server: str) -> None:
    """What :predict is sent: the texts as instances, the options as parameters (Vertex's own envelope)."""
    client = clients(colbert_server)["vertex"]
    sent: list[Any] = []
    session_post = client.transport._session.request  # type: ignore[attr-defined]

    def spy(method: str, url: str, **kwargs: Any) -> Any:
        sent.append((url, json.loads(kwargs["data"])))
        return session_post(method, url, **kwargs)

    client.transport._session.request = spy  # type: ignore[attr-defined]
    client.embed_multivector(["a", {"text": "b"}], input_type="query", dimensions=8, embedding_type="binary")
    assert sent == [(f"{colbert_server}{VERTEX_ENDPOINT}:predict", {
        "instances": ["a", "b"],
        "parameters": {"input_type": "query", "embedding_type": ["binary"], "normalized": True, "truncate": True,
                       "dimensions": 8},
    })]  # fmt: skip


class Refuse:
    def post(self, body: bytes) -> bytes:
        raise AssertionError("not expected to be called")


@pytest.mark.parametrize(
    ("texts", "kwargs", "error", "message"),
    [
        ([], {}, ValueError, "texts must not be empty"),
        (["a", 3], {}, TypeError, r"texts\[1\] must be str"),
        ([b"\x89PNG"], {}, TypeError, "images are not embedded per token"),
        (["a"], {"input_type": "passage"}, ValueError, 'input_type must be "document" or "query"'),
        (["x" * 500], {}, ValueError, r"input\[0\] alone makes a \d+-byte body"),
    ],
)
def test_argument_checks(texts: list[Any], kwargs: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        EmbeddingClient(transport=Refuse(), max_body_bytes=300).embed_multivector(texts, **kwargs)
