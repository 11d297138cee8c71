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

from . import modes, serverless_rules
from .gpu_hosts import IMAGE_COMPAT_DRIVER, IMAGE_CUDA, GpuHostWarning, Service, check_gpu_host

NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
S3_PATTERN = r"^s3://[^/]+(/.*)?$"
SNS_PATTERN = r"^arn:aws[a-z\-]*:sns:[a-z0-9\-]+:\d{12}:[a-zA-Z0-9_\-]{1,256}$"
ROLE_PATTERN = r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$"
CUDA_PATTERN = r"^\d+\.\d+$"
CANARY_MAX_PERCENT = 50
LINEAR_STEP_PERCENT = (10, 50)


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


class ModeWarning(UserWarning):
    """A deployment that SageMaker accepts but that is likely not what was meant (a GPU image on serverless)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AutoscalingConfig(_Strict):
    """Target tracking on invocations per instance (real-time), backlog per instance (async), or, on a serverless
    endpoint with provisioned concurrency, that concurrency's utilisation (``*_provisioned_concurrency``,
    ``target_utilization``; ``serverless_rules.check_scaling`` keeps each mode to its own fields).

    ``min_instances=0`` (async only) scales the fleet to zero when the queue is empty; a step-scaling policy on the
    ``HasBacklogWithoutCapacity`` alarm then starts the first instance again (``autoscaling.scale_from_zero_calls``).
    """

    min_instances: int = Field(default=1, ge=0, description="0: scale to zero (async endpoints only)")
    max_instances: int = Field(default=4, ge=1)
    target_value: float = Field(
        default=100.0, gt=0, description="invocations/instance/minute, or backlog/instance (async)"
    )
    min_provisioned_concurrency: int = Field(default=1, ge=1, le=modes.SERVERLESS_MAX_CONCURRENCY)
    max_provisioned_concurrency: int | None = Field(
        default=None, ge=1, le=modes.SERVERLESS_MAX_CONCURRENCY, description="serverless: enables its autoscaling"
    )
    target_utilization: float = Field(
        default=0.5, gt=0, le=1, description="serverless: provisioned concurrency in use / provisioned"
    )
    scale_in_cooldown_s: int = Field(default=300, ge=0)
    scale_out_cooldown_s: int = Field(default=60, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingConfig:
        if self.min_instances > self.max_instances:
            raise ValueError("autoscaling min_instances must be <= max_instances")
        high = self.max_provisioned_concurrency
        if high is not None and self.min_provisioned_concurrency > high:
            raise ValueError("autoscaling min_provisioned_concurrency must be <= max_provisioned_concurrency")
        return self


class BlueGreenConfig(_Strict):
    """``DeploymentConfig`` of ``UpdateEndpoint``: traffic shifting and automatic rollback.

    SageMaker's bounds (``TrafficRoutingConfig``): a canary is at most 50% of the variant's instances, a linear
    step 10-50%; UpdateEndpoint refuses other sizes, so they are refused here, before any call.
    """

    traffic: Literal["ALL_AT_ONCE", "CANARY", "LINEAR"] = "ALL_AT_ONCE"
    step_percent: int = Field(
        default=10, ge=1, le=100, description="canary size (1-50) / linear step (10-50), % of capacity"
    )
    wait_interval_s: int = Field(default=300, ge=0, le=3600, description="baking time between traffic shifts")
    termination_wait_s: int = Field(default=300, ge=0, le=3600, description="old fleet kept this long after shifting")
    max_execution_timeout_s: int | None = Field(default=None, ge=600, le=28800)
    rollback_alarms: tuple[str, ...] = Field(default=(), description="CloudWatch alarms that roll the update back")

    @model_validator(mode="after")
    def _step_bounds(self) -> BlueGreenConfig:
        if self.traffic == "CANARY" and self.step_percent > CANARY_MAX_PERCENT:
            raise ValueError(
                f"blue_green step_percent {self.step_percent}: a CANARY may be at most {CANARY_MAX_PERCENT}% of the "
                "fleet (SageMaker TrafficRoutingConfig.CanarySize)"
            )
        low, high = LINEAR_STEP_PERCENT
        if self.traffic == "LINEAR" and not low <= self.step_percent <= high:
            raise ValueError(
                f"blue_green step_percent {self.step_percent}: a LINEAR step must be {low}-{high}% of the fleet "
                "(SageMaker TrafficRoutingConfig.LinearStepSize)"
            )
        return self


class ServerlessConfig(_Strict):
    """``ProductionVariant.ServerlessConfig``: no instances; memory (hence CPU share) and concurrency instead."""

    memory_mb: Literal[1024, 2048, 3072, 4096, 5120, 6144] = Field(
        default=2048, description="1024-6144 in 1024 MB steps; must hold the model (modes.serverless_memory_needed)"
    )
    max_concurrency: int = Field(default=5, ge=1, le=modes.SERVERLESS_MAX_CONCURRENCY)
    provisioned_concurrency: Annotated[int | None, BeforeValidator(zero_is_none)] = Field(
        default=None, ge=1, le=modes.SERVERLESS_MAX_CONCURRENCY, description="warm copies (billed while provisioned)"
    )

    @model_validator(mode="after")
    def _concurrency(self) -> ServerlessConfig:
        if self.provisioned_concurrency is not None and self.provisioned_concurrency > self.max_concurrency:
            raise ValueError(
                f"serverless provisioned_concurrency {self.provisioned_concurrency} must be <= max_concurrency "
                f"{self.max_concurrency}"
            )
        return self


class AsyncConfig(_Strict):
    """``AsyncInferenceConfig``: results are written to S3 instead of being returned; errors to ``failure_s3``."""

    output_s3: str = Field(pattern=S3_PATTERN)
    failure_s3: str | None = Field(default=None, pattern=S3_PATTERN)
    max_concurrent_per_instance: int | None = Field(default=None, ge=1, le=1000)
    success_topic_arn: str | None = Field(default=None, pattern=SNS_PATTERN)
    error_topic_arn: str | None = Field(default=None, pattern=SNS_PATTERN)


class DeployConfig(_Strict):
    """One endpoint: model (image + weights), fleet, timeouts, routing, optional async and autoscaling; or a
    serverless endpoint (``serverless``: no instance fields, no VPC or network isolation; autoscaling of its
    provisioned concurrency only; ``serverless_rules``)."""

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
    enable_network_isolation: bool = Field(
        default=True, description="default False for serverless (unsupported) and async (needs the network)"
    )
    startup_health_check_timeout_s: int = Field(default=600, ge=60, le=3600)
    model_download_timeout_s: int = Field(default=600, ge=60, le=3600)
    volume_size_gb: int | None = Field(default=None, ge=1, le=512, description="only for instances without local NVMe")
    routing_strategy: Literal["LEAST_OUTSTANDING_REQUESTS", "RANDOM"] = "LEAST_OUTSTANDING_REQUESTS"
    subnets: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    volume_kms_key_id: str | None = Field(
        default=None, description="endpoint config KmsKeyId: the instances' EBS volume (none on local-NVMe types)"
    )
    async_output_kms_key_id: str | None = Field(
        default=None, description="AsyncInferenceConfig.OutputConfig.KmsKeyId: the async results in S3"
    )
    serverless: ServerlessConfig | None = None
    async_inference: AsyncConfig | None = None
    autoscaling: AutoscalingConfig | None = None
    blue_green: BlueGreenConfig = BlueGreenConfig()  # frozen, so one shared default is safe
    tags: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _defaults_of_the_mode(cls, data: Any) -> Any:
        if isinstance(data, dict) and "kms_key_id" in data:
            raise ValueError(
                "kms_key_id was split in two: volume_kms_key_id (the endpoint config's KmsKeyId, instance volumes) "
                "and async_output_kms_key_id (the async results in S3)"
            )
        # serverless endpoints take no network isolation; async ones need the network (serverless_rules)
        return serverless_rules.isolation_default(data) if isinstance(data, dict) else data

    @property
    def mode(self) -> modes.Mode:
        return "serverless" if self.serverless else "async" if self.async_inference else "realtime"

    @model_validator(mode="after")
    def _consistent(self) -> DeployConfig:
        if self.model_data and self.model_source:
            raise ValueError("give model_data (s3://) or model_source (local), not both")
        if self.model_source and not self.upload_s3:
            raise ValueError("model_source needs upload_s3 (s3://bucket/prefix) to upload it to")
        if bool(self.subnets) != bool(self.security_group_ids):
            raise ValueError("VPC mode needs both subnets and security_group_ids")
        if self.async_output_kms_key_id and not self.async_inference:
            raise ValueError("async_output_kms_key_id encrypts async results: it needs async_inference")
        if self.autoscaling and self.autoscaling.min_instances == 0 and not self.async_inference:
            raise ValueError(
                "autoscaling min_instances 0 (scale to zero) is for async endpoints only; real-time endpoints "
                "keep at least 1 instance (or use --serverless)"
            )
        modes.check_environment(self.mode, self.environment)
        serverless_rules.check_scaling(self)
        if self.async_inference and self.enable_network_isolation:
            warnings.warn(
                f"enable_network_isolation on an async endpoint: {serverless_rules.ISOLATION_NEEDS_NETWORK}; "
                "leave it out (async defaults to off) unless you have tested it",
                ModeWarning,
                stacklevel=2,
            )
        if self.serverless:
            self._check_serverless()
            return self
        check_host(self.instance_type, self.inference_ami_version, self.image_cuda, self.cuda_compat_driver, "realtime")
        if modes.has_local_nvme(self.instance_type):
            storage = f"{self.instance_type} has local NVMe instance storage (encrypted by the instance's hardware)"
            if self.volume_kms_key_id:
                raise ValueError(
                    f"volume_kms_key_id: {storage}; CreateEndpointConfig refuses a KmsKeyId for such instance types. "
                    "Leave it out, or choose an instance type without instance storage (ml.c6i, ml.m5, ml.p3, ...); "
                    "async results have their own key, async_output_kms_key_id"
                )
            if self.volume_size_gb is not None:
                raise ValueError(f"volume_size_gb: {storage}, there is no EBS volume to size; leave it out")
        return self

    def _check_serverless(self) -> None:
        """Refuse what Serverless Inference does not have (``serverless_rules``); warn about a GPU image."""
        bad = serverless_rules.serverless_refusals(self)
        if bad:
            raise ValueError(
                f"serverless endpoints do not support {'; '.join(bad)}; remove them, or deploy on an instance "
                "without --serverless"
            )
        if modes.looks_like_gpu_image(self.image_uri):
            warnings.warn(
                f"serverless endpoints run on CPU only, and {self.image_uri} looks like the GPU image (larger, slower "
                f"to start cold); {modes.CPU_IMAGE_HINT}",
                ModeWarning,
                stacklevel=2,
            )

    def serverless_workers(self) -> int:
        """CPU workers the serverless container starts: ``EMB_WORKERS`` (1 unless overridden), or
        ``SAGEMAKER_MODEL_SERVER_WORKERS``, which the server reads first."""
        env = self.container_environment()
        return int(env.get(modes.SAGEMAKER_WORKERS_ENV) or env[modes.WORKERS_ENV])

    def container_environment(self) -> dict[str, str]:
        """The mode's container settings (``modes.environment``) with the deployment's own ``environment`` on top."""
        return {**modes.environment(self.mode), **self.environment}


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by the non-None ``overrides``; nested dicts are merged key by key."""
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        elif isinstance(value, dict):
            nested = merge({}, value)
            if nested or not value:  # {} given on purpose (``--serverless`` alone): the section with its defaults
                out[key] = nested
        elif value is not None:
            out[key] = value
    return out


def load_config(path: Path | None, overrides: dict[str, Any]) -> DeployConfig:
    """The JSON file at ``path`` (if any) merged with ``overrides`` (None values ignored), validated."""
    data: dict[str, Any] = json.loads(path.read_text()) if path else {}
    return DeployConfig.model_validate(merge(data, overrides))
