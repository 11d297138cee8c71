"""``DeployConfig``: everything that describes one SageMaker endpoint of the embedding container.

Loaded from a JSON file (``--config``) and/or command-line flags; validated here once, with the same bounds
SageMaker enforces, so a bad value fails before any AWS call.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from .gpu_hosts import IMAGE_COMPAT_DRIVER, IMAGE_CUDA, GpuHostWarning, Service, check_gpu_host

NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
S3_PATTERN = r"^s3://[^/]+(/.*)?$"
ROLE_PATTERN = r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$"
CUDA_PATTERN = r"^\d+\.\d+$"


def empty_is_none(value: Any) -> Any:
    """``""`` (an empty flag or CloudFormation-style parameter) means "not set"."""
    return None if value == "" else value


def zero_is_none(value: Any) -> Any:
    """``0`` (``--cuda-compat-driver 0``) means the image has no forward-compatibility driver."""
    return None if value == 0 else value


def check_host(
    instance_type: str, ami: str | None, image_cuda: str, compat_driver: int | None, service: Service
) -> None:
    """``gpu_hosts.check_gpu_host``: refusals raise ``GpuHostError`` (a ValueError, so a validation error before any
    AWS call); its notes become ``GpuHostWarning``s."""
    result = check_gpu_host(instance_type, ami, image_cuda, compat_driver, service=service)
    for note in result.warnings:
        warnings.warn(note, GpuHostWarning, stacklevel=2)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AutoscalingConfig(_Strict):
    """Target tracking on invocations per instance (real-time) or backlog per instance (async)."""

    min_instances: int = Field(default=1, ge=1, description="scale-to-zero needs a backlog alarm; not managed here")
    max_instances: int = Field(default=4, ge=1)
    target_value: float = Field(
        default=100.0, gt=0, description="invocations/instance/minute, or backlog/instance (async)"
    )
    scale_in_cooldown_s: int = Field(default=300, ge=0)
    scale_out_cooldown_s: int = Field(default=60, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingConfig:
        if self.min_instances > self.max_instances:
            raise ValueError("autoscaling min_instances must be <= max_instances")
        return self


class BlueGreenConfig(_Strict):
    """``DeploymentConfig`` of ``UpdateEndpoint``: traffic shifting and automatic rollback."""

    traffic: Literal["ALL_AT_ONCE", "CANARY", "LINEAR"] = "ALL_AT_ONCE"
    step_percent: int = Field(default=10, ge=1, le=100, description="canary size / linear step, % of capacity")
    wait_interval_s: int = Field(default=300, ge=0, le=3600, description="baking time between traffic shifts")
    termination_wait_s: int = Field(default=300, ge=0, le=3600, description="old fleet kept this long after shifting")
    max_execution_timeout_s: int | None = Field(default=None, ge=600, le=28800)
    rollback_alarms: tuple[str, ...] = Field(default=(), description="CloudWatch alarms that roll the update back")


class AsyncConfig(_Strict):
    """``AsyncInferenceConfig``: results are written to S3 instead of being returned."""

    output_s3: str = Field(pattern=S3_PATTERN)
    failure_s3: str | None = Field(default=None, pattern=S3_PATTERN)
    max_concurrent_per_instance: int | None = Field(default=None, ge=1, le=1000)
    success_topic_arn: str | None = None
    error_topic_arn: str | None = None


class DeployConfig(_Strict):
    """One endpoint: model (image + weights), fleet, timeouts, routing, optional async and autoscaling."""

    endpoint_name: str = Field(pattern=NAME_PATTERN)
    image_uri: str = Field(min_length=1, description="ECR image URI of the serving container")
    role_arn: str = Field(pattern=ROLE_PATTERN, description="SageMaker execution role")
    model_data: str | None = Field(
        default=None, pattern=S3_PATTERN, description="s3://.../model.tar.gz already uploaded"
    )
    model_source: Path | None = Field(default=None, description="local model folder or .tar.gz, uploaded to upload_s3")
    upload_s3: str | None = Field(default=None, pattern=S3_PATTERN, description="s3://bucket/prefix for model_source")
    instance_type: str = Field(default="ml.g5.xlarge", pattern=r"^ml\.[a-z0-9\-]+\.[a-z0-9]+$")
    instance_count: int = Field(default=1, ge=1)
    inference_ami_version: Annotated[str | None, BeforeValidator(empty_is_none)] = Field(
        default=None, description="ProductionVariant InferenceAmiVersion (host AMI and NVIDIA driver); None: default"
    )
    image_cuda: str = Field(default=IMAGE_CUDA, pattern=CUDA_PATTERN, description="the image label embed-serving.cuda")
    cuda_compat_driver: Annotated[int | None, BeforeValidator(zero_is_none)] = Field(
        default=IMAGE_COMPAT_DRIVER, ge=1, description="embed-serving.cuda-compat-driver; None: no compat libraries"
    )
    variant_name: str = Field(default="AllTraffic", pattern=NAME_PATTERN)
    environment: dict[str, str] = Field(default_factory=dict)
    enable_network_isolation: bool = True
    startup_health_check_timeout_s: int = Field(default=600, ge=60, le=3600)
    model_download_timeout_s: int = Field(default=600, ge=60, le=3600)
    volume_size_gb: int | None = Field(default=None, ge=1, le=512, description="only for instances without local NVMe")
    routing_strategy: Literal["LEAST_OUTSTANDING_REQUESTS", "RANDOM"] = "LEAST_OUTSTANDING_REQUESTS"
    subnets: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    kms_key_id: str | None = None
    async_inference: AsyncConfig | None = None
    autoscaling: AutoscalingConfig | None = None
    blue_green: BlueGreenConfig = BlueGreenConfig()  # frozen, so one shared default is safe
    tags: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> DeployConfig:
        if self.model_data and self.model_source:
            raise ValueError("give model_data (s3://) or model_source (local), not both")
        if self.model_source and not self.upload_s3:
            raise ValueError("model_source needs upload_s3 (s3://bucket/prefix) to upload it to")
        if bool(self.subnets) != bool(self.security_group_ids):
            raise ValueError("VPC mode needs both subnets and security_group_ids")
        # async inference runs on the real-time hosts; there are no serverless variants here (they take no AMI)
        check_host(self.instance_type, self.inference_ami_version, self.image_cuda, self.cuda_compat_driver, "realtime")
        return self


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by the non-None ``overrides``; nested dicts are merged key by key."""
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        elif isinstance(value, dict):
            nested = merge({}, value)
            if nested:
                out[key] = nested
        elif value is not None:
            out[key] = value
    return out


def load_config(path: Path | None, overrides: dict[str, Any]) -> DeployConfig:
    """The JSON file at ``path`` (if any) merged with ``overrides`` (None values ignored), validated."""
    data: dict[str, Any] = json.loads(path.read_text()) if path else {}
    return DeployConfig.model_validate(merge(data, overrides))
