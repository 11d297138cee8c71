"""Plan: the SDK request messages for GPU and CPU deploys, as their REST JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.cloud import aiplatform_v1 as v1
from vertex_fakes import IMAGE

from infra.vertexai.__main__ import main
from infra.vertexai.config import VertexConfig
from infra.vertexai.plan import LIVE_PLACEHOLDER, compute_traffic, plan_steps, traffic_without

PARENT = "projects/proj/locations/europe-west4"


def make(**overrides: Any) -> VertexConfig:
    base = {"project": "proj", "region": "europe-west4", "endpoint_id": "jina-embed", "image": IMAGE}
    return VertexConfig(**{**base, **overrides})


def test_gpu_plan_has_container_spec_machine_and_autoscaling() -> None:
    cfg = make(
        artifact_uri="gs://proj-models/minilm",
        env={"EMB_DTYPE": "auto"},
        max_replica_count=4,
        autoscaling_target_accelerator_duty_cycle=60,
    )
    upload, create, deploy = plan_steps(cfg)
    assert [s["step"] for s in (upload, create, deploy)] == ["upload_model", "create_endpoint", "deploy_model"]
    assert upload["url"] == f"https://europe-west4-aiplatform.googleapis.com/v1/{PARENT}/models:upload"
    model = upload["request"]["model"]
    assert upload["request"]["modelId"] == "jina-embedding-serving-v1"
    assert model["containerSpec"] == {
        "imageUri": IMAGE,
        "ports": [{"containerPort": 8080}],
        "predictRoute": "/predict",
        "healthRoute": "/health",
        "env": [{"name": "EMB_DTYPE", "value": "auto"}],
        "startupProbe": {"httpGet": {"path": "/health", "port": 8080}, "periodSeconds": 10, "timeoutSeconds": 10,
                         "failureThreshold": 180},
        "healthProbe": {"httpGet": {"path": "/health", "port": 8080}, "periodSeconds": 10, "timeoutSeconds": 10,
                        "failureThreshold": 3},
        "deploymentTimeout": "3600s",
    }  # fmt: skip
    assert model["artifactUri"] == "gs://proj-models/minilm"
    assert create["request"] == {
        "parent": PARENT,
        "endpointId": "jina-embed",
        "endpoint": {"displayName": "jina-embed", "labels": {"app": "jina-embedding-serving"}},
    }
    assert deploy["request"]["trafficSplit"] == {"0": 100}
    deployed = deploy["request"]["deployedModel"]
    assert deployed["model"] == f"{PARENT}/models/jina-embedding-serving-v1"
    assert deployed["displayName"] == "blue"
    assert deployed["dedicatedResources"] == {
        "machineSpec": {"machineType": "g2-standard-8", "acceleratorType": "NVIDIA_L4", "acceleratorCount": 1},
        "minReplicaCount": 1,
        "maxReplicaCount": 4,
        "autoscalingMetricSpecs": [
            {"metricName": "aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle", "target": 60}
        ],
    }
    # Round trip: the JSON parses back into the SDK's request type (field names and enum names are valid).
    parsed = v1.DeployModelRequest.from_json(json.dumps(deploy["request"]))
    assert parsed.deployed_model.dedicated_resources.machine_spec.accelerator_type == v1.AcceleratorType.NVIDIA_L4
    v1.UploadModelRequest.from_json(json.dumps(upload["request"]))


def test_a_multi_gb_model_gets_its_start_up_time_in_probes_and_deployment_timeout() -> None:
    upload = plan_steps(make(startup_timeout_s=2700, probe_period_s=15, deployment_timeout_s=5400,
                             health_route="/healthz", port=9000))[0]  # fmt: skip
    spec = upload["request"]["model"]["containerSpec"]
    assert spec["startupProbe"] == {"httpGet": {"path": "/healthz", "port": 9000}, "periodSeconds": 15,
                                    "timeoutSeconds": 15, "failureThreshold": 180}  # fmt: skip  # 180 x 15 s
    assert spec["healthProbe"]["failureThreshold"] == 3 and spec["deploymentTimeout"] == "5400s"
    parsed = v1.UploadModelRequest.from_json(json.dumps(upload["request"]))  # the SDK's own field names
    container = parsed.model.container_spec
    assert container.deployment_timeout.seconds == 5400 and container.startup_probe.http_get.path == "/healthz"


def test_a_dedicated_endpoint_is_created_with_its_timeout_and_the_server_takes_its_limits() -> None:
    upload, create, _ = plan_steps(make(dedicated_endpoint=True, inference_timeout_s=1800,
                                        env={"EMB_DTYPE": "auto"}))  # fmt: skip
    assert create["request"]["endpoint"] == {
        "displayName": "jina-embed", "labels": {"app": "jina-embedding-serving"},
        "dedicatedEndpointEnabled": True, "clientConnectionConfig": {"inferenceTimeout": "1800s"},
    }  # fmt: skip
    parsed = v1.CreateEndpointRequest.from_json(json.dumps(create["request"]))
    assert parsed.endpoint.client_connection_config.inference_timeout.seconds == 1800
    # The server's defaults (1.5 MB answers, 6 MiB bodies, a 45 s deadline) would refuse what the endpoint takes.
    assert upload["request"]["model"]["containerSpec"]["env"] == [
        {"name": "EMB_DTYPE", "value": "auto"}, {"name": "EMB_MAX_BODY_MB", "value": "10"},
        {"name": "EMB_REQUEST_DEADLINE_S", "value": "1785"}, {"name": "EMB_VERTEX_ENDPOINT", "value": "dedicated"},
    ]  # fmt: skip
    default = plan_steps(make(dedicated_endpoint=True, env={"EMB_MAX_BODY_MB": "8"}))
    assert "clientConnectionConfig" not in default[1]["request"]["endpoint"]  # Vertex's default: 600 s
    assert default[0]["request"]["model"]["containerSpec"]["env"] == [
        {"name": "EMB_MAX_BODY_MB", "value": "8"}, {"name": "EMB_REQUEST_DEADLINE_S", "value": "585"},
        {"name": "EMB_VERTEX_ENDPOINT", "value": "dedicated"},
    ]  # fmt: skip
    shared = plan_steps(make())
    assert "dedicatedEndpointEnabled" not in shared[1]["request"]["endpoint"]
    assert "env" not in shared[0]["request"]["model"]["containerSpec"]


@pytest.mark.parametrize(
    ("machine", "accelerator", "count"),
    [("a3-ultragpu-8g", "NVIDIA_H200_141GB", 8), ("a4-highgpu-8g", "NVIDIA_B200", 8)],
)
def test_h200_and_b200_plans(machine: str, accelerator: str, count: int) -> None:
    deploy = plan_steps(make(machine_type=machine, accelerator_type=accelerator))[2]
    spec = deploy["request"]["deployedModel"]["dedicatedResources"]["machineSpec"]
    assert spec == {"machineType": machine, "acceleratorType": accelerator, "acceleratorCount": count}
    parsed = v1.DeployModelRequest.from_json(json.dumps(deploy["request"]))
    assert parsed.deployed_model.dedicated_resources.machine_spec.accelerator_type == v1.AcceleratorType[accelerator]


def test_t4_plan() -> None:
    deploy = plan_steps(make(machine_type="n1-standard-8", accelerator_type="NVIDIA_TESLA_T4"))[2]
    spec = deploy["request"]["deployedModel"]["dedicatedResources"]["machineSpec"]
    assert spec == {"machineType": "n1-standard-8", "acceleratorType": "NVIDIA_TESLA_T4", "acceleratorCount": 1}


def test_cpu_plan_has_no_accelerator_and_scales_on_cpu() -> None:
    cfg = make(
        machine_type="n1-standard-4", accelerator_type=None, max_replica_count=3, autoscaling_target_cpu_utilization=70
    )
    upload, _, deploy = plan_steps(cfg)
    assert "artifactUri" not in upload["request"]["model"]  # baked / embedded model
    resources = deploy["request"]["deployedModel"]["dedicatedResources"]
    assert resources["machineSpec"] == {"machineType": "n1-standard-4"}
    assert resources["autoscalingMetricSpecs"] == [
        {"metricName": "aiplatform.googleapis.com/prediction/online/cpu/utilization", "target": 70}
    ]


def test_offline_plan_for_a_green_share() -> None:
    deploy = plan_steps(make(deployed_model_name="green", traffic_percent=10))[2]
    assert deploy["request"]["trafficSplit"] == {"0": 10, LIVE_PLACEHOLDER: 90}


def test_traffic_arithmetic() -> None:
    assert compute_traffic({}, "0", 100) == {"0": 100}
    assert compute_traffic({"1": 100}, "0", 10) == {"1": 90, "0": 10}
    assert compute_traffic({"1": 50, "2": 50}, "0", 25) == {"1": 38, "2": 37, "0": 25}
    assert compute_traffic({"1": 90, "2": 10}, "2", 100) == {"1": 0, "2": 100}
    with pytest.raises(ValueError, match="needs another deployed model"):
        compute_traffic({}, "0", 50)
    assert traffic_without({"1": 0, "2": 100}, "1", ["2"]) == {"2": 100}
    assert traffic_without({"1": 100, "2": 0}, "1", ["2"]) == {"2": 100}
    assert traffic_without({"1": 100}, "1", []) == {}


def test_cli_plan_prints_the_requests(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["plan", "--project", "proj", "--endpoint-id", "jina-embed", "--image", IMAGE])
    steps = json.loads(capsys.readouterr().out)
    assert rc == 0 and [s["step"] for s in steps] == ["upload_model", "create_endpoint", "deploy_model"]


def test_cli_bad_config_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["plan", "--project", "proj", "--endpoint-id", "jina-embed", "--image", "docker.io/x/y:1"])
    assert rc == 2 and "Artifact Registry" in capsys.readouterr().err
