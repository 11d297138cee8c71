"""Answers the platform could not return are refused 413 ``response_too_large`` before any model work (Flask app).

SageMaker returns at most 6 MB (Serverless 4 MB), a Vertex AI shared endpoint 1.5 MB: 2048 texts of 1024-dimension
floats would have been computed and then lost at the platform. Now the request is refused at once, naming how
many inputs fit; base64 or fewer inputs pass. The fake model counts its tokenizer and forward calls.
"""

from __future__ import annotations

import json

import pytest

from inference.api.app import create_app
from inference.handlers.fake import FakeEmbeddingHandler
from inference.mime import JSONLINES
from tests.conftest import make_settings
from tests.tiny_rerankers import build_tiny_bert_reranker

PREDICT = "/v1/endpoints/1/deployedModels/2:predict"
VERTEX = {"vertex_health_route": "/v1/endpoints/1/deployedModels/2", "vertex_predict_route": PREDICT}


class CountingHandler(FakeEmbeddingHandler):
    calls = 0

    def tokenize(self, texts, task, truncate):
        CountingHandler.calls += 1
        return super().tokenize(texts, task, truncate)

    def forward(self, batch, task):
        CountingHandler.calls += 1
        return super().forward(batch, task)


def app_client(**settings):
    base = {"handler": "fake", "log_level": "WARNING", "max_inputs": 2048, "record_options": {}}
    app = create_app(make_settings(**{**base, **settings}), lambda s: CountingHandler(s, dimensions=1024),
                     load_in_background=False)  # fmt: skip
    return app.test_client()


def post(client, body, path="/invocations", content_type="application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body)
    return client.post(path, data=data, content_type=content_type)


def refused(response) -> str:
    assert response.status_code == 413, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert error["type"] == "response_too_large"
    assert "X-Amzn-Inference-Metering" not in response.headers
    return str(error["message"])


TEXTS = [f"text number {i}" for i in range(2048)]


def test_2048_floats_are_refused_before_any_model_work_naming_what_fits():
    client = app_client()
    before = CountingHandler.calls
    message = refused(post(client, {"input": TEXTS}))
    assert CountingHandler.calls == before  # neither tokenised nor embedded
    assert "2048 inputs (1024-dimension float embeddings)" in message
    assert "more than the 6 MB this endpoint returns (EMB_MAX_RESPONSE_MB)" in message
    assert "At most 343 such inputs fit in one request" in message
    assert '"embedding_type": "base64" (little-endian float32: 1087 of these inputs fit)' in message


@pytest.mark.parametrize(("body", "count"), [({"input": TEXTS[:343]}, 343),
                                             ({"input": TEXTS[:1087], "embedding_type": "base64"}, 1087),
                                             ({"input": TEXTS, "embedding_type": "binary"}, 2048),
                                             ({"input": TEXTS, "dimensions": 128}, 2048)])  # fmt: skip
def test_what_fits_is_answered_within_the_limit(body, count):
    response = post(app_client(), body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert len(response.get_json()["data"]) == count and len(response.get_data()) <= 6_000_000


def test_every_shape_is_bounded_tei_and_jina_sagemaker_too():
    client = app_client()
    assert "At most 344" in refused(post(client, {"inputs": TEXTS[:345]}, path="/embed"))  # TEI: no entries
    assert "At most 343" in refused(post(client, {"data": TEXTS[:344]}))
    assert "more than the 4 MB" in refused(post(app_client(sagemaker_mode="serverless"), {"input": TEXTS[:300]}))


def test_no_limit_in_async_mode_or_when_lifted():
    for client in (app_client(sagemaker_mode="async"), app_client(max_response_mb=0.0)):
        response = post(client, {"input": TEXTS[:400]})
        assert response.status_code == 200 and len(response.get_data()) > 1_000_000


def test_batch_transform_records_are_not_limited_in_realtime_mode_but_are_when_set():
    body = "\n".join(json.dumps(text) for text in TEXTS[:400]).encode()
    response = post(app_client(), body, content_type=JSONLINES)
    assert response.status_code == 200 and len(response.get_data().split(b"\n")) == 400
    message = refused(post(app_client(max_response_mb=1.0), body, content_type=JSONLINES))
    assert "400 records" in message and "MaxPayloadInMB" in message and "At most 57 such records" in message


def test_vertex_shared_endpoints_return_1_5_mb_dedicated_ones_10():
    shared = app_client(**VERTEX)
    message = refused(post(shared, {"instances": TEXTS[:100]}, path=PREDICT))
    assert "100 instances" in message and "1.5 MB" in message and "At most 86 such instances" in message
    response = post(shared, {"instances": TEXTS[:86]}, path=PREDICT)
    assert response.status_code == 200 and len(response.get_json()["predictions"]) == 86
    assert len(response.get_data()) + 1024 <= 1_500_000  # room for what Vertex adds (deployedModelId, ...)
    dedicated = post(app_client(vertex_endpoint="dedicated", **VERTEX), {"instances": TEXTS[:500]}, path=PREDICT)
    assert dedicated.status_code == 200


@pytest.fixture(scope="module")
def reranker(tmp_path_factory):
    folder = build_tiny_bert_reranker(tmp_path_factory.mktemp("reranker"))
    settings = make_settings(model_dir=folder, handler="auto", device="cpu", log_level="WARNING",
                             max_documents=1024, max_response_mb=1.0)  # fmt: skip
    return create_app(settings, load_in_background=False).test_client()


def test_rerank_answers_echoing_the_documents_are_bounded(reranker):
    documents = [f"document {i} " + "paris river " * 100 for i in range(1000)]  # 1.2 MB of texts
    message = refused(post(reranker, {"query": "paris", "documents": documents}, path="/v1/rerank"))
    assert "1000 documents (scores and echoed texts)" in message and "return_documents=false" in message
    ok = post(reranker, {"query": "paris", "documents": documents, "return_documents": False}, path="/v1/rerank")
    assert ok.status_code == 200 and len(ok.get_json()["results"]) == 1000
    top = post(reranker, {"query": "paris", "documents": documents, "top_n": 10}, path="/v1/rerank")
    assert top.status_code == 200 and len(top.get_json()["results"]) == 10
    assert "return_text=false" in refused(post(reranker, {"query": "paris", "texts": documents, "return_text": True},
                                               path="/rerank"))  # fmt: skip
