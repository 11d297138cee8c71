"""Hugging Face Text Embeddings Inference's ``POST /embed`` body on the real embedded model (all-MiniLM-L6-v2):
the same vectors as the native API and as sentence-transformers, in TEI's ``[[...], ...]`` shape, on ``/embed``
and on every other embeddings route."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from inference.api.app import ENGINE, create_app
from inference.mime import JSONLINES
from inference.model_dir import embedded_model_dir
from tests.conftest import make_settings

TEXTS = ["hello world", "Bonjour le monde", "a somewhat longer sentence about search engines and vectors"]
LONG = " ".join(f"w{i}" for i in range(400))  # ~800 WordPiece tokens: over the model's 256
ROUTES = ["/embed", "/invocations", "/v1/embeddings", "/score", "/endpoints/any-name/invocations"]
PROMPTS = {"query": "query: ", "passage": "passage: "}


def real_app(model_dir):
    settings = make_settings(handler="text", model_dir=model_dir, device="cpu", log_level="WARNING", max_inputs=16)
    return create_app(settings, load_in_background=False)


@pytest.fixture(scope="module")
def client():
    return real_app(embedded_model_dir()).test_client()


@pytest.fixture(scope="module")
def st_model():
    return SentenceTransformer(str(embedded_model_dir()), device="cpu")


@pytest.fixture(scope="module")
def st_raw(st_model):
    """sentence-transformers' unnormalised output: the model's modules end with ``Normalize``, which
    ``normalize: false`` skips (as TEI does), so the reference is the Transformer and Pooling modules alone."""
    assert type(st_model[2]).__name__ == "Normalize"
    return SentenceTransformer(modules=[st_model[0], st_model[1]], device="cpu")


def tei(client, body, route="/embed"):
    response = client.post(route, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    payload = response.get_json()
    assert isinstance(payload, list) and all(isinstance(row, list) for row in payload), payload
    return np.array(payload, dtype=np.float32)


def native(client, **body):
    response = client.post("/v1/embeddings", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return np.array([d["embedding"] for d in response.get_json()["data"]], dtype=np.float32)


def error(response, status=400):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/json"
    return response.get_json()["error"]


def assert_cosine(ours, reference, tolerance=1e-5):
    ours, reference = np.asarray(ours, np.float64), np.asarray(reference, np.float64)
    assert ours.shape == reference.shape
    cosine = (ours * reference).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(reference, axis=1)
    assert cosine.min() >= 1 - tolerance, cosine


def test_embed_matches_the_native_api_and_sentence_transformers(client, st_model):
    vectors = tei(client, {"inputs": TEXTS})
    assert vectors.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(vectors, native(client, input=TEXTS), rtol=1e-5, atol=1e-6)
    assert_cosine(vectors, st_model.encode(TEXTS, normalize_embeddings=True))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("route", ROUTES)
def test_every_embeddings_route_answers_a_tei_body_in_tei_shape(client, route):
    np.testing.assert_array_equal(tei(client, {"inputs": TEXTS}, route), tei(client, {"inputs": TEXTS}))


def test_a_single_string_is_one_vector_in_a_list(client, st_model):
    response = client.post("/embed", json={"inputs": "hello world"})
    payload = response.get_json()
    assert response.status_code == 200 and len(payload) == 1 and len(payload[0]) == 384
    assert_cosine(payload, st_model.encode(["hello world"], normalize_embeddings=True))


def test_normalize_false_returns_sentence_transformers_raw_vectors(client, st_raw):
    raw = tei(client, {"inputs": TEXTS, "normalize": False})
    reference = st_raw.encode(TEXTS, normalize_embeddings=False)
    np.testing.assert_allclose(raw, reference, rtol=1e-4, atol=1e-5)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0, atol=1e-3)  # really unnormalised
    np.testing.assert_allclose(raw, native(client, input=TEXTS, normalized=False), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("truncate", [False, None, "absent"])
def test_an_over_long_input_is_refused_unless_truncate_is_true(client, truncate):
    body = {"inputs": ["short", LONG]} | ({} if truncate == "absent" else {"truncate": truncate})
    refusal = error(client.post("/embed", json=body))
    assert "input[1] has" in refusal["message"] and "maximum of 256" in refusal["message"]


def test_truncate_true_cuts_at_the_right_like_sentence_transformers(client, st_model):
    vectors = tei(client, {"inputs": ["short", LONG], "truncate": True})
    assert_cosine(vectors, st_model.encode(["short", LONG], normalize_embeddings=True))
    same = tei(client, {"inputs": ["short", LONG], "truncate": True, "truncation_direction": "Right"})
    np.testing.assert_array_equal(vectors, same)


def test_truncation_direction_left_keeps_the_end_of_the_text(client, st_model):
    left = tei(client, {"inputs": [LONG], "truncate": True, "truncation_direction": "Left"})
    st_model.tokenizer.truncation_side = "left"
    try:
        reference = st_model.encode([LONG], normalize_embeddings=True)
    finally:
        st_model.tokenizer.truncation_side = "right"
    assert_cosine(left, reference)
    right = tei(client, {"inputs": [LONG], "truncate": True})
    assert float(left[0] @ right[0]) < 0.99  # a different window of the text
    short = tei(client, {"inputs": TEXTS, "truncate": True, "truncation_direction": "left"})  # nothing to cut
    np.testing.assert_allclose(short, tei(client, {"inputs": TEXTS}), rtol=1e-5, atol=1e-6)


def test_dimensions_keep_the_first_values_renormalised_like_the_native_api(client, st_raw):
    cut = tei(client, {"inputs": TEXTS, "dimensions": 128})
    assert cut.shape == (len(TEXTS), 128)
    np.testing.assert_allclose(cut, native(client, input=TEXTS, dimensions=128), rtol=1e-5, atol=1e-6)
    full = st_raw.encode(TEXTS, normalize_embeddings=False)[:, :128]
    assert_cosine(cut, full)
    np.testing.assert_allclose(np.linalg.norm(cut, axis=1), 1.0, rtol=1e-5)
    raw = tei(client, {"inputs": TEXTS, "dimensions": 128, "normalize": False})
    np.testing.assert_allclose(raw, full, rtol=1e-4, atol=1e-5)
    assert error(client.post("/embed", json={"inputs": "x", "dimensions": 385}))["param"] == "dimensions"


def test_accept_jsonlines_writes_one_vector_per_line(client):
    response = client.post("/embed", json={"inputs": TEXTS}, headers={"Accept": JSONLINES})
    assert response.status_code == 200 and response.mimetype == JSONLINES
    lines = [json.loads(line) for line in response.get_data(as_text=True).split("\n")]
    np.testing.assert_array_equal(np.array(lines, dtype=np.float32), tei(client, {"inputs": TEXTS}))


def test_prompt_name_on_a_model_without_prompts_is_a_400(client):
    refusal = error(client.post("/embed", json={"inputs": "x", "prompt_name": "query"}))
    assert refusal["param"] == "prompt_name" and "unknown prompt_name 'query'" in refusal["message"]
    # Jina's task names stay accepted (and ignored) on the native API: prompt_name is TEI's strict mechanism.
    assert client.post("/v1/embeddings", json={"input": "x", "task": "retrieval.query"}).status_code == 200


@pytest.fixture(scope="module")
def prompted(tmp_path_factory):
    """The embedded model with sentence-transformers prompts: the served app and the reference."""
    folder = tmp_path_factory.mktemp("prompted-minilm")
    for entry in embedded_model_dir().iterdir():
        if entry.name != "config_sentence_transformers.json":
            (folder / entry.name).symlink_to(entry)
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": PROMPTS}))
    app = real_app(folder)
    assert app.extensions[ENGINE].handler.info.tasks == ("query", "passage")
    return app.test_client(), SentenceTransformer(str(folder), device="cpu")


def test_prompt_name_prepends_the_models_prompt_like_sentence_transformers(prompted):
    client, st_model = prompted
    query = tei(client, {"inputs": TEXTS, "prompt_name": "query"})
    assert_cosine(query, st_model.encode(TEXTS, prompt_name="query", normalize_embeddings=True))
    np.testing.assert_allclose(query, native(client, input=TEXTS, task="query"), rtol=1e-5, atol=1e-6)
    plain = tei(client, {"inputs": TEXTS})
    assert (query * plain).sum(1).max() < 0.9999  # the prompt changed the vectors
    refusal = error(client.post("/embed", json={"inputs": "x", "prompt_name": "document"}))
    assert refusal["param"] == "prompt_name" and "query, passage" in refusal["message"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"inputs": "x", "normalized": False}, "unknown field 'normalized'; did you mean 'normalize'?"),
        ({"inputs": "x", "truncation": True}, "unknown field 'truncation'; did you mean 'truncate'?"),
        ({"inputs": "x", "top_k": 3}, "unknown field 'top_k'; accepted fields: inputs, normalize, truncate"),
        ({"inputs": "x", "truncation_direction": "Middle"}, "truncation_direction"),
        ({"inputs": [1, 2, 3]}, "inputs"),
        ({"inputs": []}, "'inputs' must not be empty"),
        ({"inputs": ["ok", " "]}, "inputs[1] is empty"),
        ({"inputs": ["x"] * 17}, "too many inputs: 17 > limit 16"),
        ({"inputs": "x", "dimensions": 0}, "dimensions"),
        ({"inputs": "x", "normalize": "yes"}, "normalize"),
    ],
)
def test_bad_tei_bodies_are_json_400s_that_say_what_is_wrong(client, body, fragment):
    refusal = error(client.post("/embed", json=body))
    assert refusal["type"] == "invalid_request_error" and fragment in refusal["message"], refusal


def test_a_body_with_input_is_not_a_tei_body(client):
    refusal = error(client.post("/embed", json={"input": "x", "inputs": "y"}))
    assert "unknown field 'inputs'; did you mean 'input'?" in refusal["message"]
    response = client.post("/embed", json={"input": TEXTS})  # the native body on TEI's path: the native answer
    assert response.status_code == 200 and response.get_json()["object"] == "list"
