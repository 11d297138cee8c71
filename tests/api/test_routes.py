import base64

import numpy as np
import pytest

from inference.api.app import ENGINE, create_app
from inference.endpoints.embeddings.response import pack_binary, pack_ubinary
from inference.handlers.fake import FakeEmbeddingHandler
from tests.conftest import make_settings

# Jina's API task names (jina-embeddings-v3); a model without tasks accepts and ignores them.
JINA_TASK_NAMES = ["retrieval.query", "retrieval.passage", "text-matching", "classification", "separation"]


def vectors(response):
    return np.array([d["embedding"] for d in response.get_json()["data"]], dtype=np.float32)


def test_ping_is_503_until_loaded_then_200(gated_app):
    app, gate = gated_app
    client = app.test_client()
    first = client.get("/ping")
    assert first.status_code == 503 and first.get_json()["error"]["type"] == "model_not_ready"
    assert first.headers["Retry-After"]
    assert client.get("/health/live").status_code == 200
    gate.set()
    app.extensions[ENGINE].wait_ready(10)
    assert client.get("/ping").status_code == 200
    assert client.get("/health/ready").status_code == 200


def test_invocations_before_ready_is_503(gated_app):
    app, gate = gated_app
    response = app.test_client().post("/invocations", json={"input": "x"})
    assert response.status_code == 503
    gate.set()


def test_load_failure_keeps_serving_503_with_reason(tmp_path):
    settings = make_settings(model_dir=tmp_path, log_level="CRITICAL")
    app = create_app(settings, load_in_background=False)
    response = app.test_client().get("/ping")
    assert response.status_code == 503
    assert "model failed to load" in response.get_json()["error"]["message"]


def test_a_load_error_reaches_the_log_but_no_caller(tmp_path, capsys):
    """The load error names the model folder (it could name a host or a setting): callers of every route are told
    that loading failed and that the log says why; the log line has the error."""
    folder = tmp_path / "private-models" / "secret-name"
    folder.mkdir(parents=True)
    app = create_app(make_settings(model_dir=folder, log_level="ERROR", vertex_health_route="/vh"),
                     load_in_background=False)  # fmt: skip
    client = app.test_client()
    replies = [client.get(path) for path in ("/ping", "/health/ready", "/vh", "/info")]
    replies.append(client.post("/invocations", json={"input": "x"}))
    for reply in replies:
        assert reply.status_code == 503
        assert reply.get_json()["error"]["message"] == "model failed to load; the server log says why"
        assert "secret-name" not in reply.get_data(as_text=True)
    assert "secret-name" in capsys.readouterr().out  # the log line of the failure


@pytest.mark.parametrize("route", ["/invocations", "/v1/embeddings", "/score", "/endpoints/my-endpoint/invocations"])
def test_every_embedding_route_answers_the_same(client, route):
    body = {"input": ["hello world", "second"]}
    assert vectors(client.post(route, json=body)).tolist() == vectors(client.post("/invocations", json=body)).tolist()


def test_all_embedding_types_are_consistent(client):
    body = {"input": ["alpha beta", "gamma"], "embedding_type": ["float", "base64", "binary", "ubinary"]}
    response = client.post("/invocations", json=body)
    assert response.status_code == 200
    data = response.get_json()["data"]
    floats = np.array([d["embedding"]["float"] for d in data], dtype=np.float32)
    np.testing.assert_allclose(np.linalg.norm(floats, axis=1), 1.0, rtol=1e-5)
    for row, item in zip(floats, data, strict=False):
        np.testing.assert_array_equal(np.frombuffer(base64.b64decode(item["embedding"]["base64"]), "<f4"), row)
        assert item["embedding"]["ubinary"] == pack_ubinary(row[None])[0].tolist()
        assert item["embedding"]["binary"] == pack_binary(row[None])[0].tolist()


def test_dimensions_and_unnormalized(client):
    full = vectors(client.post("/invocations", json={"input": "a b c", "normalized": False}))
    cut = vectors(client.post("/invocations", json={"input": "a b c", "dimensions": 8}))
    np.testing.assert_allclose(cut[0], full[0, :8] / np.linalg.norm(full[0, :8]), rtol=1e-5)
    too_big = client.post("/invocations", json={"input": "a", "dimensions": 33})
    assert too_big.status_code == 400 and "exceeds" in too_big.get_json()["error"]["message"]


def test_usage_counts_tokens(client):
    usage = client.post("/invocations", json={"input": ["one two", "three"]}).get_json()["usage"]
    assert usage == {"prompt_tokens": 4 + 3, "total_tokens": 7}  # [CLS] words [SEP]


def test_truncate_false_names_index_and_token_count(client):
    response = client.post("/invocations", json={"input": ["short", "w " * 100], "truncate": False})
    assert response.status_code == 400
    assert "input[1] has 102 tokens" in response.get_json()["error"]["message"]
    assert client.post("/invocations", json={"input": ["short", "w " * 100]}).status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "status", "error_type"),
    [
        ({"data": b"{not json", "content_type": "application/json"}, 400, "invalid_request_error"),
        ({"data": b'{"input": "x"}', "content_type": "application/xml"}, 415, "unsupported_media_type"),
        ({"json": {"input": "x"}, "headers": {"Accept": "text/html"}}, 406, "not_acceptable"),
        ({"json": {"input": ["x"] * 6}}, 400, "invalid_request_error"),
        ({"json": {"input": "x" * 20000}}, 413, "payload_too_large"),
        ({"json": {"input": [{"image": "aGk="}]}}, 400, "invalid_request_error"),
        ({"json": {"input": "x", "task": "nope"}}, 400, "invalid_request_error"),
    ],
)
def test_errors_are_json_with_the_right_status_and_the_server_lives_on(client, kwargs, status, error_type):
    response = client.post("/invocations", **kwargs)
    assert response.status_code == status
    assert response.get_json()["error"]["type"] == error_type
    assert response.get_json()["error"]["message"]
    assert client.post("/invocations", json={"input": "still alive"}).status_code == 200


def test_unknown_route_and_method_are_json(client):
    assert client.get("/nope").get_json()["error"]["type"] == "not_found"
    assert client.get("/invocations").status_code == 405


def test_execution_parameters(client):
    body = client.get("/execution-parameters").get_json()
    assert body["BatchStrategy"] == "MULTI_RECORD" and body["MaxPayloadInMB"] == 1


@pytest.fixture
def taskless_client():
    """The fake model without tasks (like all-MiniLM-L6-v2): ``info.tasks == ()``."""
    settings = make_settings(handler="fake", log_level="WARNING")
    app = create_app(settings, lambda s: FakeEmbeddingHandler(s, tasks=()), load_in_background=False)
    assert app.extensions[ENGINE].handler.info.tasks == ()
    return app.test_client()


@pytest.mark.parametrize("task", JINA_TASK_NAMES)
def test_jina_tasks_are_accepted_and_ignored_by_models_without_tasks(taskless_client, task):
    body = {"input": ["alpha beta", "gamma"]}
    with_task = taskless_client.post("/invocations", json={**body, "task": task})
    assert with_task.status_code == 200
    np.testing.assert_array_equal(vectors(with_task), vectors(taskless_client.post("/invocations", json=body)))


def test_unknown_task_names_are_refused_by_models_without_tasks(taskless_client):
    response = taskless_client.post("/invocations", json={"input": "x", "task": "query"})
    assert response.status_code == 400 and response.get_json()["error"]["type"] == "invalid_request_error"
    assert "retrieval.query" in response.get_json()["error"]["message"]  # names the valid (Jina) tasks


def test_models_with_tasks_accept_only_their_own(client):
    # The default fake model defines tasks "query"/"passage", so Jina's names are unknown to it.
    assert client.application.extensions[ENGINE].handler.info.tasks == ("query", "passage")
    assert client.post("/invocations", json={"input": "x", "task": "query"}).status_code == 200
    assert client.post("/invocations", json={"input": "x", "task": "retrieval.query"}).status_code == 400


def test_a_host_that_cannot_serve_the_model_is_named_to_callers(tmp_path):
    """The one load failure /ping repeats: a ``HostUnfitError`` (a GPU CUDA cannot use), whose words are written for
    whoever deploys the server; any other load error stays in the log only."""
    from inference.errors import HostUnfitError

    def unfit(settings):
        raise HostUnfitError("CUDA is unavailable: this image's CUDA 12.8 runtime needs driver >= 525.60.13")

    app = create_app(make_settings(log_level="CRITICAL"), loader=unfit, load_in_background=False)
    message = app.test_client().get("/ping").get_json()["error"]["message"]
    assert message == ("model failed to load: HostUnfitError: CUDA is unavailable: this image's CUDA 12.8 runtime "
                       "needs driver >= 525.60.13")  # fmt: skip
