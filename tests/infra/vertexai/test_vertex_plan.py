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
    }
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
