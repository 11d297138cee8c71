"""apply.py against the HTTP-layer fake of ARM: the exact requests MLClient sends, in order."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("azure.ai.ml", reason="azure-ai-ml is not installed (pip install -e .[infra])")

from azure.core.exceptions import HttpResponseError  # noqa: E402
from azureml_fakes import (  # noqa: E402
    FAKE_ENDPOINT_KEY,
    LOCATION,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    WORKSPACE,
    WS_PATH,
    FakeArm,
)

from infra.azureml import apply  # noqa: E402
from infra.azureml.config import AzureMLConfig  # noqa: E402
from infra.azureml.plan import build_plan, rest_bodies  # noqa: E402

AUTOSCALE_PATH = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
    "/providers/Microsoft.Insights/autoscalesettings/jina-embed-blue-autoscale"
)

EP_PATH = f"{WS_PATH}/onlineEndpoints/jina-embed"
MODEL_URI = "azureml://datastores/workspaceblobstore/paths/models/minilm"


def config(**overrides: Any) -> AzureMLConfig:
    base: dict[str, Any] = {
        "subscription_id": SUBSCRIPTION,
        "resource_group": RESOURCE_GROUP,
        "workspace": WORKSPACE,
        "endpoint_name": "jina-embed",
        "image": "myacr.azurecr.io/embed:1.0.0",
        "model_path": MODEL_URI,
        "env": {"EMB_DTYPE": "bfloat16"},
    }
    return AzureMLConfig(**{**base, **overrides})


def puts(arm: FakeArm) -> list[str]:
    return [r.path.removeprefix(WS_PATH) for r in arm.calls("PUT")]


def test_deploy_sends_the_planned_bodies_in_order(fake_arm: FakeArm, ml_client: Any) -> None:
    cfg = config()
    plan = build_plan(cfg)
    result = apply.deploy(ml_client, plan)

    assert puts(fake_arm) == [
        "/environments/jina-embedding-serving/versions/1",
        "/models/embedding-model/versions/1",
        "/onlineEndpoints/jina-embed",
        "/onlineEndpoints/jina-embed/deployments/blue",
        "/onlineEndpoints/jina-embed",
    ]
    expected = rest_bodies(plan, LOCATION)  # what `plan` / `deploy --dry-run` print
    assert fake_arm.put_body("/environments/jina-embedding-serving/versions/1") == expected["environment"]
    assert fake_arm.calls("PUT", "/onlineEndpoints/jina-embed")[0].body == expected["endpoint"]
    assert fake_arm.put_body("/deployments/blue") == expected["deployment"]
    assert fake_arm.put_body("/models/embedding-model/versions/1") == expected["model"]  # long URI in both
    model = fake_arm.put_body("/models/embedding-model/versions/1")["properties"]
    assert model["modelType"] == "custom_model"
    assert model["modelUri"] == (
        f"azureml://subscriptions/{SUBSCRIPTION}/resourcegroups/{RESOURCE_GROUP}/workspaces/{WORKSPACE}"
        "/datastores/workspaceblobstore/paths/models/minilm"
    )
    assert "egressPublicNetworkAccess" not in fake_arm.put_body("/deployments/blue")["properties"]
    assert not fake_arm.calls("PUT", "/autoscalesettings/")  # no autoscaling configured

    deployment = fake_arm.put_body("/deployments/blue")["properties"]
    assert deployment["instanceType"] == "Standard_NC24ads_A100_v4"
    assert deployment["environmentId"] == f"{WS_PATH}/environments/jina-embedding-serving/versions/1"
    assert deployment["model"] == f"{WS_PATH}/models/embedding-model/versions/1"
    assert deployment["requestSettings"] == {"requestTimeout": "PT1M30S", "maxConcurrentRequestsPerInstance": 32}
    assert deployment["livenessProbe"]["initialDelay"] == "PT10S"  # /health/live: restarts don't wait for the model
    assert deployment["readinessProbe"]["failureThreshold"] == 90
    assert deployment["environmentVariables"] == {"EMB_DTYPE": "bfloat16"}

    traffic_put = fake_arm.calls("PUT", "/onlineEndpoints/jina-embed")[-1].body
    assert traffic_put["properties"]["traffic"] == {"blue": 100}
    assert traffic_put["properties"]["authMode"] == "Key"
    assert result.traffic == {"blue": 100}
    assert result.scoring_uri == f"https://jina-embed.{LOCATION}.inference.ml.azure.com/score"
    assert all("api-version=" in r.url for r in fake_arm.calls("PUT"))


def test_blue_green_keeps_the_endpoint_and_shifts_part_of_the_traffic(fake_arm: FakeArm, ml_client: Any) -> None:
    apply.deploy(ml_client, build_plan(config()))
    fake_arm.requests.clear()

    green = config(
        deployment_name="green", image="myacr.azurecr.io/embed:1.1.0", environment_version="2", traffic_percent=10
    )
    result = apply.deploy(ml_client, build_plan(green))

    assert puts(fake_arm) == [
        "/environments/jina-embedding-serving/versions/2",  # model version 1 exists: reused, not re-PUT
        "/onlineEndpoints/jina-embed/deployments/green",  # no endpoint re-creation: blue keeps serving
        "/onlineEndpoints/jina-embed",
    ]
    assert fake_arm.put_body("/onlineEndpoints/jina-embed")["properties"]["traffic"] == {"blue": 90, "green": 10}
    assert result.traffic == {"blue": 90, "green": 10}


def test_redeploy_is_idempotent_but_a_changed_image_needs_a_new_environment_version(
    fake_arm: FakeArm, ml_client: Any
) -> None:
    apply.deploy(ml_client, build_plan(config()))
    fake_arm.requests.clear()
    apply.deploy(ml_client, build_plan(config()))
    assert puts(fake_arm) == ["/onlineEndpoints/jina-embed/deployments/blue", "/onlineEndpoints/jina-embed"]

    fake_arm.requests.clear()
    with pytest.raises(ValueError, match="bump environment_version"):
        apply.deploy(ml_client, build_plan(config(image="myacr.azurecr.io/embed:9.9.9")))
    assert fake_arm.calls("PUT") == []  # refused before touching anything


def test_failed_deployment_moves_no_traffic(fake_arm: FakeArm, ml_client: Any) -> None:
    fake_arm.fail_put["/deployments/blue"] = (400, "QuotaExceeded")
    with pytest.raises(HttpResponseError, match="QuotaExceeded"):
        apply.deploy(ml_client, build_plan(config()))
    endpoint_puts = fake_arm.calls("PUT", "/onlineEndpoints/jina-embed")
    assert [r.path for r in endpoint_puts][-1].endswith("/deployments/blue")
    assert all(not (r.body or {}).get("properties", {}).get("traffic") for r in endpoint_puts)


def test_bad_traffic_split_fails_before_creating_the_deployment(fake_arm: FakeArm, ml_client: Any) -> None:
    with pytest.raises(ValueError, match="another deployment"):
        apply.deploy(ml_client, build_plan(config(traffic_percent=50)))  # a new endpoint has no other deployment
    assert fake_arm.calls("PUT") == []  # not even the environment


def test_existing_model_ref_registers_nothing(fake_arm: FakeArm, ml_client: Any) -> None:
    cfg = config(model_path=None, model_ref="azureml:minilm:4")
    apply.deploy(ml_client, build_plan(cfg))
    assert not fake_arm.calls("PUT", "/models/")
    assert fake_arm.put_body("/deployments/blue")["properties"]["model"] == f"{WS_PATH}/models/minilm/versions/4"


def test_status_logs_and_missing_endpoint(fake_arm: FakeArm, ml_client: Any) -> None:
    cfg = config()
    assert apply.status(ml_client, cfg) == {"endpoint": None, "deployments": []}
    apply.deploy(ml_client, build_plan(cfg))
    state = apply.status(ml_client, cfg)
    assert state["endpoint"]["traffic"] == {"blue": 100}
    assert state["endpoint"]["provisioning_state"] == "Succeeded"
    assert state["endpoint"]["auth_mode"] == "key"
    assert state["deployments"] == [
        {
            "name": "blue",
            "provisioning_state": "Succeeded",
            "instance_type": "Standard_NC24ads_A100_v4",
            "instance_count": 1,
        }
    ]
    assert "model loaded" in apply.logs(ml_client, cfg, 10)
    assert fake_arm.calls("POST", "/deployments/blue/getLogs")[-1].body["tail"] == 10


def test_invoke_posts_to_the_scoring_uri_with_the_endpoint_key(fake_arm: FakeArm, ml_client: Any) -> None:
    cfg = config()
    apply.deploy(ml_client, build_plan(cfg))
    payload = {"input": ["a", "b"], "embedding_type": "float"}
    response = apply.invoke(ml_client, cfg, payload, deployment="blue")
    assert len(response["data"]) == 2
    (scoring,) = fake_arm.scoring_requests
    assert scoring.url == f"https://jina-embed.{LOCATION}.inference.ml.azure.com/score"
    assert scoring.headers["Authorization"] == f"Bearer {FAKE_ENDPOINT_KEY}"
    assert scoring.headers["azureml-model-deployment"] == "blue"
    assert scoring.body == payload
    assert fake_arm.calls("POST", "/onlineEndpoints/jina-embed/listKeys")


def test_delete_endpoint_issues_delete_and_is_idempotent(fake_arm: FakeArm, ml_client: Any) -> None:
    cfg = config()
    apply.deploy(ml_client, build_plan(cfg))
    assert apply.delete(ml_client, cfg) is True
    (delete,) = fake_arm.calls("DELETE")
    assert delete.path == EP_PATH
    assert apply.status(ml_client, cfg)["endpoint"] is None
    assert apply.delete(ml_client, cfg) is False  # 404 -> nothing to delete


def test_delete_only_the_deployment(fake_arm: FakeArm, ml_client: Any) -> None:
    cfg = config(deployment_name="green")
    apply.deploy(ml_client, build_plan(config()))
    apply.deploy(ml_client, build_plan(config(deployment_name="green", traffic_percent=0)))
    assert apply.delete(ml_client, cfg, deployment_only=True) is True
    assert [r.path for r in fake_arm.calls("DELETE")] == [f"{EP_PATH}/deployments/green"]
    assert [d["name"] for d in apply.status(ml_client, cfg)["deployments"]] == ["blue"]


def test_deploy_writes_the_autoscale_setting_after_traffic(fake_arm: FakeArm, ml_client: Any) -> None:
    pytest.importorskip("azure.mgmt.monitor", reason="azure-mgmt-monitor not installed (infra extra)")
    cfg = config(instance_count=2, autoscaling={"min_instances": 2, "max_instances": 5})
    plan = build_plan(cfg)
    apply.deploy(ml_client, plan)

    # after the traffic switch (azure-mgmt-monitor writes "resourcegroups"; ARM paths are case-insensitive)
    assert [path.lower() for path in puts(fake_arm)[-2:]] == ["/onlineendpoints/jina-embed", AUTOSCALE_PATH.lower()]
    (put,) = fake_arm.calls("PUT", "/autoscalesettings/")
    assert "api-version=2022-10-01" in put.url
    assert put.headers["Authorization"].startswith("Bearer ")  # the MLClient's own credential
    expected = rest_bodies(plan, LOCATION)["autoscale"]  # location: the workspace's region
    assert put.body == expected
    assert put.body["properties"]["targetResourceUri"] == f"{EP_PATH}/deployments/blue"

    fake_arm.requests.clear()
    apply.deploy(ml_client, plan)  # idempotent: the same PUT again
    assert fake_arm.calls("PUT", "/autoscalesettings/")[0].body == expected


def test_auth_mode_change_on_an_existing_endpoint_is_refused(fake_arm: FakeArm, ml_client: Any) -> None:
    apply.deploy(ml_client, build_plan(config()))
    fake_arm.requests.clear()
    with pytest.raises(ValueError, match="auth_mode key, config says aad_token"):
        apply.deploy(ml_client, build_plan(config(auth_mode="aad_token", environment_version="2")))
    with pytest.raises(ValueError, match="public_network_access enabled, config says disabled"):
        apply.deploy(ml_client, build_plan(config(public_network_access="disabled")))
    assert fake_arm.calls("PUT") == []  # refused before touching anything


def test_egress_in_a_managed_network_workspace_is_refused(fake_arm: FakeArm, ml_client: Any) -> None:
    fake_arm.workspace_properties = {"managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"}}
    with pytest.raises(ValueError, match="managed virtual network"):
        apply.deploy(ml_client, build_plan(config(egress_public_network_access="disabled")))
    assert fake_arm.calls("PUT") == []
    apply.deploy(ml_client, build_plan(config()))  # not set: deploys, egress left to the workspace's rules
    assert "egressPublicNetworkAccess" not in fake_arm.put_body("/deployments/blue")["properties"]


def test_egress_change_on_an_existing_deployment_is_refused(fake_arm: FakeArm, ml_client: Any) -> None:
    apply.deploy(ml_client, build_plan(config(egress_public_network_access="enabled")))
    assert fake_arm.put_body("/deployments/blue")["properties"]["egressPublicNetworkAccess"] == "enabled"
    fake_arm.requests.clear()
    with pytest.raises(ValueError, match="cannot change after creation"):
        apply.deploy(ml_client, build_plan(config(egress_public_network_access="disabled")))
    assert fake_arm.calls("PUT") == []
    apply.deploy(ml_client, build_plan(config(egress_public_network_access="disabled", deployment_name="green")))
