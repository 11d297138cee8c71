"""The tokenizer routes with the real all-MiniLM-L6-v2: TEI's ``/tokenize`` and ``/decode`` give the tokenizer's
own ids, offsets and text; the segmenter (``/v1/segment``) counts as the tokenizer counts and cuts a 20,000-token
text into chunks within the budget that the embeddings route, with ``late_chunking``, answers one vector each.
Prompts and the rate limits with the fake model: a tokenizer call is one request and no tokens."""

from __future__ import annotations

import random

import pytest
from transformers import AutoTokenizer

from inference.api.app import create_app
from inference.api.head_gate import HEAD_GATE
from inference.errors import UnsupportedMediaTypeError
from inference.handlers.fake import FakeEmbeddingHandler
from inference.model_dir import embedded_model_dir
from tests.conftest import make_settings
from tests.tiny_classifiers import build_multi_label_classifier
from tests.tiny_colbert import build_pylate_colbert
from tests.tiny_models import build_tiny_clip, build_tiny_st_bert, build_tiny_xlmr
from tests.tiny_rerankers import build_tiny_bert_reranker

TEXTS = ["Hello wörld, naïve café!", "Berlin is the capital of Germany. 日本語も", "a literal [SEP] inside", "   "]
WORDS = ("search engines rank documents by the vectors of their passages while people read the answers "
         "quickly and carefully before they choose which results matter most to them today").split()  # fmt: skip
MAX_LENGTH = 256  # the model's sentence-transformers max_seq_length


@pytest.fixture(scope="module")
def client():
    settings = make_settings(handler="text", model_dir=embedded_model_dir(), device="cpu", log_level="WARNING",
                             max_inputs=16)  # fmt: skip
    return create_app(settings, load_in_background=False).test_client()


@pytest.fixture(scope="module")
def hf():
    return AutoTokenizer.from_pretrained(embedded_model_dir())


def ok(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def refused(response, status=400):
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()["error"]["message"]


def long_text(tokens: int, hf) -> str:
    """Paragraphs of sentences, a line break now and then, one sentence far over any budget."""
    rng, paragraphs, count = random.Random(7), [], 0
    while count < tokens:  # WordPiece counts add up over whitespace
        sentences = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 30))).capitalize() + rng.choice(".!?")
                     for _ in range(rng.randint(2, 12))]  # fmt: skip
        joiner = "\n" if rng.random() < 0.2 else " "
        paragraphs.append(joiner.join(sentences))
        count += len(hf(paragraphs[-1], add_special_tokens=False)["input_ids"])
    paragraphs.insert(3, " ".join(rng.choice(WORDS) for _ in range(700)))  # no boundary but words
    return "\n\n".join(paragraphs)


# -- /tokenize ----------------------------------------------------------------------------------------------------
def test_tokens_are_the_tokenizers_own_with_offsets_into_the_text(client, hf):
    answer = ok(client.post("/tokenize", json={"inputs": TEXTS}))
    assert len(answer) == len(TEXTS)
    for text, tokens in zip(TEXTS, answer, strict=True):
        own = hf(text, return_offsets_mapping=True, return_special_tokens_mask=True)
        assert [t["id"] for t in tokens] == own["input_ids"]
        assert [t["special"] for t in tokens][0] and tokens[-1]["special"] and tokens[-1]["start"] is None
        added = own["special_tokens_mask"]
        offsets = [(t["start"], t["stop"]) for t, mask in zip(tokens, added, strict=True) if not mask]
        assert offsets == [tuple(span) for span, mask in zip(own["offset_mapping"], added, strict=True) if not mask]
        for token in tokens:
            if token["start"] is not None:
                assert token["text"] == text[token["start"] : token["stop"]]
            else:
                assert token["text"] in hf.all_special_tokens
    literal = next(t for t in answer[2] if t["text"] == "[SEP]" and t["start"] is not None)
    assert literal["special"] and literal["id"] == hf.sep_token_id  # a special token written in the text


def test_one_text_is_one_list_and_special_tokens_can_be_left_out(client, hf):
    answer = ok(client.post("/tokenize", json={"inputs": TEXTS[1], "add_special_tokens": False}))
    assert len(answer) == 1
    assert [t["id"] for t in answer[0]] == hf(TEXTS[1], add_special_tokens=False)["input_ids"]
    assert not any(t["special"] for t in answer[0])


def test_a_long_text_is_never_cut(client, hf):
    text = long_text(2000, hf)
    answer = ok(client.post("/tokenize", json={"inputs": text}))
    assert [t["id"] for t in answer[0]] == hf(text)["input_ids"] and len(answer[0]) > 2000


def test_prompt_name_puts_the_models_prompt_first():
    app = create_app(make_settings(handler="fake", log_level="WARNING"), load_in_background=False)
    fake = app.test_client()
    tokens = ok(fake.post("/tokenize", json={"inputs": "hello world", "prompt_name": "query"}))[0]
    assert [t["text"] for t in tokens] == ["[CLS]", "query:", "hello", "world", "[SEP]"]
    assert tokens[2]["start"] == len("query: ")  # offsets count from the prompt's start
    same = FakeEmbeddingHandler(make_settings()).tokenize(["hello world"], "query", False)[0]
    assert [t["id"] for t in tokens] == same  # the tokens the fake model embeds
    assert "its prompts: passage, query" in refused(fake.post("/tokenize", json={"inputs": "x", "prompt_name": "q"}))


def test_a_model_without_prompts_says_so(client):
    assert "defines none" in refused(client.post("/tokenize", json={"inputs": "x", "prompt_name": "query"}))


# -- /decode ------------------------------------------------------------------------------------------------------
def test_decode_round_trips(client, hf):
    ids = hf(TEXTS[1])["input_ids"]
    assert ok(client.post("/decode", json={"ids": ids})) == [hf.decode(ids, skip_special_tokens=True)]
    both = ok(client.post("/decode", json={"ids": [ids, ids[1:3]], "skip_special_tokens": False}))
    assert both == [hf.decode(ids), hf.decode(ids[1:3])] and both[0].startswith("[CLS]")
    assert ok(client.post("/decode", json={"ids": []})) == [""]


@pytest.mark.parametrize("ids", [[-1], [30522], [10**12], ["a"], [1.5], [[1], 2]])
def test_bad_ids_are_a_400(client, ids):
    refused(client.post("/decode", json={"ids": ids}))


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [("/tokenize", {"input": "x"}, "did you mean 'inputs'?"), ("/decode", {"ids": [1], "skip_special": True}, "ids"),
     ("/v1/segment", {"content": "x", "max_chunk_len": 5}, "max_chunk_length"), ("/segment", {"text": "x"}, "content")],
)  # fmt: skip
def test_unknown_fields_are_a_400_naming_them(client, path, body, named):
    message = refused(client.post(path, json=body))
    assert "unknown field" in message and named in message


# -- the segmenter ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def wide_client():
    """A server that takes a request of many inputs (EMB_MAX_INPUTS' default)."""
    settings = make_settings(handler="text", model_dir=embedded_model_dir(), device="cpu", log_level="WARNING")
    return create_app(settings, load_in_background=False).test_client()


def test_a_20000_token_text_comes_back_in_chunks_within_the_budget_that_late_chunking_embeds(client, wide_client,
                                                                                              hf):  # fmt: skip
    text, budget = long_text(20_000, hf), 60
    answer = ok(client.post("/v1/segment", json={"content": text, "return_chunks": True, "max_chunk_length": budget}))
    assert answer["num_tokens"] == len(hf(text, add_special_tokens=False)["input_ids"]) >= 20_000
    assert answer["usage"] == {"tokens": 0} and answer["tokenizer"] == "all-MiniLM-L6-v2"
    chunks = answer["chunks"]
    assert "".join(chunks) == text and answer["num_chunks"] == len(chunks)
    assert [text[a:b] for a, b in answer["chunk_positions"]] == chunks
    counts = [len(hf(chunk, add_special_tokens=False)["input_ids"]) for chunk in chunks]
    assert max(counts) <= budget and min(counts) >= 1 and sum(counts) == answer["num_tokens"]
    # Sent back unchanged, all in one request with late_chunking: one vector per chunk. The chunks together pass
    # the model's 256 tokens, so they are encoded in windows of whole chunks (each its [CLS] ... [SEP]).
    body = {"input": chunks, "late_chunking": True, "truncate": False}
    embedded = ok(wide_client.post("/v1/embeddings", json=body))
    assert [item["index"] for item in embedded["data"]] == list(range(len(chunks)))
    windows = (embedded["usage"]["total_tokens"] - sum(counts)) // 2
    assert embedded["usage"]["total_tokens"] == sum(counts) + 2 * windows
    assert sum(counts) / (MAX_LENGTH - 2) <= windows < len(chunks)  # windows are full: chunks share them


def test_chunks_prefer_sentence_and_line_ends_and_default_to_one_model_input(client, hf):
    text = long_text(3000, hf)
    answer = ok(client.post("/segment", json={"content": text, "return_chunks": True}))
    counts = [len(hf(chunk)["input_ids"]) for chunk in answer["chunks"]]
    assert max(counts) <= MAX_LENGTH  # with [CLS] and [SEP]: each chunk is one whole model input
    ends = [chunk.rstrip()[-1] for chunk in answer["chunks"][:-1]]
    assert sum(end in ".!?" for end in ends) >= len(ends) - 3  # only the 700-word sentence is cut between words


def test_tokens_head_and_tail(client, hf):
    text = TEXTS[1]
    ids = hf(text, add_special_tokens=False)["input_ids"]
    answer = ok(client.post("/v1/segment", json={"content": text, "return_tokens": True}))
    assert answer["num_tokens"] == len(ids) and "chunks" not in answer
    assert [pair[1] for pair in answer["tokens"]] == [[i] for i in ids]
    head = ok(client.post("/v1/segment", json={"content": text, "return_tokens": True, "head": 3}))
    assert [pair[1][0] for pair in head["tokens"]] == ids[:3]
    tail = ok(client.post("/v1/segment", json={"content": text, "return_tokens": True, "return_chunks": True,
                                               "tail": 4}))  # fmt: skip
    assert tail["chunks"] == [text[tail["chunk_positions"][0][0] :]] and tail["chunks"][0].startswith("日")
    assert [pair[1][0] for pair in tail["tokens"][0]] == ids[-4:]


@pytest.mark.parametrize(
    ("body", "named"),
    [({"head": 2, "tail": 2}, "head and tail"), ({"max_chunk_length": 0}, "max_chunk_length"),
     ({"max_chunk_length": 10**12}, "max_chunk_length"), ({"tokenizer": "cl100k_base"}, "all-MiniLM-L6-v2"),
     ({"head": -1}, "head"), ({"return_chunks": "yes"}, "return_chunks")],
)  # fmt: skip
def test_bad_segment_requests_are_a_400(client, body, named):
    assert named in refused(client.post("/v1/segment", json={"content": "some text", **body}))


def test_the_served_tokenizer_may_be_named_and_empty_content_has_no_chunks(client):
    answer = ok(client.post("/v1/segment", json={"content": " \n ", "tokenizer": "all-MiniLM-L6-v2",
                                                 "return_chunks": True}))  # fmt: skip
    assert answer["num_tokens"] == 0 and answer["chunks"] == [] and answer["num_chunks"] == 0


# -- access -------------------------------------------------------------------------------------------------------
def test_a_tokenizer_call_is_one_request_and_no_tokens():
    settings = make_settings(handler="fake", log_level="WARNING", rate_limit_rpm=4, rate_limit_tpm=5)
    limited = create_app(settings, load_in_background=False).test_client()
    assert ok(limited.post("/v1/embeddings", json={"input": "one two three"}))  # 5 tokens: the bucket is empty
    assert refused(limited.post("/v1/embeddings", json={"input": "x"}), 429)
    calls = [("/tokenize", {"inputs": "a b c d e f"}), ("/decode", {"ids": [1, 2]}), ("/v1/segment", {"content": "a"})]
    remaining = []
    for path, body in calls:  # no token left, yet answered: each takes one request
        response = limited.post(path, json=body)
        assert response.status_code == 200, path
        assert "X-RateLimit-Remaining-Tokens" not in response.headers
        remaining.append(int(response.headers["X-RateLimit-Remaining-Requests"]))
    assert remaining == [2, 1, 0]
    assert "requests per minute" in refused(limited.post("/tokenize", json={"inputs": "x"}), 429)


def test_the_head_gate_refuses_a_body_the_api_does_not_read():
    app = create_app(make_settings(handler="fake", log_level="WARNING"), load_in_background=False)
    gate = app.extensions[HEAD_GATE]
    assert isinstance(gate("POST", "/tokenize", {"content-type": "text/plain"}, 10), UnsupportedMediaTypeError)
    assert gate("POST", "/v1/segment", {"content-type": "application/json"}, 10) is None


def test_the_routes_are_in_the_api_document(client):
    paths = ok(client.get("/openapi.json"))["paths"]
    assert {"/tokenize", "/decode", "/v1/segment", "/segment"} <= set(paths)
    assert paths["/tokenize"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "TokenizeResponse")


# -- every model kind ---------------------------------------------------------------------------------------------
KINDS = {
    "st-bert-prompts": lambda folder: build_tiny_st_bert(folder, prompts={"query": "query : "}),
    "xlmr": build_tiny_xlmr,
    "clip": build_tiny_clip,
    "reranker": build_tiny_bert_reranker,
    "classifier": build_multi_label_classifier,
    "colbert": build_pylate_colbert,
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_model_kind_tokenizes_and_segments_with_its_own_tokenizer(kind, tmp_path):
    folder = KINDS[kind](tmp_path / kind)
    settings = make_settings(model_dir=folder, handler="auto", device="cpu", log_level="WARNING")
    kinded = create_app(settings, load_in_background=False).test_client()
    own = AutoTokenizer.from_pretrained(folder)
    text = "query : hello world . passage river the"
    tokens = ok(kinded.post("/tokenize", json={"inputs": text}))[0]
    assert [t["id"] for t in tokens] == own(text)["input_ids"]
    answer = ok(kinded.post("/v1/segment", json={"content": text * 3, "return_chunks": True, "max_chunk_length": 4}))
    assert answer["num_tokens"] == len(own(text * 3, add_special_tokens=False)["input_ids"])
    assert "".join(answer["chunks"]) == text * 3
    assert max(len(own(c, add_special_tokens=False)["input_ids"]) for c in answer["chunks"]) <= 4
    if kind == "st-bert-prompts":  # the folder's own prompt
        prompted = ok(kinded.post("/tokenize", json={"inputs": "hello", "prompt_name": "query"}))[0]
        assert [t["id"] for t in prompted] == own("query : hello")["input_ids"]


def test_text_past_the_character_limit_is_a_413_before_tokenising(client):
    from inference.endpoints.tokenize.service import MAX_CHARACTERS

    text = "word " * (MAX_CHARACTERS // 5 + 1)
    for path, body in (("/tokenize", {"inputs": text}), ("/v1/segment", {"content": text})):
        reply = client.post(path, json=body)
        assert reply.status_code == 413, reply.get_data(as_text=True)
        assert "characters" in reply.get_json()["error"]["message"]


def test_an_answer_that_cannot_fit_the_response_limit_is_refused_from_the_token_count():
    settings = make_settings(handler="text", model_dir=embedded_model_dir(), device="cpu", log_level="WARNING",
                             max_response_mb=0.01)  # fmt: skip
    small = create_app(settings, load_in_background=False).test_client()
    reply = small.post("/tokenize", json={"inputs": "search engines rank documents " * 100})
    assert reply.status_code == 413
    error = reply.get_json()["error"]
    assert error["type"] == "response_too_large" and "tokens" in error["message"]
    assert small.post("/tokenize", json={"inputs": "search engines"}).status_code == 200


def test_a_worker_tokenises_two_requests_at_once_and_a_third_gets_a_503(monkeypatch):
    from inference.endpoints.tokenize import service as module
    from inference.errors import OverloadedError

    monkeypatch.setattr(module, "WAIT_S", 0.01)
    tokens = module.TokenizeService(engine=None, max_inputs=4)  # type: ignore[arg-type]  # turns need no engine
    with tokens.turn(), tokens.turn():
        with pytest.raises(OverloadedError):
            with tokens.turn():
                pass
    with tokens.turn():  # turns come back
        pass
