"""The image as Vertex AI starts it: no arguments, AIP_HTTP_PORT / AIP_HEALTH_ROUTE / AIP_PREDICT_ROUTE set, no
network. Health on Vertex's route, ``{"instances", "parameters"}`` -> ``{"predictions"}`` equal to the reference
vectors, native bodies on the predict route (rawPredict), errors in the JSON envelope.
(AIP_STORAGE_URI is tested against a fake Cloud Storage in tests/unit/test_storage_model.py and, with a real
server, in tests/integration/test_vertex_storage_startup.py.)"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
from container_harness import TEXTS, Container, assert_matches_reference, floats

pytestmark = pytest.mark.container

PORT = 8085
HEALTH = "/v1/endpoints/123/deployedModels/456"
PREDICT = "/v1/endpoints/123/deployedModels/456:predict"


@pytest.fixture(scope="module")
def vertex(image: str, unique: str, metrics: dict) -> Iterator[Container]:
    container = Container.run(
        image,
        f"embed-test-vertex-{unique}",
        port=PORT,
        docker_args=(
            "-e", f"AIP_HTTP_PORT={PORT}",
            "-e", f"AIP_HEALTH_ROUTE={HEALTH}",
            "-e", f"AIP_PREDICT_ROUTE={PREDICT}",
            "-e", "AIP_MODE=PREDICTION",
        ),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while container.get(HEALTH, timeout=5).status != 200:
            assert container.running() and time.monotonic() < deadline, container.logs()
            time.sleep(0.5)
        metrics["vertex: startup to ready (s)"] = round(time.monotonic() - container.started, 1)
        yield container
    finally:
        container.remove()


def test_vertex_port_and_health_route(vertex: Container) -> None:
    assert vertex.get(HEALTH).json()["status"] == "ready"
    assert vertex.get("/ping").status == 200  # the other platforms' routes stay
    assert Container(name=vertex.name, port=8080).get("/ping").status == 0  # AIP_HTTP_PORT, not the default


def test_vertex_predictions_match_the_reference(vertex: Container, reference: np.ndarray) -> None:
    reply = vertex.post(PREDICT, {"instances": [TEXTS[0], *({"text": t} for t in TEXTS[1:])], "parameters": {}})
    assert reply.status == 200, reply.body
    predictions = reply.json()["predictions"]
    assert_matches_reference(np.asarray(predictions, dtype=np.float32), reference)
    native = vertex.post(PREDICT, {"input": TEXTS})  # rawPredict: the native body
    assert native.status == 200 and np.allclose(floats(native.json()), np.asarray(predictions), atol=1e-6)


def test_vertex_parameters_and_errors(vertex: Container) -> None:
    reply = vertex.post(PREDICT, {"instances": TEXTS[:2], "parameters": {"dimensions": 8}})
    assert reply.status == 200 and [len(v) for v in reply.json()["predictions"]] == [8, 8]
    bad = vertex.post(PREDICT, {"instances": TEXTS[:1], "parameters": {"bogus": True}})
    assert bad.status == 400 and bad.json()["error"]["type"] == "invalid_request_error"
