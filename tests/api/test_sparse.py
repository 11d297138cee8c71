"""Sparse vectors through the Flask app: a tiny random SPLADE model (tests/tiny_sparse.py) answers TEI's
``/embed_sparse``, ``/invocations``, Batch Transform records and Vertex instances with the vectors of
sentence-transformers' ``SparseEncoder``; unknown fields, a wrong model kind and answers past the response limit
are refused before any model work."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sentence_transformers import SparseEncoder

from inference.api.app import create_app
from inference.mime import JSONLINES
from tests.conftest import make_settings
from tests.tiny_sparse import build_tiny_splade

TEXTS = ["paris is the capital of france", "hello world", "sparse retrieval"]
VERTEX = "/v1/endpoints/1/deployedModels/2:predict"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_tiny_splade(tmp_path_factory.mktemp("splade") / "tiny-splade")


@pytest.fixture(scope="module")
def expected(folder):
    model = SparseEncoder(str(folder), device="cpu")
    return model.encode(TEXTS, convert_to_tensor=True, convert_to_sparse_tensor=False).numpy()


def app_for(folder, **settings):
    settings = {"model_dir": folder, "handler": "auto", "device": "cpu", "log_level": "WARNING", "max_inputs": 8,
                "max_response_mb": 64.0, **settings}  # fmt: skip
    return create_app(make_settings(**settings), load_in_background=False)


@pytest.fixture(scope="module")
def client(folder):
    return app_for(folder).test_client()


def ok(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def refused(response, kind="invalid_request_error", status=400):
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["type"] == kind, error
    return error


def check(vectors, expected):
    assert len(vectors) == len(expected)
    for vector, want in zip(vectors, expected, strict=True):
        indices = [entry["index"] for entry in vector]
        assert indices == sorted(indices) and all(set(entry) == {"index", "value"} for entry in vector)
        got = np.zeros_like(want)
        got[indices] = [entry["value"] for entry in vector]
        np.testing.assert_allclose(got, want, atol=1e-5)
        assert len(indices) == np.count_nonzero(want)


@pytest.mark.parametrize("path", ["/embed_sparse", "/invocations"])
def test_teis_body_answers_each_inputs_nonzero_entries(client, expected, path):
    response = ok(client.post(path, json={"inputs": TEXTS, "truncate": True, "truncation_direction": "Right"}))
    check(response.get_json(), expected)
    assert json.loads(response.headers["X-Amzn-Inference-Metering"])["ConsumedUnits"] == 3
    check(ok(client.post(path, json={"inputs": TEXTS[1]})).get_json(), expected[1:2])


def test_info_names_the_kind_and_vocabulary(client):
    info = ok(client.get("/info")).get_json()
    assert info["kind"] == "sparse" and info["dimensions"] == 30522


def test_records_answer_one_line_each(client, expected):
    body = "\n".join([json.dumps(TEXTS[0]), json.dumps({"text": TEXTS[1], "id": 7}), json.dumps({"inputs": TEXTS[2]})])
    response = ok(client.post("/invocations", data=body, content_type=JSONLINES))
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    check(lines, expected)
    csv = ok(client.post("/invocations", data="\n".join(TEXTS) + "\n", content_type="text/csv"))
    check([json.loads(line) for line in csv.get_data(as_text=True).splitlines()], expected)
    error = refused(client.post("/invocations", data='"a"\n{"inputs": "b", "colour": 1}\n', content_type=JSONLINES))
    assert "line 2" in error["message"] and "unknown field 'colour'" in error["message"]


def test_vertex_instances_are_texts(folder, expected):
    client = app_for(folder, vertex_predict_route=VERTEX, vertex_health_route="/health").test_client()
    body = ok(client.post(VERTEX, json={"instances": TEXTS, "parameters": {"truncate": True}})).get_json()
    check(body["predictions"], expected)
    check(ok(client.post(VERTEX, json={"inputs": TEXTS[:1]})).get_json(), expected[:1])  # rawPredict
    error = refused(client.post(VERTEX, json={"instances": TEXTS, "parameters": {"normalize": True}}))
    assert "unknown field 'normalize' in 'parameters'" in error["message"]


def test_unknown_fields_and_bad_values_are_refused(client):
    assert "unknown field 'input'" in refused(client.post("/embed_sparse", json={"input": "x"}))["message"]
    assert "unknown field 'normalize'" in refused(
        client.post("/embed_sparse", json={"inputs": "x", "normalize": True}))["message"]
    assert "only 'Right'" in refused(
        client.post("/embed_sparse", json={"inputs": "x", "truncation_direction": "Left"}))["message"]
    assert "unknown prompt_name" in refused(client.post("/embed_sparse", json={"inputs": "x", "prompt_name": "q"}))[
        "message"]
    long = "word " * 100
    assert "truncate=true" in refused(client.post("/embed_sparse", json={"inputs": [long]}))["message"]
    ok(client.post("/embed_sparse", json={"inputs": [long], "truncate": True}))


def test_other_routes_refuse_a_sparse_model(client):
    refused(client.post("/v1/embeddings", json={"input": "x"}), "wrong_model_kind")
    refused(client.post("/rerank", json={"query": "q", "texts": ["d"]}), "wrong_model_kind")


def test_an_embedding_model_refuses_embed_sparse(minilm_dir):
    client = create_app(make_settings(model_dir=minilm_dir, device="cpu", log_level="WARNING"),
                        load_in_background=False).test_client()  # fmt: skip
    error = refused(client.post("/embed_sparse", json={"inputs": "x"}), "wrong_model_kind")
    assert "not a sparse (SPLADE) model" in error["message"]


def test_sparse_answers_are_judged_by_their_real_size(folder):
    """A SPLADE vector's worst case is the whole vocabulary, so no bound refuses a request before the model runs
    (that would refuse any request of more than a few texts); the encoded answer is held to the limit."""
    client = app_for(folder).test_client()
    size = len(ok(client.post("/embed_sparse", json={"inputs": TEXTS})).get_data())
    fits = app_for(folder, max_response_mb=(size + 10) / 1e6).test_client()
    ok(fits.post("/embed_sparse", json={"inputs": TEXTS}))  # the worst-case bound would be about 4 MB
    small = app_for(folder, max_response_mb=(size - 10) / 1e6).test_client()
    refused(small.post("/embed_sparse", json={"inputs": TEXTS}), "response_too_large", 413)


def test_the_bound_is_never_below_the_answer(folder):
    from inference.endpoints.sparse.size import input_bytes

    client = app_for(folder).test_client()
    body = ok(client.post("/embed_sparse", json={"inputs": TEXTS})).get_data()
    assert len(body) <= 2 + 3 * input_bytes(30522)
    assert input_bytes(3) >= len(json.dumps([{"index": 2, "value": -1.40372895e-05}] * 3, separators=(",", ":"))) + 1
