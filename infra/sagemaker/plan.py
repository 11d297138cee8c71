"""Pure builders: ``DeployConfig`` -> the exact boto3 requests. No AWS calls, no clock, no randomness.

Every resource of one deployment shares a versioned name ``<endpoint>-<YYYYmmdd-HHMMSS-mmm>``; the endpoint
keeps its own name. ``--dry-run`` prints these ``Call`` objects; ``apply`` sends them unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from .config import BlueGreenConfig, DeployConfig

MANAGED_BY = "infra.sagemaker"
JSON = "application/json"


@dataclass(frozen=True)
class Call:
    """One boto3 call: ``clients[service].<operation>(**params)``."""

    service: str
    operation: str
    params: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def stamp(now: datetime) -> str:
    """``YYYYmmdd-HHMMSS-mmm``: sortable, and distinct for a deploy and an update a moment later."""
    return now.strftime("%Y%m%d-%H%M%S-") + f"{now.microsecond // 1000:03d}"


def versioned_name(endpoint_name: str, version: str) -> str:
    """``<endpoint>-<version>`` within SageMaker's 63-character name limit."""
    return f"{endpoint_name[: 62 - len(version)].rstrip('-')}-{version}"


def tags(cfg: DeployConfig) -> list[dict[str, str]]:
    base = {"ManagedBy": MANAGED_BY, "EmbeddingEndpoint": cfg.endpoint_name, **cfg.tags}
    return [{"Key": key, "Value": value} for key, value in base.items()]


def create_model(cfg: DeployConfig, model_name: str, model_data_url: str | None) -> Call:
    environment = cfg.container_environment()  # the mode's limits (body size, deadline) + the deployment's own
    container: dict[str, Any] = {"Image": cfg.image_uri, "Mode": "SingleModel", "Environment": environment}
    if model_data_url:
        container["ModelDataUrl"] = model_data_url
    params: dict[str, Any] = {
        "ModelName": model_name,
        "ExecutionRoleArn": cfg.role_arn,
        "PrimaryContainer": container,
        "EnableNetworkIsolation": cfg.enable_network_isolation,
        "Tags": tags(cfg),
    }
    if cfg.subnets:
        params["VpcConfig"] = {"Subnets": list(cfg.subnets), "SecurityGroupIds": list(cfg.security_group_ids)}
    return Call("sagemaker", "create_model", params)


def production_variant(cfg: DeployConfig, model_name: str) -> dict[str, Any]:
    """The one variant: instances (type, count, timeouts, routing, host AMI) or, serverless, memory and
    concurrency only (SageMaker picks and scales the compute)."""
    if cfg.serverless is not None:
        serverless: dict[str, Any] = {
            "MemorySizeInMB": cfg.serverless.memory_mb,
            "MaxConcurrency": cfg.serverless.max_concurrency,
        }
        if cfg.serverless.provisioned_concurrency is not None:
            serverless["ProvisionedConcurrency"] = cfg.serverless.provisioned_concurrency
        return {"VariantName": cfg.variant_name, "ModelName": model_name, "ServerlessConfig": serverless}
    variant: dict[str, Any] = {
        "VariantName": cfg.variant_name,
        "ModelName": model_name,
        "InstanceType": cfg.instance_type,
        "InitialInstanceCount": cfg.instance_count,
        "InitialVariantWeight": 1.0,
        "ContainerStartupHealthCheckTimeoutInSeconds": cfg.startup_health_check_timeout_s,
        "ModelDataDownloadTimeoutInSeconds": cfg.model_download_timeout_s,
        "RoutingConfig": {"RoutingStrategy": cfg.routing_strategy},
    }
    if cfg.volume_size_gb is not None:
        variant["VolumeSizeInGB"] = cfg.volume_size_gb
    if cfg.inference_ami_version:  # the host AMI, hence the NVIDIA driver (checked in DeployConfig: gpu_hosts)
        variant["InferenceAmiVersion"] = cfg.inference_ami_version
    return variant


def async_inference_config(cfg: DeployConfig) -> dict[str, Any] | None:
    spec = cfg.async_inference
    if spec is None:
        return None
    output: dict[str, Any] = {"S3OutputPath": spec.output_s3}
    if spec.failure_s3:
        output["S3FailurePath"] = spec.failure_s3
    topics = {"SuccessTopic": spec.success_topic_arn, "ErrorTopic": spec.error_topic_arn}
    if any(topics.values()):
        output["NotificationConfig"] = {key: value for key, value in topics.items() if value}
    if cfg.async_output_kms_key_id:  # the results in S3; not the instances' volume key
        output["KmsKeyId"] = cfg.async_output_kms_key_id
    config: dict[str, Any] = {"OutputConfig": output}
    if spec.max_concurrent_per_instance:
        config["ClientConfig"] = {"MaxConcurrentInvocationsPerInstance": spec.max_concurrent_per_instance}
    return config


def create_endpoint_config(cfg: DeployConfig, config_name: str, model_name: str) -> Call:
    params: dict[str, Any] = {
        "EndpointConfigName": config_name,
        "ProductionVariants": [production_variant(cfg, model_name)],
        "Tags": tags(cfg),
    }
    if cfg.volume_kms_key_id:  # refused in DeployConfig for instance types with local NVMe storage
        params["KmsKeyId"] = cfg.volume_kms_key_id
    async_config = async_inference_config(cfg)
    if async_config:
        params["AsyncInferenceConfig"] = async_config
    return Call("sagemaker", "create_endpoint_config", params)


def create_endpoint(cfg: DeployConfig, config_name: str) -> Call:
    params = {"EndpointName": cfg.endpoint_name, "EndpointConfigName": config_name, "Tags": tags(cfg)}
    return Call("sagemaker", "create_endpoint", params)


def deployment_config(blue_green: BlueGreenConfig) -> dict[str, Any]:
    """``DeploymentConfig`` for ``UpdateEndpoint``: blue/green traffic shifting and alarm rollback."""
    routing: dict[str, Any] = {"Type": blue_green.traffic, "WaitIntervalInSeconds": blue_green.wait_interval_s}
    step = {"Type": "CAPACITY_PERCENT", "Value": blue_green.step_percent}
    if blue_green.traffic == "CANARY":
        routing["CanarySize"] = step
    elif blue_green.traffic == "LINEAR":
        routing["LinearStepSize"] = step
    policy: dict[str, Any] = {
        "TrafficRoutingConfiguration": routing,
        "TerminationWaitInSeconds": blue_green.termination_wait_s,
    }
    if blue_green.max_execution_timeout_s is not None:
        policy["MaximumExecutionTimeoutInSeconds"] = blue_green.max_execution_timeout_s
    config: dict[str, Any] = {"BlueGreenUpdatePolicy": policy}
    if blue_green.rollback_alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": name} for name in blue_green.rollback_alarms]}
    return config


def update_endpoint(cfg: DeployConfig, config_name: str, retain_variant_properties: bool = False) -> Call:
    """``UpdateEndpoint`` to ``config_name``. ``retain_variant_properties``: keep the live variant's desired
    instance count (and weight) instead of the new config's ``InitialInstanceCount``, so an autoscaled fleet is
    not reset to its initial size by the update. Serverless endpoints take no blue/green ``DeploymentConfig``."""
    params: dict[str, Any] = {"EndpointName": cfg.endpoint_name, "EndpointConfigName": config_name}
    if cfg.serverless is None:
        params["DeploymentConfig"] = deployment_config(cfg.blue_green)
    if retain_variant_properties:
        params["RetainAllVariantProperties"] = True
    return Call("sagemaker", "update_endpoint", params)


def model_calls(cfg: DeployConfig, version: str, model_data_url: str | None) -> list[Call]:
    """Model + endpoint config named ``versioned_name(endpoint, version)``: the first two steps of both
    deploy and update."""
    name = versioned_name(cfg.endpoint_name, version)
    return [create_model(cfg, name, model_data_url), create_endpoint_config(cfg, name, name)]
