"""``tokenize``, ``decode`` and ``segment`` against the real server on the embedded all-MiniLM-L6-v2: ids equal
``AutoTokenizer``'s (run by the server's interpreter), answers equal the server's own ``/tokenize``, ``/decode`` and
``/v1/segment``; requests are cut by ``batch_size`` and the body limit, and halved on a 413 (that server answers at
most 50,000 bytes). Transports that reach only one URL (SageMaker, Azure ML, Vertex AI) raise ``TypeError`` before
anything is sent."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from server_process import tokenizer_ids

from embedding_client import EmbeddingClient, Segmentation, Token

TEXTS = [
    "Hello world!",
    "héllo wörld, ça va? 東京タワー",
    "a literal [SEP] in the text",
    "tokenization of unbelievably long words",
    " leading and trailing spaces ",
]
CONTENT = "Segments end at sentences. Or at lines!\nA long text becomes chunks.\n\nEach chunk fits the model."


def direct(url: str, path: str, **body: Any) -> Any:
    response = requests.post(f"{url}{path}", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def reference() -> dict[str, list[list[int]]]:
    return tokenizer_ids(TEXTS)


def test_tokenize_ids_equal_autotokenizer(minilm_server: str, reference: dict[str, list[list[int]]]) -> None:
    client = EmbeddingClient.local(minilm_server)
    for special, key in ((True, "with"), (False, "without")):
        tokens = client.tokenize(TEXTS, add_special_tokens=special)
        assert [[token.id for token in text] for text in tokens] == reference[key]
        raw = direct(minilm_server, "/tokenize", inputs=TEXTS, add_special_tokens=special)
        assert [[Token(**token) for token in text] for text in raw] == tokens
        for text, listed in zip(TEXTS, tokens, strict=True):
            for token in listed:
                assert isinstance(token, Token) and (token.special or token.start is not None)
                if token.start is not None and token.stop is not None:  # a literal [SEP] too: special, with offsets
                    assert text[token.start : token.stop] == token.text
        assert sum(token.start is None for text in tokens for token in text) == (10 if special else 0)
    single = client.tokenize("Hello world!")
    assert [token.id for token in single] == reference["with"][0] and single[0] == Token(101, "[CLS]", True, None, None)


def test_prompt_names(local_server: str) -> None:
    """The fake model defines prompts (``query``, ``passage``): the named one goes before each text."""
    client = EmbeddingClient.local(local_server)
    got = client.tokenize(["a b", "c"], prompt_name="query")
    raw = direct(local_server, "/tokenize", inputs=["a b", "c"], prompt_name="query")
    assert [[Token(**token) for token in text] for text in raw] == got and got[0][1].text == "query:"
    with pytest.raises(Exception, match="prompt_name 'nope'"):
        client.tokenize("a", prompt_name="nope")


def test_tokenize_splits_and_halves_on_413(minilm_server: str) -> None:
    texts = [f"text number {i} " + "with a few more words " * (i % 9) for i in range(150)]
    whole = [[token.id for token in text] for text in EmbeddingClient.local(minilm_server).tokenize(texts[:10])]
    client = EmbeddingClient.local(minilm_server, batch_size=64, concurrency=2)
    client.transport.post_path = _counting(client.transport.post_path, counts := [])  # type: ignore[method-assign]
    tokens = client.tokenize(texts)  # 150 texts of up to 60 tokens, 70 bytes each: 413s above 50,000 bytes
    assert len(tokens) == len(texts) and [[token.id for token in text] for text in tokens[:10]] == whole
    assert [text for text, _ in counts].count("/tokenize") == len(counts) and max(n for _, n in counts) == 64
    assert sum(n for _, n in counts) > len(texts)  # some requests were refused and sent again in halves
    for text, listed in zip(texts, tokens, strict=True):
        assert " ".join(token.text for token in listed[1:-1]).replace(" ", "") == text.replace(" ", "").lower()


def _counting(post: Any, counts: list[tuple[str, int]]) -> Any:
    def counted(path: str, body: bytes) -> bytes:
        counts.append((path, len(json.loads(body)["inputs"])))
        return bytes(post(path, body))

    return counted


def test_decode(minilm_server: str, reference: dict[str, list[list[int]]]) -> None:
    client = EmbeddingClient.local(minilm_server, batch_size=2)
    assert client.decode([101, 7592, 2088, 999, 102]) == "hello world!"
    texts = client.decode(reference["with"])  # five sequences: three requests
    assert texts == direct(minilm_server, "/decode", ids=reference["with"])
    assert texts[0] == "hello world!" and texts[3] == "tokenization of unbelievably long words"
    kept = client.decode(reference["with"][:1], skip_special_tokens=False)
    assert kept == ["[CLS] hello world! [SEP]"]
    with pytest.raises(ValueError, match="ids must not be empty"):
        client.decode([])


def test_segment(minilm_server: str) -> None:
    client = EmbeddingClient.local(minilm_server)
    segmented = client.segment(CONTENT, max_chunk_length=10)
    raw = direct(minilm_server, "/v1/segment", content=CONTENT, max_chunk_length=10, return_chunks=True)
    assert isinstance(segmented, Segmentation) and segmented.num_tokens == raw["num_tokens"] == 21
    assert segmented.chunks == raw["chunks"] and "".join(segmented.chunks) == CONTENT
    assert segmented.chunk_positions == [tuple(pair) for pair in raw["chunk_positions"]] and segmented.num_chunks == 3
    assert segmented.tokenizer == "all-MiniLM-L6-v2" and segmented.tokens is None
    tokens = client.segment(CONTENT, max_chunk_length=10, return_tokens=True).tokens
    assert tokens is not None and [len(chunk) for chunk in tokens] == [9, 6, 6] and tokens[0][0] == ("Segments", [9214])
    counted = client.segment(CONTENT, return_chunks=False, return_tokens=True, head=3)
    assert counted.chunks is None and counted.num_tokens == 21 and counted.tokens == [
        ("Segments", [9214]), ("end", [2203]), ("at", [2012])]  # fmt: skip
    assert client.segment("   ").chunks == []
    embedded = client.embed(segmented.chunks)  # the chunks go back as they are
    assert embedded.shape == (3, 384)


class Refuse:
    def post(self, body: bytes) -> bytes:
        raise AssertionError("not expected to be called")


def test_transports_that_reach_one_url_raise_before_sending(fake_aws: None) -> None:
    nowhere = "http://127.0.0.1:9"  # nothing listens: a request would be a connection error, not a TypeError

    class Credentials:
        token, valid, expired = "t", True, False

    reaching_one_url = {
        "a SageMaker endpoint": EmbeddingClient("e", "us-east-1", endpoint_url=nowhere),
        "an Azure ML scoring URI": EmbeddingClient.azure(f"{nowhere}/score", "key"),
        "a Vertex AI endpoint": EmbeddingClient.vertex(
            "p", "us-central1", "1", credentials=Credentials(), api_endpoint=nowhere
        ),  # fmt: skip
        "any transport": EmbeddingClient(transport=Refuse()),
    }
    for client in reaching_one_url.values():
        for call, path in ((lambda c: c.tokenize("a"), "/tokenize"), (lambda c: c.decode([1]), "/decode"),
                           (lambda c: c.segment("a"), "/v1/segment")):  # fmt: skip
            with pytest.raises(TypeError, match=f"needs POST {path}, which .* does not reach"):
                call(client)
