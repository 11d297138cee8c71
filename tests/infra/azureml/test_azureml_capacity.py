"""Autoscaled deployments through re-deploys and deletes (infra/azureml/capacity.py), against the HTTP-layer fake.

A re-deploy must not undo what Azure Monitor autoscale did (the deployment PUT sets ``sku.capacity``), and a
delete must not leave autoscale settings behind to scale a deployment re-created later under the same name.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("azure.ai.ml", reason="azure-ai-ml is not installed (pip install -e .[infra])")
pytest.importorskip("azure.mgmt.monitor", reason="azure-mgmt-monitor not installed (infra extra)")

from azureml_fakes import RESOURCE_GROUP, SUBSCRIPTION, WS_PATH, FakeArm  # noqa: E402
from test_azureml_apply import config  # noqa: E402

from infra.azureml import apply  # noqa: E402
from infra.azureml.capacity import retained_instance_count  # noqa: E402
from infra.azureml.plan import build_plan  # noqa: E402

EP_PATH = f"{WS_PATH}/onlineEndpoints/jina-embed"
GROUP = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
SETTINGS = f"{GROUP}/providers/Microsoft.Insights/autoscalesettings"
SCALED = {"instance_count": 2, "autoscaling": {"min_instances": 2, "max_instances": 5}}


def scale_to(arm: FakeArm, deployment: str, count: int) -> None:
    """What Azure Monitor autoscale does: change the live deployment's capacity."""
    arm.resources[f"{EP_PATH}/deployments/{deployment}".lower()]["sku"]["capacity"] = count


def sent_capacity(arm: FakeArm, deployment: str = "blue") -> int:
    return int(arm.put_body(f"/deployments/{deployment}")["sku"]["capacity"])


def settings(arm: FakeArm) -> list[str]:
    """Names of the autoscale settings that exist in the fake resource group."""
    prefix = SETTINGS.lower() + "/"
    return sorted(key.removeprefix(prefix) for key in arm.resources if key.startswith(prefix))


@pytest.mark.parametrize(
    ("live", "expected"),
    [(None, 2), (4, 4), (2, 2), (9, 5), (1, 2)],  # new deployment, scaled out, at the default, above max, below min
)
def test_retained_count_is_the_live_one_within_the_bounds(live: int | None, expected: int) -> None:
    assert retained_instance_count(config(**SCALED), live) == expected
    assert retained_instance_count(config(instance_count=2), live) == 2  # no autoscaling: a fixed size


def test_redeploy_keeps_the_capacity_autoscale_reached(fake_arm: FakeArm, ml_client: Any) -> None:
    cfg = config(**SCALED)
    apply.deploy(ml_client, build_plan(cfg))
    assert sent_capacity(fake_arm) == 2  # a new deployment starts at instance_count
    scale_to(fake_arm, "blue", 4)
    fake_arm.requests.clear()

    logged: list[str] = []
    apply.deploy(ml_client, build_plan(config(**SCALED, environment_version="2")), log=logged.append)

    assert sent_capacity(fake_arm) == 4  # not reset to 2
    assert any("blue: 4 x" in line and "instance_count 2" in line for line in logged), logged
    (put,) = fake_arm.calls("PUT", "/autoscalesettings/")
    capacity = put.body["properties"]["profiles"][0]["capacity"]
    assert capacity == {"minimum": "2", "maximum": "5", "default": "2"}  # the default stays the configured baseline


def test_redeploy_clamps_the_live_count_to_new_bounds(fake_arm: FakeArm, ml_client: Any) -> None:
    apply.deploy(ml_client, build_plan(config(instance_count=2, autoscaling={"max_instances": 8})))
    scale_to(fake_arm, "blue", 7)
    apply.deploy(ml_client, build_plan(config(**SCALED)))  # max lowered to 5
    assert sent_capacity(fake_arm) == 5


def test_without_autoscaling_a_redeploy_sends_the_configured_count(fake_arm: FakeArm, ml_client: Any) -> None:
    apply.deploy(ml_client, build_plan(config(instance_count=2)))
    scale_to(fake_arm, "blue", 4)  # changed by hand
    apply.deploy(ml_client, build_plan(config(instance_count=2)))
    assert sent_capacity(fake_arm) == 2  # a fixed size is what the config says


def test_a_new_deployment_next_to_an_autoscaled_one_starts_at_instance_count(fake_arm: FakeArm, ml_client: Any) -> None:
    apply.deploy(ml_client, build_plan(config(**SCALED)))
    scale_to(fake_arm, "blue", 5)
    apply.deploy(ml_client, build_plan(config(**SCALED, deployment_name="green", traffic_percent=0)))
    assert sent_capacity(fake_arm, "green") == 2  # green's own count, not blue's


def test_delete_removes_the_endpoints_autoscale_settings(fake_arm: FakeArm, ml_client: Any) -> None:
    cfg = config(**SCALED)
    apply.deploy(ml_client, build_plan(cfg))
    apply.deploy(ml_client, build_plan(config(**SCALED, deployment_name="green", traffic_percent=0)))
    other = config(**SCALED, endpoint_name="other-endpoint")
    apply.deploy(ml_client, build_plan(other))
    portal = f"{SETTINGS}/made-in-the-portal"  # another name, same target: deleted too
    fake_arm.resources[portal.lower()] = {
        "id": portal,
        "name": "made-in-the-portal",
        "location": "westeurope",
        "properties": {"enabled": True, "profiles": [], "targetResourceUri": f"{EP_PATH}/deployments/blue".upper()},
    }
    fake_arm.requests.clear()

    assert apply.delete(ml_client, cfg) is True

    assert settings(fake_arm) == ["other-endpoint-blue-autoscale"]  # another endpoint's setting is kept
    deletes = [r.path.lower() for r in fake_arm.calls("DELETE")]
    assert deletes[-1] == EP_PATH.lower()  # the settings first, then the endpoint
    ours = ["jina-embed-blue-autoscale", "jina-embed-green-autoscale", "made-in-the-portal"]
    assert sorted(deletes[:-1]) == [f"{SETTINGS}/{name}".lower() for name in ours]


def test_delete_of_one_deployment_removes_only_its_setting(fake_arm: FakeArm, ml_client: Any) -> None:
    apply.deploy(ml_client, build_plan(config(**SCALED)))
    apply.deploy(ml_client, build_plan(config(**SCALED, deployment_name="green", traffic_percent=0)))
    assert apply.delete(ml_client, config(deployment_name="green"), deployment_only=True) is True
    assert settings(fake_arm) == ["jina-embed-blue-autoscale"]
    assert [d["name"] for d in apply.status(ml_client, config())["deployments"]] == ["blue"]


def test_a_left_over_setting_is_deleted_even_when_the_endpoint_is_gone(fake_arm: FakeArm, ml_client: Any) -> None:
    cfg = config(**SCALED)
    apply.deploy(ml_client, build_plan(cfg))
    ml_client.online_endpoints.begin_delete(name="jina-embed").result()  # deleted elsewhere (portal, az ml)
    assert settings(fake_arm) == ["jina-embed-blue-autoscale"]  # Azure keeps the setting
    assert apply.delete(ml_client, cfg) is False  # nothing else existed
    assert settings(fake_arm) == []


def test_no_permission_on_autoscale_settings_still_deletes_the_endpoint(fake_arm: FakeArm, ml_client: Any) -> None:
    cfg = config()
    apply.deploy(ml_client, build_plan(cfg))
    fake_arm.fail_get["/autoscalesettings"] = (403, "AuthorizationFailed")
    logged: list[str] = []
    assert apply.delete(ml_client, cfg, log=logged.append) is True
    assert any("could not list autoscale settings" in line for line in logged), logged
    assert apply.status(ml_client, cfg)["endpoint"] is None
