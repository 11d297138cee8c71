"""The multi-vector API through the Flask app with tiny random late-interaction folders (PyLate's layout, as
jina-colbert-v2 ships, and Sentence Transformers 6's own): token vectors and MaxSim scores compared with
sentence-transformers' ``MultiVectorEncoder`` on the same folder."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from sentence_transformers import MultiVectorEncoder

from inference.api.app import create_app
from tests.conftest import make_settings
from tests.tiny_colbert import MATRYOSHKA, build_native_colbert, build_pylate_colbert

QUERIES = ["paris capital?", "what is the best search engine for vector queries, documents and ranks today"]
DOCS = ["Paris is the capital of France.", "the river, the city; the world!", "hello world " * 30,
        "search engine: vector, query, document, rank."]  # fmt: skip


@pytest.fixture(scope="module", params=["pylate", "native"])
def folder(request, tmp_path_factory):
    if request.param == "pylate":
        return build_pylate_colbert(tmp_path_factory.mktemp("pylate") / "m", matryoshka=MATRYOSHKA)
    return build_native_colbert(tmp_path_factory.mktemp("native") / "m")


@pytest.fixture(scope="module")
def reference(folder):
    return MultiVectorEncoder(str(folder), device="cpu")


@pytest.fixture(scope="module")
def client(folder):
    settings = make_settings(model_dir=folder, handler="auto", device="cpu", log_level="WARNING", max_inputs=16,
                             max_documents=8)  # fmt: skip
    return create_app(settings, load_in_background=False).test_client()


def post(client, path, body, **kwargs):
    return client.post(path, data=json.dumps(body), content_type="application/json", **kwargs)


def token_vectors(reply):
    assert reply.status_code == 200, reply.get_data(as_text=True)
    data = sorted(reply.get_json()["data"], key=lambda item: item["index"])
    return [np.asarray(item["embeddings"], dtype=np.float32) for item in data]


def assert_same(got, expected):
    assert len(got) == len(expected)
    for ours, theirs in zip(got, expected, strict=True):
        theirs = np.asarray(theirs, dtype=np.float32)
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("path", ["/v1/multi-vector", "/v1/embeddings", "/invocations"])
def test_query_and_document_vectors_equal_the_reference(client, reference, path):
    flag = {"return_multivector": True} if path == "/v1/embeddings" else {}
    queries = post(client, path, {"input": QUERIES, "input_type": "query", **flag})
    documents = post(client, path, {"input": DOCS, "input_type": "document", **flag})
    assert_same(token_vectors(queries), reference.encode_query(QUERIES))
    assert_same(token_vectors(documents), reference.encode_document(DOCS))
    body = documents.get_json()
    assert body["object"] == "list" and body["data"][0]["object"] == "embeddings"
    assert body["usage"]["total_tokens"] >= sum(len(v) for v in token_vectors(documents))  # skip-list tokens count
    assert documents.headers["X-Amzn-Inference-Metering"].endswith(f"{len(DOCS)}}}")


@pytest.mark.parametrize("path", ["/v1/embeddings", "/embeddings"])
def test_the_openai_shaped_paths_need_return_multivector(client, path):
    """An OpenAI client reads one 'embedding' per input: without Jina's flag it gets a 400 saying why, not an
    answer without the field it reads."""
    reply = post(client, path, {"input": ["paris"]})
    assert reply.status_code == 400
    error = reply.get_json()["error"]
    assert error["param"] == "return_multivector" and "/v1/multi-vector" in error["message"]


def test_document_is_the_default_and_jina_task_names_choose_the_side(client, reference):
    default = token_vectors(post(client, "/v1/multi-vector", {"input": DOCS[:2]}))
    assert_same(default, reference.encode_document(DOCS[:2]))
    query = token_vectors(post(client, "/v1/multi-vector", {"input": QUERIES[:1], "task": "retrieval.query"}))
    assert_same(query, reference.encode_query(QUERIES[:1]))
    refused = post(client, "/v1/multi-vector", {"input": "x", "task": "retrieval.query", "input_type": "document"})
    assert refused.status_code == 400


def test_queries_are_expanded_to_the_query_length(client, info):
    [short] = token_vectors(post(client, "/v1/multi-vector", {"input": "paris", "input_type": "query"}))
    assert len(short) == info["query_length"]


@pytest.fixture(scope="module")
def info(client):
    reply = client.get("/info")
    assert reply.status_code == 200
    return reply.get_json()


def test_info_describes_a_multivector_model(info):
    assert info["kind"] == "multivector"
    assert info["dimensions"] == 16 and info["dimension_options"][0] == 16 and info["query_length"] == 12


@pytest.mark.parametrize("path", ["/v1/rerank", "/invocations", "/rerank"])
def test_rerank_scores_are_maxsim_of_the_reference_vectors(client, reference, path):
    expected = reference.similarity(reference.encode_query([QUERIES[0]]), reference.encode_document(DOCS))
    expected = np.asarray(expected, dtype=np.float64)[0]
    docs_field = "texts" if path == "/rerank" else "documents"
    extra = {"truncate": True} if path == "/rerank" else {}  # TEI's default refuses an over-long document
    reply = post(client, path, {"query": QUERIES[0], docs_field: DOCS, **extra})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    body = reply.get_json()
    results = body if path == "/rerank" else body["results"]
    score = "score" if path == "/rerank" else "relevance_score"
    assert [r["index"] for r in results] == sorted(range(len(DOCS)), key=lambda i: -expected[i])
    got = np.array([r[score] for r in sorted(results, key=lambda r: r["index"])])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_maxsim_differs_from_a_mean_pooled_cosine(client, reference):
    """The scores are late interaction: MaxSim, not a cosine of pooled vectors (which a plain text model gives)."""
    queries, docs = reference.encode_query([QUERIES[0]]), reference.encode_document(DOCS)
    pooled = [np.mean(np.asarray(d), axis=0) for d in docs]
    q = np.mean(np.asarray(queries[0]), axis=0)
    cosine = np.array([float(q @ d / np.linalg.norm(q) / np.linalg.norm(d)) for d in pooled])
    reply = post(client, "/v1/rerank", {"query": QUERIES[0], "documents": DOCS})
    got = np.array([r["relevance_score"] for r in sorted(reply.get_json()["results"], key=lambda r: r["index"])])
    assert not np.allclose(got, cosine, atol=1e-3)


def test_declared_widths_are_matryoshka_cuts_and_others_are_refused(client, reference, info):
    width = info["dimension_options"][-1]
    assert width < info["dimensions"]
    got = token_vectors(post(client, "/v1/multi-vector", {"input": DOCS[:2], "dimensions": width}))
    full = reference.encode_document(DOCS[:2])
    for ours, theirs in zip(got, full, strict=True):
        cut = np.asarray(theirs)[:, :width]
        np.testing.assert_allclose(ours, cut / np.linalg.norm(cut, axis=1, keepdims=True), atol=1e-5)
    refused = post(client, "/v1/multi-vector", {"input": "x", "dimensions": width + 1})
    assert refused.status_code == 400 and "dimensions" in refused.get_json()["error"]["message"]


def test_every_embedding_type_encodes_each_token_vector(client):
    floats = token_vectors(post(client, "/v1/multi-vector", {"input": DOCS[:1]}))[0]
    reply = post(client, "/v1/multi-vector", {"input": DOCS[:1], "embedding_type": ["base64", "binary", "ubinary"]})
    assert reply.status_code == 200
    embeddings = reply.get_json()["data"][0]["embeddings"]
    decoded = np.stack([np.frombuffer(base64.b64decode(row), dtype="<f4") for row in embeddings["base64"]])
    np.testing.assert_array_equal(decoded, floats)
    np.testing.assert_array_equal(np.asarray(embeddings["ubinary"], dtype=np.uint8), np.packbits(floats > 0, axis=1))
    np.testing.assert_array_equal(np.asarray(embeddings["binary"]),
                                  np.packbits(floats > 0, axis=1).astype(np.int16) - 128)  # fmt: skip


def test_unknown_fields_and_bad_options_are_refused(client):
    for body in ({"input": "x", "input_typ": "query"}, {"input": "x", "late_chunking": True},
                 {"input": "x", "return_multivector": False}, {"input": [{"image": "a.png"}]}, {"input": []}):
        reply = post(client, "/v1/multi-vector", body)
        assert reply.status_code == 400, body
        assert reply.get_json()["error"]["message"]


def test_an_over_long_document_is_refused_without_truncate(client):
    reply = post(client, "/v1/multi-vector", {"input": DOCS[2], "truncate": False})
    assert reply.status_code == 400 and "input[0]" in reply.get_json()["error"]["message"]


def test_batch_transform_records_answer_one_line_each(client, reference):
    lines = [json.dumps(DOCS[0]), json.dumps({"text": DOCS[1], "id": "b"}),
             json.dumps({"input": QUERIES[0], "input_type": "query"})]  # fmt: skip
    reply = client.post("/invocations", data="\n".join(lines), content_type="application/jsonlines")
    assert reply.status_code == 200, reply.get_data(as_text=True)
    out = [json.loads(line) for line in reply.get_data(as_text=True).splitlines()]
    assert [item["index"] for item in out] == [0, 1, 2]
    expected = [*reference.encode_document(DOCS[:2]), *reference.encode_query(QUERIES[:1])]
    assert_same([np.asarray(item["embeddings"], dtype=np.float32) for item in out], expected)


def test_the_answer_is_bounded_by_the_response_limit(folder):
    settings = make_settings(model_dir=folder, handler="auto", device="cpu", log_level="WARNING", max_inputs=64,
                             max_response_mb=0.05)  # fmt: skip
    client = create_app(settings, load_in_background=False).test_client()
    reply = post(client, "/v1/multi-vector", {"input": [DOCS[2]] * 40})
    assert reply.status_code == 413
    error = reply.get_json()["error"]
    assert error["type"] == "response_too_large" and "fit in one request" in error["message"]
    fits = int(error["message"].split("At most ")[1].split()[0])
    assert 0 < fits < 40
    assert post(client, "/v1/multi-vector", {"input": [DOCS[2]] * fits}).status_code == 200


def test_an_embedding_model_refuses_multivector_requests(minilm_dir):
    settings = make_settings(model_dir=minilm_dir, handler="auto", device="cpu", log_level="WARNING")
    client = create_app(settings, load_in_background=False).test_client()
    reply = post(client, "/v1/embeddings", {"input": "x", "return_multivector": True})
    assert reply.status_code == 400 and "late-interaction" in reply.get_json()["error"]["message"]
    reply = post(client, "/v1/multi-vector", {"input": "x"})
    assert reply.status_code == 400 and reply.get_json()["error"]["type"] == "wrong_model_kind"


def test_vertex_instances_answer_token_vectors_or_maxsim_results(folder, reference):
    settings = make_settings(model_dir=folder, handler="auto", device="cpu", log_level="WARNING", max_inputs=16,
                             max_documents=8, vertex_predict_route="/predict",
                             vertex_health_route="/health")  # fmt: skip
    client = create_app(settings, load_in_background=False).test_client()
    reply = post(client, "/predict", {"instances": DOCS[:2], "parameters": {"input_type": "document"}})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    predictions = reply.get_json()["predictions"]
    assert_same([np.asarray(p, dtype=np.float32) for p in predictions], reference.encode_document(DOCS[:2]))
    reply = post(client, "/predict", {"instances": [{"query": QUERIES[0], "documents": DOCS[:2]}]})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    [results] = reply.get_json()["predictions"]
    expected = np.asarray(reference.similarity(reference.encode_query(QUERIES[:1]),
                                               reference.encode_document(DOCS[:2])))[0]  # fmt: skip
    got = np.array([r["relevance_score"] for r in sorted(results, key=lambda r: r["index"])])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
