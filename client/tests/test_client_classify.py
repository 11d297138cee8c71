"""``EmbeddingClient.classify`` against the real server: a tiny random multi-label classifier over every transport
(a local server's ``/v1/classify``, boto3 ``sagemaker-runtime``'s ``/invocations``, an Azure-style scoring URI,
Vertex AI ``:predict`` and ``:rawPredict``), and zero-shot on the embedded all-MiniLM-L6-v2, which only the local
server's ``/v1/classify`` answers. Scores are compared with the server's own ``/v1/classify`` answer."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import requests
from reach import Recording, clients

from embedding_client import Classification, ClassifyResponse, EmbeddingClient, EmbeddingServiceError, LabelScore

LABELS = ("sports", "politics", "science", "travel")  # the tiny classifier's, in its id2label order
INPUTS = [f"{word} number {i}" for i, word in enumerate(["hello world", "the river", "paris capital", "vector"] * 5)]


def direct(url: str, **body: Any) -> dict[str, Any]:
    """The server's own answer to ``POST /v1/classify``."""
    response = requests.post(f"{url}/v1/classify", json=body, timeout=30)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def check(response: ClassifyResponse, answer: dict[str, Any], usage: bool = True, atol: float = 0.0) -> None:
    """Every result equal to the server's entry, in input order; ``scores`` the same numbers by label. ``atol``:
    for requests split otherwise than ``answer``'s (other batches, other padding: float32 noise)."""
    entries = sorted(answer["data"], key=lambda entry: entry["index"])
    assert isinstance(response, ClassifyResponse) and len(response) == len(entries)
    for position, (result, entry) in enumerate(zip(response, entries, strict=True)):
        assert isinstance(result, Classification) and result.index == position
        assert result.prediction == entry["prediction"] and all(isinstance(p, LabelScore) for p in result.predictions)
        assert [p.label for p in result.predictions] == [p["label"] for p in entry["predictions"]]
        expected = [entry["score"]] + [p["score"] for p in entry["predictions"]]
        np.testing.assert_allclose([result.score] + [p.score for p in result.predictions], expected, atol=atol, rtol=0)
    labels = tuple(p["label"] for p in entries[0]["predictions"])
    assert response.labels == labels and response.scores.shape == (len(entries), len(labels))
    np.testing.assert_allclose(response.scores, [[p["score"] for p in e["predictions"]] for e in entries], atol=atol,
                               rtol=0)  # fmt: skip
    assert response.predictions == [entry["prediction"] for entry in entries]
    assert response.total_tokens == (answer["usage"]["total_tokens"] if usage else 0)


def test_a_classifier_on_every_transport_answers_the_servers_scores(classifier_server: str, fake_aws: None) -> None:
    whole = direct(classifier_server, input=INPUTS)
    subset = direct(classifier_server, input=INPUTS[:3], labels=["travel", "sports"])
    for name, client in clients(classifier_server, batch_size=8, concurrency=2).items():
        response = client.classify(INPUTS)  # three requests of at most 8
        check(response, whole, usage=name != "vertex", atol=1e-6)  # Vertex's :predict carries no usage
        assert response.labels == LABELS
        check(client.classify(INPUTS[:3], labels=["travel", "sports"]), subset, usage=name != "vertex")
        single = client.classify({"text": INPUTS[0]})
        check(single, direct(classifier_server, input=INPUTS[:1]), usage=name != "vertex")


def test_answers_are_cut_to_the_response_limit(classifier_server: str, fake_aws: None) -> None:
    whole = direct(classifier_server, input=INPUTS)
    for name in ("local", "sagemaker"):  # the labels: GET /info on a local server, else the first answer's
        client = clients(classifier_server, max_response_bytes=2_000)[name]
        recording = Recording(client)
        check(client.classify(INPUTS), whole, atol=1e-6)
        assert len(recording.sent) > 2 and sum(recording.counts) == len(INPUTS), recording.sent
        assert all(isinstance(size, int) and size <= 2_000 for _, size in recording.sent), recording.sent


def test_zero_shot_on_an_embedding_model_is_answered_locally(minilm_server: str) -> None:
    labels = ["finance", "sports", "cooking"]
    texts = ["The stock market fell sharply today.", "The team won the football match.", "Boil the pasta."]
    response = EmbeddingClient.local(minilm_server).classify(texts, labels)
    check(response, direct(minilm_server, input=texts, labels=labels))
    assert response.predictions == ["finance", "sports", "cooking"] and response.labels == tuple(labels)
    with pytest.raises(EmbeddingServiceError) as raised:
        EmbeddingClient.local(minilm_server).classify(texts)
    assert raised.value.status == 400 and "labels" in raised.value.message


def test_zero_shot_is_out_of_reach_of_invocations(minilm_server: str, fake_aws: None) -> None:
    """An embedding model's /invocations (SageMaker, Azure) and Vertex route read embeddings bodies only."""
    reach = clients(minilm_server)
    for name in ("azure", "vertex", "vertex-raw"):
        with pytest.raises(EmbeddingServiceError) as raised:
            reach[name].classify(["a text"], labels=["x", "y"])
        assert raised.value.status == 400 and "POST /v1/classify only" in raised.value.message, name
    with pytest.raises(EmbeddingServiceError) as raised:  # boto3 reads no message out of the local server's 400
        reach["sagemaker"].classify(["a text"], labels=["x", "y"])
    assert raised.value.status == 400
    for name in ("sagemaker", "azure"):  # without labels /invocations answers embeddings
        with pytest.raises(EmbeddingServiceError) as raised:
            reach[name].classify(["a text"])
        assert raised.value.code == "wrong_model_kind" and "POST /v1/classify only" in raised.value.message


def test_a_classifier_refuses_labels_it_does_not_have(classifier_server: str) -> None:
    with pytest.raises(EmbeddingServiceError) as raised:
        EmbeddingClient.local(classifier_server).classify(["a"], labels=["finance"])
    assert raised.value.status == 400 and "not one of this classifier's labels" in raised.value.message


def test_the_vertex_bodies_and_predictions(classifier_server: str) -> None:
    client = clients(classifier_server)["vertex"]
    sent: list[Any] = []
    request = client.transport._session.request  # type: ignore[attr-defined]

    def spy(method: str, url: str, **kwargs: Any) -> Any:
        response = request(method, url, **kwargs)
        sent.append((json.loads(kwargs["data"]), response.json()))
        return response

    client.transport._session.request = spy  # type: ignore[attr-defined]
    client.classify(["a", {"text": "b"}], labels=["science"])
    body, answer = sent[0]
    assert body == {"instances": ["a", {"text": "b"}], "parameters": {"labels": ["science"]}}
    assert set(answer["predictions"][0]) == {"prediction", "score", "predictions"}


class Refuse:
    def post(self, body: bytes) -> bytes:
        raise AssertionError("not expected to be called")


@pytest.mark.parametrize(
    ("inputs", "labels", "error", "message"),
    [
        ([], None, ValueError, "inputs must not be empty"),
        ([3], None, TypeError, "inputs must be str"),
        (["a"], "sports", TypeError, "labels must be a list of str"),
        (["a"], ["sports", 1], TypeError, "labels must be a list of str"),
    ],
)
def test_argument_checks(inputs: list[Any], labels: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        EmbeddingClient(transport=Refuse()).classify(inputs, labels)
