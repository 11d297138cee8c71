"""The rerank API through the Flask app with real tiny cross-encoders (BERT with token types, XLM-R without),
scores compared with sentence-transformers' CrossEncoder.predict on the same folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sentence_transformers import CrossEncoder

from inference.api.app import create_app
from inference.handlers.rerank import CrossEncoderHandler
from tests.conftest import make_settings
from tests.tiny_rerankers import build_tiny_bert_reranker, build_tiny_xlmr_reranker

QUERY = "paris capital"
DOCS = [
    "paris is the capital of france",
    "the river",
    "hello world " * 30,  # longer than the model's max length: the document is cut
    "search engine vector query document rank " * 6,
    "bonjour le monde",
]


@pytest.fixture(scope="module", params=["bert", "xlmr"])
def folder(request, tmp_path_factory):
    build = build_tiny_bert_reranker if request.param == "bert" else build_tiny_xlmr_reranker
    return build(tmp_path_factory.mktemp(request.param))


@pytest.fixture(scope="module")
def reference(folder):
    model = CrossEncoder(str(folder), device="cpu")
    return model, np.asarray(model.predict([(QUERY, doc) for doc in DOCS]), dtype=np.float64)


@pytest.fixture(scope="module")
def client(folder):
    settings = make_settings(model_dir=folder, handler="auto", device="cpu", log_level="WARNING", max_documents=8)
    return create_app(settings, load_in_background=False).test_client()


def post(client, path, body, **kwargs):
    return client.post(path, data=json.dumps(body), content_type="application/json", **kwargs)


@pytest.mark.parametrize("path", ["/v1/rerank", "/invocations"])
def test_scores_equal_cross_encoder_predict_sorted_with_indices(client, reference, path):
    _, expected = reference
    reply = post(client, path, {"query": QUERY, "documents": DOCS})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    body = reply.get_json()
    results = body["results"]
    assert [r["index"] for r in results] == sorted(range(len(DOCS)), key=lambda i: -expected[i])
    got = np.array([r["relevance_score"] for r in sorted(results, key=lambda r: r["index"])])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert all(r["document"]["text"] == DOCS[r["index"]] for r in results)
    assert body["usage"]["total_tokens"] > 0 and reply.headers["X-Amzn-Inference-Metering"].endswith(f"{len(DOCS)}}}")


def test_usage_counts_the_pair_tokens(client, folder):
    handler = CrossEncoderHandler(folder, make_settings(model_dir=folder, device="cpu"))
    tokens = sum(len(pair) for pair in handler.tokenize_pairs(QUERY, DOCS, True))
    body = post(client, "/v1/rerank", {"query": QUERY, "documents": DOCS}).get_json()
    assert body["usage"]["total_tokens"] == tokens


def test_top_n_return_documents_and_object_documents(client, reference):
    _, expected = reference
    body = post(client, "/v1/rerank", {"query": {"text": QUERY}, "documents": [{"text": d} for d in DOCS],
                                       "top_n": 2, "return_documents": False}).get_json()  # fmt: skip
    assert [r["index"] for r in body["results"]] == list(np.argsort(-expected)[:2])
    assert all("document" not in r for r in body["results"])


def test_raw_scores_are_the_logits(client, reference):
    _, expected = reference
    body = post(client, "/v1/rerank", {"query": QUERY, "documents": DOCS, "raw_scores": True}).get_json()
    logits = np.array([r["relevance_score"] for r in sorted(body["results"], key=lambda r: r["index"])])
    np.testing.assert_allclose(1 / (1 + np.exp(-logits)), expected, atol=1e-5)


def test_tei_rerank_body_and_shape(client, reference):
    _, expected = reference
    for path in ("/rerank", "/invocations"):
        reply = post(client, path, {"query": QUERY, "texts": DOCS, "return_text": True, "truncate": True})
        assert reply.status_code == 200, reply.get_data(as_text=True)
        items = reply.get_json()
        assert isinstance(items, list) and [i["index"] for i in items] == list(np.argsort(-expected, kind="stable"))
        assert all(set(i) == {"index", "score", "text"} and i["text"] == DOCS[i["index"]] for i in items)
        np.testing.assert_allclose([i["score"] for i in sorted(items, key=lambda i: i["index"])], expected, atol=1e-5)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"query": "", "documents": ["a"]}, "query is empty"),
        ({"query": "q", "documents": []}, "documents is empty"),
        ({"query": "q", "documents": ["a"] * 9}, "more than the limit of 8"),
        ({"query": "q", "documents": ["a"], "top_n": 0}, "top_n"),
        ({"query": "q", "documents": ["a"], "topn": 1}, "unknown field 'topn'; did you mean 'top_n'?"),
        ({"query": "q", "documents": [{"txt": "a"}]}, "documents"),
        ({"query": "q", "documents": ["hello world " * 40], "truncate": False}, "more than the model's maximum"),
        ({"query": "q", "texts": ["hello world " * 40]}, "more than the model's maximum"),  # TEI: truncate=false
        ({"query": "q", "texts": ["a"], "truncation_direction": "Left"}, "only 'Right'"),
    ],
)
def test_bad_requests_are_400_with_a_clear_message(client, body, message):
    reply = post(client, "/v1/rerank" if "documents" in body else "/rerank", body)
    assert reply.status_code == 400 and message in reply.get_json()["error"]["message"], reply.get_data(as_text=True)
    assert post(client, "/v1/rerank", {"query": QUERY, "documents": DOCS[:1]}).status_code == 200  # lives on


def test_embedding_requests_to_a_reranker_say_which_model_is_loaded(client):
    bodies = [("/v1/embeddings", {"input": "x"}), ("/invocations", {"input": ["x"]}),
              ("/v1/embeddings", {"query": "q", "documents": ["d"]}), ("/embed", {"inputs": "x"})]  # fmt: skip
    for path, body in bodies:
        reply = post(client, path, body)
        assert reply.status_code == 400
        error = reply.get_json()["error"]
        assert error["type"] == "wrong_model_kind"
        assert "reranker" in error["message"] and "/v1/rerank" in error["message"]


def test_rerank_requests_to_an_embedding_model_say_which_model_is_loaded():
    app = create_app(make_settings(handler="fake", log_level="WARNING"), load_in_background=False)
    reply = post(app.test_client(), "/v1/rerank", {"query": "q", "documents": ["a"]})
    assert reply.status_code == 400
    error = reply.get_json()["error"]
    assert error["type"] == "wrong_model_kind" and "embedding model" in error["message"]


def test_batch_transform_records_give_one_line_per_record_in_order(client, reference):
    _, expected = reference
    lines = [{"query": QUERY, "documents": DOCS}, {"query": QUERY, "documents": DOCS[:2], "top_n": 1},
             {"query": QUERY, "texts": DOCS[2:4], "truncate": True}]  # fmt: skip
    body = "".join(json.dumps(line) + "\n" for line in lines)
    reply = client.post("/invocations", data=body, content_type="application/jsonlines")
    assert reply.status_code == 200, reply.get_data(as_text=True)
    out = [json.loads(line) for line in reply.get_data(as_text=True).splitlines()]
    assert len(out) == 3
    assert [r["index"] for r in out[0]["results"]] == list(np.argsort(-expected, kind="stable"))
    assert [r["index"] for r in out[1]["results"]] == [int(np.argmax(expected[:2]))]
    np.testing.assert_allclose(sorted(i["score"] for i in out[2]), sorted(expected[2:4]), atol=1e-5)
    bad = client.post("/invocations", data=body + '{"query": "q"}\n', content_type="application/jsonlines")
    assert bad.status_code == 400 and "line 4" in bad.get_json()["error"]["message"]
