"""The client cuts requests so that each answer fits the endpoint's response limit, as the server bounds it: against
the real Flask app (a fake model of 1024 dimensions), a client with ``batch_size=2048`` embeds 2048 texts without a
413 ``response_too_large`` and every answer is within 6 MB (SageMaker real-time), 4 MB (Serverless) or 1.5 MB
(Vertex AI, where each body is also checked for what Vertex adds around it)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embedding_client import EmbeddingClient, EmbeddingServiceError
from inference.api.app import create_app
from inference.handlers.fake import FakeEmbeddingHandler
from tests.conftest import make_settings

TEXTS = [f"text {i}" for i in range(2048)]


class AppTransport:
    """The client's transport onto the Flask app's ``/invocations``; the size of each answer is kept."""

    def __init__(self, dimensions: int, **settings: object) -> None:
        base = {"handler": "fake", "log_level": "WARNING", "max_inputs": 2048}
        app = create_app(make_settings(**{**base, **settings}), lambda s: FakeEmbeddingHandler(s, dimensions),
                         load_in_background=False)  # fmt: skip
        self.client, self.sizes, self.counts = app.test_client(), [], []

    def post(self, body: bytes) -> bytes:
        self.counts.append(len(json.loads(body)["input"]))
        response = self.client.post("/invocations", data=body, content_type="application/json")
        if response.status_code != 200:
            error = response.get_json()["error"]
            raise EmbeddingServiceError(response.status_code, error["type"], error["message"])
        self.sizes.append(len(response.get_data()))
        return response.get_data()


@pytest.mark.parametrize(("mode", "limit"), [("realtime", 6_000_000), ("serverless", 4_000_000)])
@pytest.mark.parametrize("embedding_type", ["float", ["float", "binary", "ubinary"]])
def test_every_answer_fits_the_endpoints_limit(mode, limit, embedding_type):
    transport = AppTransport(1024, sagemaker_mode=mode)
    client = EmbeddingClient(transport=transport, batch_size=2048, mode=mode)
    vectors = client.embed(TEXTS, embedding_type=embedding_type)
    first = vectors if isinstance(vectors, np.ndarray) else vectors["float"]
    assert first.shape == (2048, 1024)
    assert len(transport.counts) > 1 and max(transport.sizes) <= limit
    assert transport.counts[0] < transport.counts[1]  # the first answer showed the model's 1024 dimensions


def test_known_dimensions_size_the_first_request_too():
    transport = AppTransport(1024)
    EmbeddingClient(transport=transport, batch_size=2048).embed(TEXTS, dimensions=64)
    assert transport.counts == [2048]  # 64-dimension base64: the whole request fits 6 MB
    transport = AppTransport(1024)
    EmbeddingClient(transport=transport, batch_size=2048).embed(TEXTS, dimensions=1024)
    assert transport.counts == [1082, 966]  # the server's bound lets 1087 through: the client is a bit stricter


def test_vertex_sized_answers():
    transport = AppTransport(1024, vertex_predict_route="/predict", vertex_health_route="/health")
    client = EmbeddingClient(transport=transport, batch_size=2048, max_body_bytes=1_500_000,
                             max_response_bytes=1_500_000)
    client.embed(TEXTS[:600], dimensions=1024)
    assert max(transport.sizes) + 1024 <= 1_500_000
