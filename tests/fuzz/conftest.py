"""In-process fuzzing fixtures: the Flask app on the deterministic fake model and on the real embedded model
(all-MiniLM-L6-v2, so hostile text reaches a real tokenizer), the published spec, the oracle.

Example counts scale with ``FUZZ_EXAMPLES`` (default 60 per property on the fake model; CI's default run stays
in seconds) and ``FUZZ_REAL_EXAMPLES`` (default 30 per property on the real model: seconds on two CPU cores).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings

from inference.api.app import ENGINE, create_app
from inference.core.types import ModelInfo
from inference.model_dir import embedded_model_dir
from inference.settings import Settings
from tests.conftest import make_settings
from tests.fuzz.oracle import Oracle

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
REAL_EXAMPLES = int(os.environ.get("FUZZ_REAL_EXAMPLES", "30"))
settings.register_profile(
    "fuzz",
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    derandomize=os.environ.get("FUZZ_RANDOM") is None,  # reproducible in CI; FUZZ_RANDOM=1 explores
    database=None,
)
FUZZ = settings.get_profile("fuzz")
MAX_INPUTS = 8
MAX_BODY_MB = 1.0
MINILM_DIMENSIONS = 384


def fuzz_settings(**overrides: object) -> Settings:
    return make_settings(log_level="ERROR", max_inputs=MAX_INPUTS, max_body_mb=MAX_BODY_MB, **overrides)


@pytest.fixture(scope="module")
def fuzz_app():
    return create_app(fuzz_settings(handler="fake"), load_in_background=False)


@pytest.fixture(scope="module")
def fuzz_client(fuzz_app):
    return fuzz_app.test_client()


@pytest.fixture(scope="session")
def real_app():
    """The real embedded model behind the same app: hostile text goes through its WordPiece tokenizer."""
    app = create_app(fuzz_settings(handler="text", model_dir=embedded_model_dir(), device="cpu"),
                     load_in_background=False)
    info = app.extensions[ENGINE].handler.info
    assert (info.name, info.dimensions) == ("all-MiniLM-L6-v2", MINILM_DIMENSIONS), info
    return app


@dataclass(frozen=True)
class Target:
    """An app under fuzz: its client, what its model is, and how many examples a property runs on it."""

    kind: str
    client: FlaskClient
    info: ModelInfo
    examples: int

    @property
    def fuzz(self) -> settings:
        """The fuzz profile with this target's example count, to decorate a property."""
        return settings(FUZZ, max_examples=self.examples)


def target_for(kind: str, app: Flask) -> Target:
    info = app.extensions[ENGINE].handler.info
    return Target(kind, app.test_client(), info, EXAMPLES if kind == "fake" else REAL_EXAMPLES)


@pytest.fixture(scope="module", params=["fake", "real"])
def target(request):
    """Each hostile-text property runs on the fake model and on the real one; both must stay healthy."""
    target = target_for(request.param, request.getfixturevalue("fuzz_app" if request.param == "fake" else "real_app"))
    yield target
    assert target.client.get("/ping").status_code == 200
    response = target.client.post("/invocations", json={"input": ["still serving"]})
    assert response.status_code == 200 and len(response.get_json()["data"][0]["embedding"]) == target.info.dimensions


@pytest.fixture(scope="module")
def spec(fuzz_client):
    response = fuzz_client.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


@pytest.fixture(scope="module")
def oracle(spec):
    return Oracle(spec)
