"""AzureMLConfig / AzureMLTarget validation (pure pydantic; needs no Azure SDK)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from infra.azureml.config import AzureAutoscaleConfig, AzureMLConfig, AzureMLTarget, quota_instances

EXAMPLE = Path(__file__).resolve().parents[3] / "infra" / "azureml" / "deploy.example.json"


def make(**overrides: Any) -> AzureMLConfig:
    base: dict[str, Any] = {
        "subscription_id": "00000000-0000-0000-0000-000000000000",
        "resource_group": "rg",
        "workspace": "ws",
        "endpoint_name": "jina-embed",
        "image": "myacr.azurecr.io/embed:1.0.0",
    }
    return AzureMLConfig(**{**base, **overrides})


def test_defaults_match_the_container_contract() -> None:
    cfg = make()
    assert (cfg.port, cfg.liveness_route, cfg.readiness_route, cfg.scoring_route) == (
        8080,
        "/health/live",
        "/ping",
        "/invocations",
    )
    assert cfg.instance_type == "Standard_NC24ads_A100_v4"
    assert cfg.auth_mode == "key"
    assert cfg.request_timeout_ms == 90_000
    assert cfg.traffic_percent == 100
    assert cfg.workspace_arm_id() == (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg"
        "/providers/Microsoft.MachineLearningServices/workspaces/ws"
    )


def test_example_file_validates() -> None:
    cfg = AzureMLConfig.from_file(EXAMPLE)
    assert cfg.endpoint_name == "jina-embed"
    assert cfg.model_path and cfg.model_path.startswith("azureml://")
    assert AzureMLConfig.from_file(EXAMPLE, instance_count=3, deployment_name=None).instance_count == 3


@pytest.mark.parametrize("name", ["ab", "1abc", "abc-", "a_bc", "x" * 33, "has space", "jina.embed"])
def test_bad_endpoint_and_deployment_names(name: str) -> None:
    with pytest.raises(ValidationError):
        make(endpoint_name=name)
    with pytest.raises(ValidationError):
        make(deployment_name=name)


@pytest.mark.parametrize("name", ["abc", "jina-embed-01", "A" * 32])
def test_good_endpoint_names(name: str) -> None:
    assert make(endpoint_name=name).endpoint_name == name


@pytest.mark.parametrize("image", ["myacr.azurecr.io/embed", "embed:latest", "host:5000/embed", "my acr/embed:1", ""])
def test_images_must_be_pinned(image: str) -> None:
    with pytest.raises(ValidationError):
        make(image=image)


@pytest.mark.parametrize(
    "image", ["host:5000/embed:1.2", "myacr.azurecr.io/embed@sha256:" + "a" * 64, "embed:0.1.0-cuda12"]
)
def test_pinned_images_pass(image: str) -> None:
    assert make(image=image).image == image


@pytest.mark.parametrize("name", ["HF_TOKEN", "API_KEY", "DB_PASSWORD", "AZURE_STORAGE_SAS", "MY_SECRET"])
def test_secret_looking_env_names_are_rejected_without_echoing_values(name: str) -> None:
    with pytest.raises(ValidationError) as info:
        make(env={name: "s3cr3t-value"})
    assert "s3cr3t-value" not in str(info.value.errors(include_input=False))


def test_ordinary_env_names_pass() -> None:
    env = {"EMB_MAX_BATCH_TOKENS": "16384", "EMB_DTYPE": "bfloat16", "SAGEMAKER_MODEL_SERVER_WORKERS": "1"}
    assert make(env=env).env == env
    with pytest.raises(ValidationError):
        make(env={"1BAD": "x"})


@pytest.mark.parametrize(
    "overrides",
    [
        {"request_timeout_s": 181},
        {"request_timeout_s": 0},
        {"instance_count": 0},
        {"traffic_percent": 101},
        {"auth_mode": "anonymous"},
        {"model_path": "azureml://x", "model_ref": "azureml:m:1"},
        {"probe_timeout_s": 20, "probe_period_s": 10},
        {"liveness_route": "ping"},
        {"model_name": "-bad"},
        {"model_name": "all-MiniLM-L6-v2.onnx"},  # ARM: letters, digits, '-', '_' only
        {"environment_name": "jina.embedding"},
        {"unknown_field": 1},
        {"egress_public_network_access": "Enabled"},
        {"autoscaling": {"max_instances": 2, "typo": 1}},
    ],
)
def test_invalid_settings(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        make(**overrides)


def test_target_reads_a_full_deploy_file_and_ignores_deploy_fields(tmp_path: Path) -> None:
    data = json.loads(EXAMPLE.read_text())
    target = AzureMLTarget.from_file(EXAMPLE)
    assert (target.endpoint_name, target.deployment_name, target.workspace) == (
        data["endpoint_name"],
        data["deployment_name"],
        data["workspace"],
    )
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError):
        AzureMLTarget.from_file(bad)


def test_config_is_frozen() -> None:
    with pytest.raises(ValidationError):
        make().instance_count = 2  # type: ignore[misc]


@pytest.mark.parametrize("name", ["all-MiniLM-L6-v2", "embedding_model", "A", "x" * 255])
def test_asset_names_arm_accepts(name: str) -> None:
    assert make(model_name=name, environment_name=name).model_name == name


def test_instance_counts_above_the_default_limit_are_refused() -> None:
    assert make(instance_count=50).instance_count == 50
    with pytest.raises(ValidationError, match="limit of 50"):
        make(instance_count=51)
    with pytest.raises(ValidationError, match="limit of 50"):
        make(autoscaling={"max_instances": 60})
    assert make(instance_count=80, instance_limit=100).instance_count == 80  # after Azure granted an exception


def test_autoscaling_bounds() -> None:
    scale = make(instance_count=2, autoscaling={"min_instances": 2, "max_instances": 6}).autoscaling
    assert scale is not None and (scale.min_instances, scale.max_instances, scale.scale_in_threshold) == (2, 6, 35)
    with pytest.raises(ValidationError, match="min_instances must be <= max_instances"):
        AzureAutoscaleConfig(min_instances=5, max_instances=2)
    with pytest.raises(ValidationError, match="default capacity"):
        make(instance_count=1, autoscaling={"min_instances": 2, "max_instances": 4})
    with pytest.raises(ValidationError, match="scale_in_value must be below target_value"):
        AzureAutoscaleConfig(target_value=50, scale_in_value=50)
    for bad in ({"min_instances": 0}, {"window_s": 120}, {"scale_out_cooldown_s": 30}, {"metric": "RequestsPerMinute"}):
        with pytest.raises(ValidationError):
            AzureAutoscaleConfig(**bad)


def test_autoscale_metric_default_follows_the_sku() -> None:
    scale = AzureAutoscaleConfig()
    assert scale.metric_for("Standard_NC24ads_A100_v4") == "GpuUtilizationPercentage"
    assert scale.metric_for("Standard_ND96asr_v4") == "GpuUtilizationPercentage"
    assert scale.metric_for("Standard_DS3_v2") == "CpuUtilizationPercentage"
    latency = AzureAutoscaleConfig(metric="RequestLatency_P99")
    assert latency.metric_for("Standard_NC24ads_A100_v4") == "RequestLatency_P99"


@pytest.mark.parametrize(
    ("sku", "count", "quota"),
    [
        ("Standard_DS3_v2", 10, 12),  # Azure's own example: 10 instances need quota for 12
        ("Standard_DS3_v2", 1, 2),
        ("Standard_NC4as_T4_v3", 3, 4),
        ("Standard_NC24ads_A100_v4", 10, 10),  # exempt from the 20% reserve
        ("standard_nd96amsr_a100_v4", 4, 4),
    ],
)
def test_quota_instances(sku: str, count: int, quota: int) -> None:
    assert quota_instances(sku, count) == quota
