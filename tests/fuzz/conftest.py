"""In-process fuzzing fixtures: the Flask app on the deterministic fake model, its published spec, the oracle.

Example counts scale with ``FUZZ_EXAMPLES`` (default 60 per property; CI's default run stays in seconds).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from inference.api.app import create_app
from tests.conftest import make_settings
from tests.fuzz.oracle import Oracle

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
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


@pytest.fixture(scope="module")
def fuzz_app():
    s = make_settings(handler="fake", log_level="ERROR", max_inputs=MAX_INPUTS, max_body_mb=1.0)
    return create_app(s, load_in_background=False)


@pytest.fixture(scope="module")
def fuzz_client(fuzz_app):
    return fuzz_app.test_client()


@pytest.fixture(scope="module")
def spec(fuzz_client):
    response = fuzz_client.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


@pytest.fixture(scope="module")
def oracle(spec):
    return Oracle(spec)
