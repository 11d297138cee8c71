"""EMB_MAX_RESPONSE_MB: the largest answer defaults to what the platform returns (SageMaker real-time 6 MB,
Serverless 4 MB, async none; Vertex AI 1.5 MB, 10 MB on a dedicated endpoint); an explicit value wins, 0 lifts it.
Record bodies (Batch Transform's) in real-time mode have none unless it is set: their answers go to S3."""

import pytest
from pydantic import ValidationError

from inference.env_table import env_table
from inference.settings import Settings

ENV = ("EMB_SAGEMAKER_MODE", "EMB_MAX_RESPONSE_MB", "EMB_VERTEX_ENDPOINT", "AIP_PREDICT_ROUTE", "AIP_HEALTH_ROUTE")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def limits(s: Settings) -> tuple[int | None, int | None]:
    return s.max_response_bytes(), s.max_response_bytes(records=True)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, (6_000_000, None)),
        ({"EMB_SAGEMAKER_MODE": "realtime"}, (6_000_000, None)),
        ({"EMB_SAGEMAKER_MODE": "serverless"}, (4_000_000, 4_000_000)),
        ({"EMB_SAGEMAKER_MODE": "async"}, (None, None)),
        ({"AIP_PREDICT_ROUTE": "/predict"}, (1_500_000, 1_500_000)),
        ({"AIP_PREDICT_ROUTE": "/predict", "EMB_VERTEX_ENDPOINT": "dedicated"}, (10_000_000, 10_000_000)),
        ({"EMB_MAX_RESPONSE_MB": "2.5"}, (2_500_000, 2_500_000)),
        ({"EMB_MAX_RESPONSE_MB": "20", "EMB_SAGEMAKER_MODE": "serverless"}, (20_000_000, 20_000_000)),
        ({"EMB_MAX_RESPONSE_MB": "0"}, (None, None)),
        ({"EMB_MAX_RESPONSE_MB": "8", "AIP_PREDICT_ROUTE": "/predict"}, (8_000_000, 8_000_000)),
    ],
)
def test_the_platform_sets_the_response_limit(monkeypatch, env, expected):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert limits(Settings()) == expected


def test_a_mode_override_moves_the_default():
    assert limits(Settings().with_overrides(sagemaker_mode="serverless")) == (4_000_000, 4_000_000)


@pytest.mark.parametrize(("name", "value"), [("EMB_MAX_RESPONSE_MB", "-1"), ("EMB_VERTEX_ENDPOINT", "private")])
def test_bad_values_are_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_the_configuration_reference_lists_both():
    table = env_table()
    assert "`EMB_MAX_RESPONSE_MB`" in table and "`EMB_VERTEX_ENDPOINT`" in table
