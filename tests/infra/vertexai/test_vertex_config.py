"""VertexConfig / VertexTarget validation (pure pydantic; no Google SDK needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from infra.vertexai.config import VertexConfig, VertexTarget

EXAMPLE = Path(__file__).resolve().parents[3] / "infra" / "vertexai" / "deploy.example.json"
IMAGE = "us-central1-docker.pkg.dev/proj/embeddings/embed:1.0.0"


def make(**overrides: Any) -> VertexConfig:
    return VertexConfig(**{"project": "proj", "endpoint_id": "jina-embed", "image": IMAGE, **overrides})


def test_defaults_and_resource_names() -> None:
    cfg = make()
    assert (cfg.port, cfg.predict_route, cfg.health_route) == (8080, "/predict", "/health")
    assert (cfg.machine_type, cfg.accelerator_type, cfg.gpu_count, cfg.max_replicas) == (
        "g2-standard-8",
        "NVIDIA_L4",
        1,
        1,
    )
    assert cfg.endpoint_name == "projects/proj/locations/us-central1/endpoints/jina-embed"
    assert cfg.model_name == "projects/proj/locations/us-central1/models/jina-embedding-serving-v1"
    assert cfg.api_endpoint == "us-central1-aiplatform.googleapis.com"


def test_example_file_validates_and_reads_as_target() -> None:
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert VertexConfig.model_validate(data).gpu_count == 1
    assert VertexTarget.from_file(EXAMPLE).endpoint_id == "jina-embed"


def test_cpu_machine_needs_no_accelerator() -> None:
    cfg = make(machine_type="n1-standard-4", accelerator_type=None, autoscaling_target_cpu_utilization=70)
    assert cfg.gpu_count == 0


def test_fixed_gpu_machines_imply_their_count() -> None:
    assert make(machine_type="g2-standard-24").gpu_count == 2
    assert make(machine_type="a2-highgpu-4g", accelerator_type="NVIDIA_TESLA_A100").gpu_count == 4
    assert make(machine_type="a3-ultragpu-8g", accelerator_type="NVIDIA_H200_141GB").gpu_count == 8
    assert make(machine_type="a4-highgpu-8g", accelerator_type="NVIDIA_B200").gpu_count == 8
    assert make(machine_type="a3-highgpu-2g", accelerator_type="NVIDIA_H100_80GB").gpu_count == 2
    assert make(machine_type="n1-standard-8", accelerator_type="NVIDIA_TESLA_T4", accelerator_count=2).gpu_count == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"accelerator_type": None, "machine_type": "n1-standard-8", "accelerator_count": 1}, "needs accelerator_type"),
        ({"accelerator_type": None}, "comes with GPUs"),
        ({"machine_type": "n1-standard-8", "accelerator_type": "NVIDIA_L4"}, "does not attach"),
        ({"machine_type": "g2-standard-8", "accelerator_type": "NVIDIA_TESLA_T4"}, "does not attach"),
        ({"machine_type": "e2-standard-4"}, "takes no accelerator"),
        ({"machine_type": "g2-standard-8", "accelerator_count": 2}, "comes with 1"),
        ({"machine_type": "n1-standard-4", "accelerator_type": None, "autoscaling_target_accelerator_duty_cycle": 60},
         "needs an accelerator"),
        ({"min_replica_count": 3, "max_replica_count": 2}, "max_replica_count"),
        ({"min_replica_count": 0}, "greater than or equal"),
        ({"autoscaling_target_cpu_utilization": 101}, "less than or equal"),
        ({"accelerator_count": 0}, "greater than or equal"),
        ({"traffic_percent": 101}, "less than or equal"),
        ({"image": "docker.io/library/embed:1.0.0"}, "Artifact Registry"),
        ({"image": "us-central1-docker.pkg.dev/proj/embeddings/embed"}, "pin the image"),
        ({"image": "us-central1-docker.pkg.dev/proj/embeddings/embed:latest"}, "latest"),
        ({"artifact_uri": "s3://bucket/model"}, "gs://"),
        ({"predict_route": "predict"}, "absolute"),
        ({"env": {"AIP_HTTP_PORT": "9000"}}, "set by Vertex"),
        ({"env": {"HF_TOKEN": "x"}}, "looks like a secret"),
        ({"endpoint_id": "Jina_Embed"}, "endpoint ids"),
        ({"model_id": "1model"}, "model ids"),
        ({"region": "us central"}, "region"),
        ({"machine_typo": "n1-standard-4"}, "Extra inputs"),
        ({"machine_type": "a3-ultragpu-8g", "accelerator_type": "NVIDIA_H100_80GB"}, "comes with NVIDIA_H200_141GB"),
        ({"machine_type": "a3-highgpu-8g", "accelerator_type": "NVIDIA_H200_141GB"}, "comes with NVIDIA_H100_80GB"),
        ({"machine_type": "a4-highgpu-8g", "accelerator_type": "NVIDIA_H200_141GB"}, "comes with NVIDIA_B200"),
        ({"machine_type": "a4-highgpu-8g", "accelerator_type": None}, "comes with GPUs"),
        ({"machine_type": "a4-highgpu-8g", "accelerator_type": "NVIDIA_B200", "accelerator_count": 4}, "comes with 8"),
        ({"startup_timeout_s": 3000, "deployment_timeout_s": 2400}, "deployment_timeout_s must be >="),
        ({"deployment_timeout_s": 7201}, "less than or equal"),
        ({"inference_timeout_s": 900}, "needs dedicated_endpoint"),
        ({"dedicated_endpoint": True, "inference_timeout_s": 3601}, "less than or equal"),
    ],
)  # fmt: skip
def test_invalid_configs_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make(**overrides)
