"""Classification through the Flask app: a tiny random multi-label classifier (sigmoid) answers TEI's /predict,
Infinity's /classify, Jina's /v1/classify and /invocations with the scores of transformers' text-classification
pipeline; an embedding model answers /v1/classify zero-shot, ``softmax(scale * cosine)`` of the reference
embeddings (sentence-transformers for MiniLM at scale 20, CLIPModel's projections at 100 for a CLIP-style one)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer
from transformers import pipeline

from inference.api.app import ENGINE, create_app
from inference.endpoints.classify.schema import parse_classify_request
from inference.endpoints.classify.size import classify_bound
from inference.mime import JSONLINES
from tests.conftest import make_settings
from tests.model.test_clip import b64, png, reference
from tests.tiny_classifiers import MULTI_LABELS, build_multi_label_classifier
from tests.tiny_models import build_tiny_clip

TEXTS = ["paris is the capital of france", "hello world", "search engine vector query"]
PAIR = ["paris capital", "the river"]
LABELS = ["travel and cities", "greetings", "computer search"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_multi_label_classifier(tmp_path_factory.mktemp("multi"))


@pytest.fixture(scope="module")
def expected(folder):
    """The pipeline's scores by label for each of TEXTS, then PAIR."""
    pipe = pipeline("text-classification", model=str(folder), top_k=None, device="cpu")
    answers = pipe([*TEXTS, {"text": PAIR[0], "text_pair": PAIR[1]}])
    return [{item["label"]: item["score"] for item in answer} for answer in answers]


def app_for(folder, **settings):
    settings = {"model_dir": folder, "handler": "auto", "device": "cpu", "log_level": "WARNING", "max_inputs": 8,
                **settings}  # fmt: skip
    return create_app(make_settings(**settings), load_in_background=False)


@pytest.fixture(scope="module")
def client(folder):
    return app_for(folder).test_client()


def ok(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def refused(response, kind="invalid_request_error"):
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["type"] == kind
    return error


def check_ranked(items, scores):
    """A TEI / Infinity list: every label, best first, each score the reference's."""
    assert [item["label"] for item in items] == sorted(scores, key=lambda label: -scores[label])
    for item in items:
        assert item["score"] == pytest.approx(scores[item["label"]], abs=1e-5)


def test_predict_one_text_is_one_list(client, expected):
    check_ranked(ok(client.post("/predict", json={"inputs": TEXTS[0]})), expected[0])
    check_ranked(ok(client.post("/predict", json={"inputs": [TEXTS[1]]})), expected[1])  # [text]: one input


def test_predict_a_pair_and_a_batch(client, expected):
    check_ranked(ok(client.post("/predict", json={"inputs": PAIR})), expected[3])  # [text, text_pair]
    batch = ok(client.post("/predict", json={"inputs": [[TEXTS[0]], PAIR, [TEXTS[2]]]}))
    assert len(batch) == 3
    for answer, scores in zip(batch, [expected[0], expected[3], expected[2]], strict=True):
        check_ranked(answer, scores)


def test_raw_scores_are_the_logits(client, expected):
    raw = ok(client.post("/predict", json={"inputs": TEXTS[0], "raw_scores": True}))
    for item in raw:  # the pipeline's sigmoid of each logit
        assert 1 / (1 + np.exp(-item["score"])) == pytest.approx(expected[0][item["label"]], abs=1e-5)
    assert any(item["score"] > 1 or item["score"] < 0 for item in raw)


def test_infinity_classify(client, expected):
    body = ok(client.post("/classify", json={"input": TEXTS, "model": "m"}))
    assert body["object"] == "classify" and len(body["data"]) == 3 and body["id"] and body["created"] > 0
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0
    for answer, scores in zip(body["data"], expected, strict=False):
        check_ranked(answer, scores)


@pytest.mark.parametrize("path", ["/v1/classify", "/invocations"])
def test_jina_classify_with_the_models_labels(client, expected, path):
    body = ok(client.post(path, json={"input": [TEXTS[0], {"text": TEXTS[1]}], "model": "m"}))
    assert body["usage"]["total_tokens"] > 0 and [entry["index"] for entry in body["data"]] == [0, 1]
    for entry, scores in zip(body["data"], expected, strict=False):
        assert entry["object"] == "classification"
        assert [p["label"] for p in entry["predictions"]] == list(MULTI_LABELS)  # label order
        assert entry["prediction"] == max(scores, key=scores.get)
        assert entry["score"] == pytest.approx(scores[entry["prediction"]], abs=1e-5)


def test_jina_labels_pick_a_subset_of_the_models_labels(client, expected):
    body = ok(client.post("/v1/classify", json={"input": TEXTS[0], "labels": ["travel", "science"]}))
    predictions = body["data"][0]["predictions"]
    assert [p["label"] for p in predictions] == ["travel", "science"]  # in the request's order, not renormalised
    assert [p["score"] for p in predictions] == pytest.approx([expected[0]["travel"], expected[0]["science"]],
                                                               abs=1e-5)  # fmt: skip
    error = refused(client.post("/v1/classify", json={"input": TEXTS[0], "labels": ["travel", "cooking"]}))
    assert "'cooking' is not one of this classifier's labels" in error["message"] and error["param"] == "labels"


def test_invocations_reads_teis_body_too(client, expected):
    check_ranked(ok(client.post("/invocations", json={"inputs": TEXTS[2]})), expected[2])


def test_json_lines_records_answer_one_line_each(client, expected):
    lines = b'{"inputs": "paris is the capital of france"}\n{"inputs": [["hello world"]]}\n'
    response = client.post("/predict", data=lines, content_type=JSONLINES)
    assert response.status_code == 200 and response.mimetype == JSONLINES
    first, second = (json.loads(line) for line in response.get_data().splitlines())
    check_ranked(first, expected[0])
    check_ranked(second[0], expected[1])
    bad = client.post("/predict", data=b'{"inputs": "x"}\n{"input": "y"}\n', content_type=JSONLINES)
    assert "line 2: unknown field 'input'" in refused(bad)["message"]


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/predict", {"inputs": "x", "raw_score": True}, "unknown field 'raw_score'; did you mean 'raw_scores'?"),
        ("/classify", {"input": ["x"], "labels": ["a"]}, "unknown field 'labels'"),
        ("/v1/classify", {"input": ["x"], "classifier_id": "c"}, "unknown field 'classifier_id'"),
        ("/predict", {"inputs": []}, "'inputs' must not be empty"),
        ("/predict", {"inputs": [" "]}, "inputs[0] is empty"),
        ("/classify", {"input": []}, "'input' must not be empty"),
        ("/v1/classify", {"input": []}, "'input' must not be empty"),
        ("/v1/classify", {"input": "x", "labels": []}, "'labels' must not be empty"),
        ("/v1/classify", {"input": "x", "labels": ["a", "a"]}, "labels must be distinct"),
        ("/predict", {"inputs": ["a", "b", "c"]}, "a list of strings is one input"),
        ("/predict", {"inputs": [["a", "b", "c"]]}, "inputs[0]: a batch item is [text] or [text, text_pair]"),
        ("/predict", {"inputs": "x", "truncation_direction": "Left"}, "only 'Right' is supported"),
        ("/predict", {"inputs": [["x"]] * 9}, "too many inputs: 9 > limit 8"),
        ("/v1/classify", {"input": [{"image": "https://example.com/a.png"}]}, "a classifier reads text"),
    ],
)
def test_bad_bodies_are_400s_naming_the_problem(client, path, body, message):
    assert message in refused(client.post(path, json=body))["message"]


def test_an_over_long_input_is_cut_or_refused(client):
    long = "hello world " * 40
    assert len(ok(client.post("/predict", json={"inputs": long, "truncate": True}))) == len(MULTI_LABELS)
    assert "more than the model's maximum" in refused(client.post("/predict", json={"inputs": long}))["message"]
    assert ok(client.post("/classify", json={"input": [long]}))["data"]  # Infinity and Jina always cut


@pytest.mark.parametrize("path", ["/v1/embeddings", "/embed", "/v1/rerank"])
def test_other_apis_say_this_is_a_classifier(client, path):
    error = refused(client.post(path, json={"input": "x", "query": "q", "documents": ["d"]}), "wrong_model_kind")
    assert "classifier" in error["message"] and "/v1/classify" in error["message"]


def test_rate_limits_reserve_the_words_and_charge_the_usage(folder):
    client = app_for(folder, rate_limit_tpm=12).test_client()
    first = client.post("/predict", json={"inputs": [["hello world"], ["paris", "the river"]]})
    assert first.status_code == 200  # 5 tokens of words reserved; the usage has the special tokens too
    tokens = 4 + 6  # [CLS] hello world [SEP]; [CLS] paris [SEP] the river [SEP]
    assert first.headers["X-RateLimit-Remaining-Tokens"] == str(12 - tokens)
    refused_ = client.post("/predict", json={"inputs": "one two three"})  # 3 words, 2 tokens left
    assert refused_.status_code == 429 and "this request needs 3 tokens" in refused_.get_json()["error"]["message"]


def test_the_metering_header_counts_inputs(client):
    response = client.post("/predict", json={"inputs": [["a"], ["b"], ["c"]]})
    assert response.headers["X-Amzn-Inference-Metering"].endswith('"ConsumedUnits": 3}')


@pytest.fixture(scope="module")
def minilm_client(minilm_dir):
    return create_app(make_settings(model_dir=minilm_dir, device="cpu", log_level="WARNING"),
                      load_in_background=False).test_client()  # fmt: skip


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def test_zero_shot_on_an_embedding_model_is_softmax_of_20_times_the_cosine(minilm_client, minilm_dir):
    body = ok(minilm_client.post("/v1/classify", json={"input": TEXTS, "labels": LABELS, "model": "m"}))
    model = SentenceTransformer(str(minilm_dir), device="cpu")
    texts, labels = model.encode(TEXTS, normalize_embeddings=True), model.encode(LABELS, normalize_embeddings=True)
    expected = softmax(20.0 * (texts.astype(np.float64) @ labels.T.astype(np.float64)))
    got = np.array([[p["score"] for p in entry["predictions"]] for entry in body["data"]])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert [entry["prediction"] for entry in body["data"]] == [LABELS[i] for i in expected.argmax(axis=1)]
    assert [p["label"] for p in body["data"][0]["predictions"]] == LABELS
    assert body["usage"]["total_tokens"] == sum(len(model.tokenizer(t)["input_ids"]) for t in TEXTS + LABELS)


def test_zero_shot_needs_labels_and_text_inputs(minilm_client):
    assert "needs 'labels'" in refused(minilm_client.post("/v1/classify", json={"input": ["x"]}))["message"]
    image = {"input": [{"image": "https://example.com/a.png"}], "labels": ["a", "b"]}
    assert "is an image but model" in refused(minilm_client.post("/v1/classify", json=image))["message"]


@pytest.mark.parametrize(("path", "body"), [("/predict", {"inputs": "x"}), ("/classify", {"input": ["x"]})])
def test_teis_and_infinitys_routes_need_a_classifier(minilm_client, path, body):
    error = refused(minilm_client.post(path, json=body), "wrong_model_kind")
    assert "not a classifier" in error["message"]


def test_zero_shot_images_on_a_clip_style_model_use_scale_100(tmp_path):
    folder = build_tiny_clip(tmp_path / "clip")
    client = create_app(make_settings(model_dir=folder, device="cpu", log_level="WARNING"),
                        load_in_background=False).test_client()  # fmt: skip
    images = [png((200, 10, 10)), png((10, 10, 200), size=(70, 30))]
    labels = ["hello world", "bonjour le monde", "paris"]
    body = ok(client.post("/v1/classify", json={"input": [{"image": b64(image)} for image in images],
                                                 "labels": labels}))  # fmt: skip
    text, image = reference(folder, labels, images)
    unit = [vectors / np.linalg.norm(vectors, axis=1, keepdims=True) for vectors in (image, text)]
    expected = softmax(100.0 * (unit[0].astype(np.float64) @ unit[1].T.astype(np.float64)))
    got = np.array([[p["score"] for p in entry["predictions"]] for entry in body["data"]])
    np.testing.assert_allclose(got, expected, atol=1e-4)


@pytest.mark.parametrize(
    ("path", "body"),
    [("/predict", {"inputs": "hello"}), ("/predict", {"inputs": [["hello"], ["a", "b"]], "raw_scores": True}),
     ("/classify", {"input": ["x", "y", "z"]}), ("/v1/classify", {"input": ["x", "y"]}),
     ("/v1/classify", {"input": "x", "labels": ["politics"]})],
)  # fmt: skip
def test_the_response_bound_is_never_below_the_answer(client, path, body):
    shape = {"/predict": "tei", "/classify": "infinity", "/v1/classify": "jina"}[path]
    bound = classify_bound(parse_classify_request(body, shape, 8), client.application.extensions[ENGINE].info)
    size = len(client.post(path, json=body).get_data())
    assert size <= bound.bytes < size + 60 * len(bound.parts) + 200


def test_an_answer_over_the_response_limit_is_a_413_before_the_model_runs(folder):
    client = app_for(folder, max_response_mb=0.001).test_client()  # 1048 bytes: about 5 inputs' scores
    response = client.post("/classify", json={"input": ["hello world"] * 8})
    assert response.status_code == 413 and response.get_json()["error"]["type"] == "response_too_large"
    assert "send fewer inputs" in response.get_json()["error"]["message"]
    assert client.post("/classify", json={"input": ["hello world"]}).status_code == 200


def test_info_names_the_kind_and_the_labels(client):
    info = ok(client.get("/info"))
    assert info["kind"] == "classify" and info["labels"] == list(MULTI_LABELS)


def test_vertex_instances_of_a_classifier_are_its_inputs(tmp_path):
    """Vertex AI's predict route with a classifier loaded: each instance is one input, each prediction its label
    scores (Jina's classify entry without object and index), equal to /v1/classify's."""
    from tests.tiny_classifiers import build_multi_label_classifier

    folder = build_multi_label_classifier(tmp_path / "m")
    settings = make_settings(model_dir=folder, handler="auto", device="cpu", log_level="WARNING",
                             vertex_predict_route="/v1/endpoints/1/deployedModels/2:predict",
                             vertex_health_route="/health")  # fmt: skip
    client = create_app(settings, load_in_background=False).test_client()
    texts = ["paris is the capital", "the river"]
    native = client.post("/v1/classify", json={"input": texts})
    assert native.status_code == 200, native.get_data(as_text=True)
    reply = client.post("/v1/endpoints/1/deployedModels/2:predict", json={"instances": texts})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    expected = [{k: v for k, v in item.items() if k not in ("object", "index")} for item in native.get_json()["data"]]
    assert reply.get_json()["predictions"] == expected
