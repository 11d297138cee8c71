"""EMB_SAGEMAKER_MODE: the body limit, request deadline and body timeout default to the mode's limits
(real-time 6 MiB / 45 s, serverless 4 MiB / 45 s, async 1 GiB / 3600 s); an explicit value always wins."""

import pytest
from pydantic import ValidationError

from inference.env_table import env_table
from inference.settings import MODE_DEFAULTS, Settings
from tests.conftest import make_settings

ENV = ("EMB_SAGEMAKER_MODE", "EMB_MAX_BODY_MB", "SAGEMAKER_MAX_PAYLOAD_IN_MB", "EMB_REQUEST_DEADLINE_S",
       "EMB_BODY_TIMEOUT_S")  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def limits(s: Settings) -> tuple[float, int, float, float]:
    return s.max_body_mb, s.max_body_bytes, s.request_deadline_s, s.body_timeout_s


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (None, (6.0, 6 * 2**20, 45.0, 30.0)),
        ("realtime", (6.0, 6 * 2**20, 45.0, 30.0)),
        ("serverless", (4.0, 4 * 2**20, 45.0, 30.0)),
        ("async", (1024.0, 2**30, 3600.0, 600.0)),
    ],
)
def test_the_mode_sets_the_defaults(monkeypatch, mode, expected):
    if mode:
        monkeypatch.setenv("EMB_SAGEMAKER_MODE", mode)
    assert limits(Settings()) == expected
    assert limits(make_settings(**({"sagemaker_mode": mode} if mode else {}))) == expected  # tests' settings too


@pytest.mark.parametrize("mode", ["realtime", "serverless", "async"])
def test_explicit_values_win_over_the_mode(monkeypatch, mode):
    monkeypatch.setenv("EMB_SAGEMAKER_MODE", mode)
    monkeypatch.setenv("EMB_MAX_BODY_MB", "100")
    monkeypatch.setenv("EMB_REQUEST_DEADLINE_S", "900")
    monkeypatch.setenv("EMB_BODY_TIMEOUT_S", "120")
    assert limits(Settings()) == (100.0, 100 * 2**20, 900.0, 120.0)


def test_sagemakers_payload_variable_wins_too(monkeypatch):
    monkeypatch.setenv("EMB_SAGEMAKER_MODE", "async")
    monkeypatch.setenv("SAGEMAKER_MAX_PAYLOAD_IN_MB", "50")
    assert Settings().max_body_mb == 50.0 and Settings().request_deadline_s == 3600.0


@pytest.mark.parametrize(
    ("name", "value"),
    [("EMB_SAGEMAKER_MODE", "batch"), ("EMB_SAGEMAKER_MODE", "ASYNC "), ("EMB_MAX_BODY_MB", "0"),
     ("EMB_REQUEST_DEADLINE_S", "-1"), ("EMB_BODY_TIMEOUT_S", "0")],
)  # fmt: skip
def test_invalid_values_are_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_overrides_keep_explicit_values_and_let_defaults_follow_a_new_mode(monkeypatch):
    monkeypatch.setenv("EMB_REQUEST_DEADLINE_S", "120")
    realtime = Settings()
    serverless = realtime.with_overrides(sagemaker_mode="serverless")
    assert (serverless.max_body_mb, serverless.request_deadline_s) == (4.0, 120.0)
    asynchronous = Settings().with_overrides(sagemaker_mode="async", workers=2)
    assert asynchronous.max_body_mb == 1024.0 and asynchronous.with_overrides(workers=3).max_body_mb == 1024.0
    with pytest.raises(ValidationError):
        realtime.with_overrides(sagemaker_mode="batch")


def test_the_env_table_shows_each_modes_default():
    rows = {line.split("|")[1].split("`")[1]: line for line in env_table().splitlines()[2:]}
    names = {"max_body_mb": "EMB_MAX_BODY_MB", "request_deadline_s": "EMB_REQUEST_DEADLINE_S",
             "body_timeout_s": "EMB_BODY_TIMEOUT_S"}  # fmt: skip
    assert set(names) == set(MODE_DEFAULTS)
    for field, values in MODE_DEFAULTS.items():
        default = ", ".join(f"{mode} `{value:g}`" for mode, value in values.items())
        assert f"| {default} |" in rows[names[field]]
    assert "| `realtime` |" in rows["EMB_SAGEMAKER_MODE"]
