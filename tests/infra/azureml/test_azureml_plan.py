"""Entities from plan.py, converted with the SDK's own ``_to_rest_object`` and checked field by field."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.ai.ml", reason="azure-ai-ml is not installed (pip install -e .[infra])")

import yaml  # noqa: E402  (azure-ai-ml dependency)
from azure.ai.ml import load_environment, load_model, load_online_deployment, load_online_endpoint  # noqa: E402
from test_azureml_config import make  # noqa: E402

from infra.azureml.plan import (  # noqa: E402
    build_plan,
    compute_traffic,
    model_id,
    probe_settings,
    resource_paths,
    rest_bodies,
    yaml_specs,
)

# azure-ai-ml's schemas still pass marshmallow's deprecated `context`; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The `context` parameter is deprecated")

WS = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg"
    "/providers/Microsoft.MachineLearningServices/workspaces/ws"
)


def bodies(**overrides: Any) -> dict[str, Any]:
    return rest_bodies(build_plan(make(**overrides)), "westeurope")


def test_environment_body_carries_image_and_inference_config() -> None:
    props = bodies()["environment"]["properties"]
    assert props["image"] == "myacr.azurecr.io/embed:1.0.0"
    assert props["inferenceConfig"] == {
        "livenessRoute": {"path": "/ping", "port": 8080},
        "readinessRoute": {"path": "/ping", "port": 8080},
        "scoringRoute": {"path": "/invocations", "port": 8080},
    }
    assert props["isAnonymous"] is False
    assert "condaFile" not in props and "build" not in props  # a prebuilt image, nothing built by Azure


def test_environment_routes_follow_config() -> None:
    props = bodies(port=9000, liveness_route="/health/live", readiness_route="/health/ready")["environment"]
    cfg = props["properties"]["inferenceConfig"]
    assert cfg["livenessRoute"] == {"path": "/health/live", "port": 9000}
    assert cfg["readinessRoute"] == {"path": "/health/ready", "port": 9000}
    assert cfg["scoringRoute"] == {"path": "/invocations", "port": 9000}


def test_model_registration_body() -> None:
    uri = "azureml://datastores/workspaceblobstore/paths/models/minilm"
    props = bodies(model_path=uri, model_name="minilm", model_version="3")["model"]["properties"]
    assert props["modelType"] == "custom_model"
    assert props["modelUri"] == uri
    plan = build_plan(make(model_path=uri, model_name="minilm", model_version="3"))
    assert plan.model is not None and (plan.model.name, plan.model.version) == ("minilm", "3")
    assert plan.model_id == f"{WS}/models/minilm/versions/3"


@pytest.mark.parametrize(("mode", "rest"), [("key", "Key"), ("aml_token", "AMLToken"), ("aad_token", "AADToken")])
def test_endpoint_body_auth_modes(mode: str, rest: str) -> None:
    body = bodies(auth_mode=mode)["endpoint"]
    assert body["location"] == "westeurope"
    assert body["properties"]["authMode"] == rest
    assert body["identity"] == {"type": "SystemAssigned"}
    assert body["properties"]["traffic"] == {}  # created before any deployment exists
    assert body["properties"]["publicNetworkAccess"] == "enabled"
    assert body["tags"] == {"app": "jina-embedding-serving"}


def test_traffic_body_routes_to_the_deployment() -> None:
    assert bodies(deployment_name="green")["traffic"]["properties"]["traffic"] == {"green": 100}


def test_deployment_body_field_by_field() -> None:
    env = {"EMB_DTYPE": "bfloat16", "EMB_MAX_BATCH_SIZE": "128"}
    body = bodies(
        model_path="azureml://datastores/workspaceblobstore/paths/m",
        instance_count=2,
        request_timeout_s=60,
        max_concurrent_requests_per_instance=48,
        env=env,
    )["deployment"]
    props = body["properties"]
    assert body["location"] == "westeurope"
    assert body["sku"] == {"name": "Default", "capacity": 2}
    assert props["endpointComputeType"] == "Managed"
    assert props["instanceType"] == "Standard_NC24ads_A100_v4"
    assert props["environmentId"] == f"{WS}/environments/jina-embedding-serving/versions/1"
    assert props["model"] == f"{WS}/models/embedding-model/versions/1"
    assert props["requestSettings"] == {"requestTimeout": "PT1M", "maxConcurrentRequestsPerInstance": 48}
    assert props["scaleSettings"] == {"scaleType": "Default"}
    assert props["environmentVariables"] == env
    assert props["appInsightsEnabled"] is False
    assert props["egressPublicNetworkAccess"] == "enabled"
    assert "codeConfiguration" not in props  # BYOC: no scoring script


def test_deployment_probes_sized_for_model_load() -> None:
    props = bodies(model_load_timeout_s=1200, probe_period_s=15, probe_timeout_s=4)["deployment"]["properties"]
    assert props["livenessProbe"] == {
        "initialDelay": "PT20M",
        "period": "PT15S",
        "timeout": "PT4S",
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert props["readinessProbe"] == {
        "initialDelay": "PT10S",
        "period": "PT15S",
        "timeout": "PT4S",
        "successThreshold": 1,
        "failureThreshold": 80,
    }


@pytest.mark.parametrize("load_s", [30, 61, 600, 3599, 7200])
@pytest.mark.parametrize("period", [1, 7, 10, 60])
def test_probe_windows_cover_the_load_time(load_s: int, period: int) -> None:
    cfg = make(model_load_timeout_s=load_s, probe_period_s=period, probe_timeout_s=1)
    liveness, readiness = probe_settings(cfg)
    assert readiness.failure_threshold * readiness.period >= load_s  # never declared unready too early
    assert liveness.initial_delay == load_s  # /ping is model-gated: no restarts while loading
    assert liveness.success_threshold == 1 and readiness.success_threshold == 1
    assert readiness.failure_threshold == max(3, math.ceil(load_s / period))


def test_liveness_on_a_route_that_is_up_before_load_starts_early() -> None:
    liveness, _ = probe_settings(make(liveness_route="/health/live"))
    assert liveness.initial_delay == 10


def test_no_model_means_no_mount() -> None:
    plan = build_plan(make())
    assert plan.model is None and plan.model_id is None
    result = rest_bodies(plan, "westeurope")
    assert result["model"] is None
    assert "model" not in result["deployment"]["properties"]


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("azureml:minilm:7", f"{WS}/models/minilm/versions/7"),
        (f"{WS}/models/x/versions/2", f"{WS}/models/x/versions/2"),
        ("azureml://registries/azureml/models/foo/versions/1", "azureml://registries/azureml/models/foo/versions/1"),
    ],
)
def test_model_ref_forms(ref: str, expected: str) -> None:
    cfg = make(model_ref=ref)
    assert model_id(cfg) == expected
    assert bodies(model_ref=ref)["deployment"]["properties"]["model"] == expected
    assert build_plan(cfg).model is None  # nothing registered


@pytest.mark.parametrize("ref", ["minilm:1", "azureml:minilm", "azureml:minilm@latest"])
def test_bad_model_refs(ref: str) -> None:
    with pytest.raises(ValueError, match="model_ref"):
        build_plan(make(model_ref=ref))


@pytest.mark.parametrize(
    ("current", "deployment", "percent", "expected"),
    [
        ({}, "blue", 100, {"blue": 100}),
        ({}, "blue", 0, {"blue": 0}),
        ({"blue": 100}, "blue", 100, {"blue": 100}),
        ({"blue": 100}, "green", 100, {"blue": 0, "green": 100}),
        ({"blue": 100}, "green", 10, {"blue": 90, "green": 10}),
        ({"blue": 100}, "green", 0, {"blue": 100, "green": 0}),
        ({"a": 50, "b": 50, "g": 0}, "g", 33, {"a": 34, "b": 33, "g": 33}),
        ({"a": 70, "b": 30, "g": 0}, "g", 50, {"a": 35, "b": 15, "g": 50}),
    ],
)
def test_compute_traffic(current: dict[str, int], deployment: str, percent: int, expected: dict[str, int]) -> None:
    result = compute_traffic(current, deployment, percent)
    assert result == expected
    assert sum(result.values()) in (0, 100) or result == {deployment: 0}


def test_compute_traffic_needs_another_deployment_for_a_partial_share() -> None:
    with pytest.raises(ValueError, match="another deployment"):
        compute_traffic({"blue": 100}, "blue", 40)
    with pytest.raises(ValueError):
        compute_traffic({}, "blue", 40)


def test_resource_paths() -> None:
    paths = resource_paths(make(model_path="azureml://x"))
    assert paths["deployment"] == f"{WS}/onlineEndpoints/jina-embed/deployments/blue"
    assert paths["traffic"] == paths["endpoint"] == f"{WS}/onlineEndpoints/jina-embed"
    assert paths["model"] == f"{WS}/models/embedding-model/versions/1"


def test_yaml_specs_pass_the_sdk_schemas_and_round_trip(tmp_path: Path) -> None:
    """The SDK's marshmallow schemas (what ``az ml ... -f`` uses) accept the specs; reloading gives the same REST."""
    plan = build_plan(make(model_path="azureml://datastores/workspaceblobstore/paths/m", env={"EMB_DTYPE": "auto"}))
    specs = yaml_specs(plan)
    assert set(specs) == {"environment", "model", "endpoint", "deployment"}
    loaders = {
        "environment": load_environment,
        "model": load_model,
        "endpoint": load_online_endpoint,
        "deployment": load_online_deployment,
    }
    loaded = {}
    for kind, spec in specs.items():
        path = tmp_path / f"{kind}.yml"
        path.write_text(yaml.safe_dump(spec))
        loaded[kind] = loaders[kind](source=str(path))
    assert (
        loaded["deployment"]._to_rest_object(location="x").as_dict()
        == plan.deployment._to_rest_object(location="x").as_dict()
    )
    assert (
        loaded["endpoint"]._to_rest_online_endpoint("x").as_dict()
        == plan.endpoint._to_rest_online_endpoint("x").as_dict()
    )
    assert loaded["environment"]._to_rest_object().as_dict() == plan.environment._to_rest_object().as_dict()
    assert loaded["model"]._to_rest_object().as_dict() == plan.model._to_rest_object().as_dict()  # type: ignore[union-attr]


def test_sdk_schema_rejects_a_broken_spec(tmp_path: Path) -> None:
    spec = yaml_specs(build_plan(make()))["deployment"]
    spec["request_settings"]["request_timeout_ms"] = "ninety seconds"
    path = tmp_path / "deployment.yml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(Exception, match="request_timeout_ms"):
        load_online_deployment(source=str(path))
