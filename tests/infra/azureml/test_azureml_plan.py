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
    existing_conflicts,
    model_id,
    model_uri,
    probe_settings,
    resource_paths,
    rest_bodies,
    yaml_specs,
)

# azure-ai-ml's schemas still pass marshmallow's deprecated `context`; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The `context` parameter is deprecated")

SUB = "00000000-0000-0000-0000-000000000000"
WS = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
LONG_DATASTORE = f"azureml://subscriptions/{SUB}/resourcegroups/rg/workspaces/ws/datastores"


def bodies(**overrides: Any) -> dict[str, Any]:
    return rest_bodies(build_plan(make(**overrides)), "westeurope")


def test_environment_body_carries_image_and_inference_config() -> None:
    props = bodies()["environment"]["properties"]
    assert props["image"] == "myacr.azurecr.io/embed:1.0.0"
    assert props["inferenceConfig"] == {
        "livenessRoute": {"path": "/health/live", "port": 8080},
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
    # the long form MLClient.models.create_or_update sends (resolve_short_datastore_url), not the short one
    assert props["modelUri"] == f"{LONG_DATASTORE}/workspaceblobstore/paths/models/minilm"
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
    assert "egressPublicNetworkAccess" not in props  # sent only when configured (managed-VNet workspaces)
    assert "codeConfiguration" not in props  # BYOC: no scoring script


@pytest.mark.parametrize("egress", ["enabled", "disabled"])
def test_egress_is_sent_when_configured(egress: str) -> None:
    props = bodies(egress_public_network_access=egress)["deployment"]["properties"]
    assert props["egressPublicNetworkAccess"] == egress


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("azureml://datastores/workspaceblobstore/paths/m", f"{LONG_DATASTORE}/workspaceblobstore/paths/m"),
        ("azureml://datastores/ds_2/paths/a/b/", f"{LONG_DATASTORE}/ds_2/paths/a/b/"),
        (f"{LONG_DATASTORE}/ds/paths/m", f"{LONG_DATASTORE}/ds/paths/m"),  # already long
        ("https://acct.blob.core.windows.net/c/m", "https://acct.blob.core.windows.net/c/m"),
        ("azureml://jobs/job-1/outputs/artifacts/paths/model", "azureml://jobs/job-1/outputs/artifacts/paths/model"),
    ],
)
def test_model_uri_is_what_mlclient_sends(path: str, expected: str) -> None:
    assert model_uri(make(model_path=path)) == expected
    assert bodies(model_path=path)["model"]["properties"]["modelUri"] == expected


def test_deployment_probes_sized_for_model_load() -> None:
    props = bodies(model_load_timeout_s=1200, probe_period_s=15, probe_timeout_s=4)["deployment"]["properties"]
    assert props["livenessProbe"] == {
        "initialDelay": "PT10S",  # /health/live (the default) answers before the model loads
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
    cfg = make(model_load_timeout_s=load_s, probe_period_s=period, probe_timeout_s=1, liveness_route="/ping")
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


# -- autoscale -------------------------------------------------------------------------------------------------


def autoscale(**overrides: Any) -> dict[str, Any]:
    pytest.importorskip("azure.mgmt.monitor", reason="azure-mgmt-monitor not installed (infra extra)")
    body = bodies(**overrides)["autoscale"]
    assert body is not None
    return body


def test_no_autoscaling_no_setting() -> None:
    assert bodies()["autoscale"] is None
    assert bodies(instance_count=3)["autoscale"] is None


def test_autoscale_setting_targets_the_deployment() -> None:
    body = autoscale(instance_count=2, autoscaling={"min_instances": 2, "max_instances": 8})
    deployment = f"{WS}/onlineEndpoints/jina-embed/deployments/blue"
    assert body["location"] == "westeurope"
    assert body["properties"]["targetResourceUri"] == deployment
    assert body["properties"]["enabled"] is True
    assert body["properties"]["name"] == "jina-embed-blue-autoscale"
    (profile,) = body["properties"]["profiles"]
    assert profile["capacity"] == {"minimum": "2", "maximum": "8", "default": "2"}
    out, scale_in = profile["rules"]
    assert out["metricTrigger"] == {
        "metricName": "GpuUtilizationPercentage",  # the default SKU is an A100
        "metricResourceUri": deployment,
        "timeGrain": "PT1M",
        "statistic": "Average",
        "timeWindow": "PT5M",
        "timeAggregation": "Average",
        "operator": "GreaterThan",
        "threshold": 70.0,
    }
    assert out["scaleAction"] == {"direction": "Increase", "type": "ChangeCount", "value": "1", "cooldown": "PT10M"}
    assert scale_in["metricTrigger"]["operator"] == "LessThan"
    assert scale_in["metricTrigger"]["threshold"] == 35.0
    assert scale_in["scaleAction"] == {
        "direction": "Decrease",
        "type": "ChangeCount",
        "value": "1",
        "cooldown": "PT15M",
    }
    assert resource_paths(make()).get("autoscale") == (
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Insights/autoscalesettings/jina-embed-blue-autoscale"
    )


@pytest.mark.parametrize(
    ("overrides", "metric", "out", "scale_in"),
    [
        ({"instance_type": "Standard_DS3_v2"}, "CpuUtilizationPercentage", 70, 35),
        ({"instance_type": "Standard_NC4as_T4_v3"}, "GpuUtilizationPercentage", 70, 35),
        ({"autoscaling": {"max_instances": 3, "metric": "RequestLatency_P95", "target_value": 400}},
         "RequestLatency_P95", 400, 200),
        ({"autoscaling": {"max_instances": 3, "target_value": 80, "scale_in_value": 20}},
         "GpuUtilizationPercentage", 80, 20),
    ],
)  # fmt: skip
def test_autoscale_metric_and_thresholds(overrides: dict[str, Any], metric: str, out: int, scale_in: int) -> None:
    body = autoscale(**{"autoscaling": {"max_instances": 3}, **overrides})
    rules = body["properties"]["profiles"][0]["rules"]
    assert [r["metricTrigger"]["metricName"] for r in rules] == [metric, metric]
    assert [r["metricTrigger"]["threshold"] for r in rules] == [out, scale_in]


def test_autoscale_body_is_a_valid_monitor_model() -> None:
    from azure.mgmt.monitor.models import AutoscaleSettingResource
    from test_azureml_bicep import missing_required

    body = autoscale(autoscaling={"max_instances": 5, "step": 2, "window_s": 900, "scale_out_cooldown_s": 120})
    model = AutoscaleSettingResource.deserialize(body)
    assert model.serialize() == body
    assert list(missing_required(model)) == []
    rule = model.profiles[0].rules[0]
    assert (rule.scale_action.value, rule.scale_action.cooldown.total_seconds()) == ("2", 120)
    assert rule.metric_trigger.time_window.total_seconds() == 900
    broken = json_copy(body)
    del broken["properties"]["profiles"][0]["rules"][0]["metricTrigger"]["metricName"]
    assert list(missing_required(AutoscaleSettingResource.deserialize(broken))) == [
        "profiles[0].rules[0].metric_trigger.metric_name"
    ]


def json_copy(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value))


# -- what exists already ---------------------------------------------------------------------------------------


class Existing:
    """Stand-in for an SDK entity read back from Azure."""

    def __init__(self, **attrs: Any) -> None:
        self.__dict__.update(attrs)


def test_nothing_existing_no_conflict() -> None:
    assert existing_conflicts(make()) == []
    same = Existing(auth_mode="key", public_network_access="Enabled")
    assert existing_conflicts(make(), same) == []


def test_auth_mode_change_on_an_existing_endpoint_is_reported() -> None:
    existing = Existing(auth_mode="key", public_network_access="enabled")
    (problem,) = existing_conflicts(make(auth_mode="aad_token"), existing)
    assert "auth_mode key" in problem and "aad_token" in problem and "re-create" in problem


def test_public_access_change_on_an_existing_endpoint_is_reported() -> None:
    existing = Existing(auth_mode="key", public_network_access="enabled")
    (problem,) = existing_conflicts(make(public_network_access="disabled"), existing)
    assert "public_network_access enabled" in problem


def test_egress_change_on_an_existing_deployment_is_reported() -> None:
    endpoint = Existing(auth_mode="key", public_network_access="enabled")
    deployment = Existing(egress_public_network_access="enabled")
    (problem,) = existing_conflicts(make(egress_public_network_access="disabled"), endpoint, deployment)
    assert "cannot change after creation" in problem
    assert existing_conflicts(make(), endpoint, deployment) == []  # not configured: not sent, not compared


MANAGED_MODES = [
    "allow_internet_outbound",
    "allow_only_approved_outbound",
    "AllowInternetOutbound",
    "AllowOnlyApprovedOutbound",
]


@pytest.mark.parametrize("mode", MANAGED_MODES)
def test_egress_in_a_managed_network_workspace_is_refused(mode: str) -> None:
    (problem,) = existing_conflicts(make(egress_public_network_access="enabled"), workspace_isolation=mode)
    assert "managed virtual network" in problem
    assert existing_conflicts(make(), workspace_isolation=mode) == []
    assert existing_conflicts(make(egress_public_network_access="disabled"), workspace_isolation="Disabled") == []
