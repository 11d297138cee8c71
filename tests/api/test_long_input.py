"""Texts longer than the context, opt-in per request (``"long_input": "split"``; embeddings/long_inputs.py).

(a) split: the content tokens in windows of 254 (256 - [CLS], [SEP]) sharing 254 // 8 = 31 tokens, each window
embedded as [CLS] window [SEP] and mean-pooled as all-MiniLM-L6-v2 pools, the text's vector the mean of the
windows' vectors weighted by their content tokens, then normalised. (b) late chunking with overlapping macro
windows: the joined inputs in the same windows, each token's embedding from the first window holding it, each
input the mean of its tokens. Both against the same computation done by hand with transformers' model.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from inference.api.app import ENGINE, create_app
from inference.endpoints.demand import demand
from inference.endpoints.embeddings.endpoint import Parsed
from inference.endpoints.embeddings.schema import parse_embeddings_request
from inference.model_dir import embedded_model_dir
from tests.api.test_tokenize import long_text
from tests.conftest import make_settings
from tests.tiny_models import build_tiny_clip

MAX_LENGTH = 256
ROOM = MAX_LENGTH - 2  # [CLS] and [SEP]
OVERLAP = ROOM // 8  # 31: the documented overlap
PREDICT = "/v1/endpoints/1/deployedModels/2:predict"
SPLIT = {"long_input": "split"}


@pytest.fixture(scope="module")
def client():
    settings = make_settings(handler="text", model_dir=embedded_model_dir(), device="cpu", log_level="WARNING",
                             vertex_predict_route=PREDICT, vertex_health_route="/health")  # fmt: skip
    return create_app(settings, load_in_background=False).test_client()


@pytest.fixture(scope="module")
def hf():
    folder = embedded_model_dir()
    return AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()


def windows_by_hand(n_tokens: int) -> list[tuple[int, int]]:
    """Windows of ROOM content tokens, each starting OVERLAP tokens before the previous one's end, until the end."""
    spans, start = [], 0
    while True:
        spans.append((start, min(start + ROOM, n_tokens)))
        if start + ROOM >= n_tokens:
            return spans
        start += ROOM - OVERLAP


def token_vectors(hf, windows: list[list[int]]) -> list[np.ndarray]:
    """The model's last hidden state of each [CLS] window [SEP] (windows of one length share a forward pass)."""
    tokenizer, model = hf
    out: list[np.ndarray | None] = [None] * len(windows)
    for length in {len(w) for w in windows}:
        at = [i for i, w in enumerate(windows) if len(w) == length]
        ids = torch.tensor([[tokenizer.cls_token_id, *windows[i], tokenizer.sep_token_id] for i in at])
        with torch.no_grad():
            hidden = model(input_ids=ids).last_hidden_state.numpy()
        for row, i in enumerate(at):
            out[i] = hidden[row]
    return out  # type: ignore[return-value]


def split_by_hand(hf, text: str) -> tuple[np.ndarray, int]:
    """(a) by hand: the normalised vector and the tokens encoded."""
    content = hf[0](text, add_special_tokens=False)["input_ids"]
    windows = [content[a:b] for a, b in windows_by_hand(len(content))]
    pooled = np.stack([tokens.mean(0) for tokens in token_vectors(hf, windows)]).astype(np.float64)
    weights = np.array([len(w) for w in windows], dtype=np.float64)
    vector = weights @ pooled / weights.sum()
    return vector / np.linalg.norm(vector), sum(len(w) + 2 for w in windows)


def late_chunk_by_hand(hf, chunks: list[str]) -> tuple[np.ndarray, int]:
    """(b) by hand: the joined chunks in overlapping macro windows; a later window's first OVERLAP token
    embeddings dropped (the earlier window's are kept); each chunk the mean of its tokens; normalised."""
    pieces = [hf[0](c, add_special_tokens=False)["input_ids"] for c in chunks]
    joined = [t for p in pieces for t in p]
    spans = windows_by_hand(len(joined))
    hidden = token_vectors(hf, [joined[a:b] for a, b in spans])
    kept = [h[1 : 1 + b - a][(OVERLAP if k else 0) :] for k, ((a, b), h) in enumerate(zip(spans, hidden, strict=True))]
    tokens = np.concatenate(kept)
    assert len(tokens) == len(joined)
    out, start = [], 0
    for piece in pieces:
        out.append(tokens[start : start + len(piece)].mean(0))
        start += len(piece)
    vectors = np.stack(out)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), sum(b - a + 2 for a, b in spans)


def ok(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()


def vectors(body) -> np.ndarray:
    return np.array([item["embedding"] for item in body["data"]], dtype=np.float64)


def close(actual, expected, rel: float = 1e-5) -> None:
    actual, expected = np.atleast_2d(actual), np.atleast_2d(expected)
    assert actual.shape == expected.shape
    errors = np.linalg.norm(actual - expected, axis=1) / np.linalg.norm(expected, axis=1)
    assert errors.max() < rel, errors


@pytest.fixture(scope="module")
def text_20k(hf):
    return long_text(20_000, lambda text, **kw: hf[0](text, **kw))


# -- (a) split ----------------------------------------------------------------------------------------------------
def test_a_20000_token_text_embeds_in_one_request_equal_to_the_windows_by_hand(client, hf, text_20k):
    n_tokens = len(hf[0](text_20k, add_special_tokens=False)["input_ids"])
    assert n_tokens >= 20_000
    expected, used = split_by_hand(hf, text_20k)
    short, short_used = split_by_hand(hf, "A short text, one window.")
    body = ok(client.post("/v1/embeddings", json={"input": [text_20k, "A short text, one window."], **SPLIT}))
    assert len(body["data"]) == 2  # one vector per input
    close(vectors(body), np.stack([expected, short]))
    assert body["usage"]["prompt_tokens"] == used + short_used > n_tokens  # every window's tokens


def test_every_embeddings_route_takes_the_option(client, hf, text_20k):
    text = text_20k[:6000]
    expected, used = split_by_hand(hf, text)
    assert used > 2 * MAX_LENGTH
    close(vectors(ok(client.post("/invocations", json={"input": text, **SPLIT}))), expected)
    close(vectors(ok(client.post("/invocations", json={"data": [{"text": text}], "parameters": SPLIT}))), expected)
    close(np.array(ok(client.post("/embed", json={"inputs": text, **SPLIT}))), expected)  # TEI
    line = json.dumps({"input": text, **SPLIT})
    records = client.post("/invocations", data=line + "\n", content_type="application/jsonlines")
    assert records.status_code == 200
    close(np.array([json.loads(line)["embedding"] for line in records.get_data(as_text=True).splitlines()]), expected)
    vertex = ok(client.post(PREDICT, json={"instances": [text], "parameters": SPLIT}))
    close(np.array(vertex["predictions"]), expected)


def test_dimensions_and_encodings_apply_to_the_pooled_vector(client, hf, text_20k):
    text = text_20k[:3000]
    content = hf[0](text, add_special_tokens=False)["input_ids"]
    windows = [content[a:b] for a, b in windows_by_hand(len(content))]
    weights = np.array([len(w) for w in windows], dtype=np.float64)
    pooled = weights @ np.stack([t.mean(0) for t in token_vectors(hf, windows)]).astype(np.float64) / weights.sum()
    cut = pooled[:64] / np.linalg.norm(pooled[:64])
    close(vectors(ok(client.post("/v1/embeddings", json={"input": text, "dimensions": 64, **SPLIT}))), cut)
    raw = ok(client.post("/v1/embeddings", json={"input": text, "normalized": False, **SPLIT}))
    close(vectors(raw), pooled)


def test_without_the_option_behaviour_is_unchanged(client, hf, text_20k):
    text = text_20k[:3000]
    content = hf[0](text, add_special_tokens=False)["input_ids"]
    first = token_vectors(hf, [content[:ROOM]])[0].mean(0)
    close(vectors(ok(client.post("/v1/embeddings", json={"input": text}))), first / np.linalg.norm(first))
    refused = client.post("/v1/embeddings", json={"input": text, "truncate": False})
    assert refused.status_code == 400 and refused.get_json()["error"]["param"] == "input[0]"
    assert client.post("/embed", json={"inputs": text}).status_code == 400  # TEI: truncate is off by default
    # A text within the max length is one window: the same vector, bit for bit, and the same usage.
    plain = ok(client.post("/v1/embeddings", json={"input": ["Berlin is a city.", "A second text."]}))
    split = ok(client.post("/v1/embeddings", json={"input": ["Berlin is a city.", "A second text."], **SPLIT}))
    assert split == plain


@pytest.mark.parametrize("body", [
    {"input": "x", "long_input": "splitt"},
    {"input": "x", "long_input": True},
    {"data": ["x"], "parameters": {"long_input": "window"}},
    {"inputs": "x", "long_input": "windows"},
])  # fmt: skip
def test_an_unknown_value_is_a_400_naming_the_field(client, body):
    response = client.post("/v1/embeddings", json=body)
    assert response.status_code == 400
    assert "long_input" in json.dumps(response.get_json())


def test_image_inputs_are_refused(tmp_path):
    settings = make_settings(model_dir=build_tiny_clip(tmp_path / "clip"), handler="auto", device="cpu",
                             log_level="WARNING")  # fmt: skip
    clip = create_app(settings, load_in_background=False).test_client()
    pixel = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N70a4AAAA"
             "AElFTkSuQmCC")
    response = clip.post("/v1/embeddings", json={"input": ["a cat", {"image": pixel}], **SPLIT})
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["param"] == "long_input" and "image" in response.get_json()["error"]["message"]
    assert len(ok(clip.post("/v1/embeddings", json={"input": ["a cat " * 200], **SPLIT}))["data"]) == 1
    late = clip.post("/v1/embeddings", json={"input": ["a", "b"], "late_chunking": True, **SPLIT})
    assert late.status_code == 400  # CLIP's text tower offers no late chunking


# -- (b) late chunking with overlapping macro windows -------------------------------------------------------------
def chunks_of(hf, text: str, sizes: list[int]) -> list[str]:
    """Consecutive pieces of ``text`` of about ``sizes`` tokens each (cut at token boundaries)."""
    encoded = hf[0](text, add_special_tokens=False, return_offsets_mapping=True)
    offsets, chunks, at = encoded["offset_mapping"], [], 0
    for size in sizes:
        end = min(at + size, len(offsets)) - 1
        chunks.append(text[offsets[at][0] : offsets[end][1]])
        at = end + 1
    return chunks


def test_long_late_chunking_uses_overlapping_macro_windows_equal_to_the_hand_computation(client, hf, text_20k):
    chunks = chunks_of(hf, text_20k, [60, 90, 400, 30, 120, 75, 200, 10, 50])  # 1,035 tokens; one over the max
    expected, used = late_chunk_by_hand(hf, chunks)
    body = ok(client.post("/v1/embeddings", json={"input": chunks, "late_chunking": True, **SPLIT}))
    assert len(body["data"]) == len(chunks)
    close(vectors(body), expected)
    assert body["usage"]["prompt_tokens"] == used
    packed = ok(client.post("/v1/embeddings", json={"input": chunks, "late_chunking": True}))  # whole inputs
    assert not np.allclose(vectors(packed), expected, atol=1e-3)


def test_one_input_longer_than_the_context_late_chunked_is_one_vector_of_all_its_tokens(client, hf, text_20k):
    text = text_20k[:4000]
    expected, used = late_chunk_by_hand(hf, [text])
    body = ok(client.post("/v1/embeddings", json={"input": [text], "late_chunking": True, **SPLIT}))
    close(vectors(body), expected)
    assert body["usage"]["prompt_tokens"] == used


def test_late_chunking_within_the_context_is_unchanged_by_the_option(client):
    chunks = ["Berlin is the capital of Germany.", "It has 3.8 million inhabitants."]
    plain = ok(client.post("/v1/embeddings", json={"input": chunks, "late_chunking": True}))
    assert ok(client.post("/v1/embeddings", json={"input": chunks, "late_chunking": True, **SPLIT})) == plain


# -- admission and rate limits: the whole text ---------------------------------------------------------------------
def test_admission_counts_the_whole_text():
    app = create_app(make_settings(handler="fake", log_level="WARNING", request_deadline_s=2.0),
                     load_in_background=False)  # fmt: skip
    app.extensions[ENGINE].budget.calibrate(100, 1.0)  # 100 tokens/s: 2 s hold 200 tokens
    client = app.test_client()
    text = " ".join(f"w{i}" for i in range(300))  # 300 words: cut to the fake model's 64 tokens without the option
    assert client.post("/invocations", json={"input": text}).status_code == 200
    for extra in ({}, {"late_chunking": True}):
        response = client.post("/invocations", json={"input": text, **extra, **SPLIT})
        assert response.status_code == 413 and response.get_json()["error"]["type"] == "request_too_large"
    assert client.get("/ping").get_json()["queued_tokens"] == 0
    app.extensions[ENGINE].budget.calibrate(100_000, 1.0)
    body = ok(client.post("/invocations", json={"input": text, **SPLIT}))
    assert len(body["data"]) == 1 and body["usage"]["prompt_tokens"] > 300


def test_rate_limit_demand_counts_every_word_of_a_split_text():
    text = " ".join(["word"] * 1000)
    for extra in ({}, {"late_chunking": True}):
        cut = parse_embeddings_request({"input": [text, text], **extra}, max_inputs=8)
        split = parse_embeddings_request({"input": [text, text], **extra, **SPLIT}, max_inputs=8)
        assert demand(Parsed(split, "application/json"), MAX_LENGTH).tokens == 2000
        assert demand(Parsed(cut, "application/json"), MAX_LENGTH).tokens == (MAX_LENGTH if extra else 2 * MAX_LENGTH)
