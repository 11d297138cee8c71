"""Application Auto Scaling for the endpoint's variant: target tracking on load per instance.

Real-time endpoints track ``SageMakerVariantInvocationsPerInstance`` (invocations per instance per
minute); async endpoints track the ``ApproximateBacklogSizePerInstance`` CloudWatch metric.
"""

from __future__ import annotations

from typing import Any

from .config import DeployConfig
from .plan import Call

SERVICE = "application-autoscaling"
NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def resource_id(endpoint_name: str, variant_name: str) -> str:
    return f"endpoint/{endpoint_name}/variant/{variant_name}"


def policy_name(endpoint_name: str) -> str:
    return f"{endpoint_name}-target-tracking"


def _target(endpoint_name: str, variant_name: str) -> dict[str, str]:
    return {
        "ServiceNamespace": NAMESPACE,
        "ResourceId": resource_id(endpoint_name, variant_name),
        "ScalableDimension": DIMENSION,
    }


def _metric(cfg: DeployConfig) -> dict[str, Any]:
    if cfg.async_inference is None:
        return {"PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}
    return {
        "CustomizedMetricSpecification": {
            "MetricName": "ApproximateBacklogSizePerInstance",
            "Namespace": "AWS/SageMaker",
            "Dimensions": [{"Name": "EndpointName", "Value": cfg.endpoint_name}],
            "Statistic": "Average",
        }
    }


def autoscaling_calls(cfg: DeployConfig) -> list[Call]:
    """Register the variant as a scalable target and attach the target-tracking policy ([] if disabled)."""
    scaling = cfg.autoscaling
    if scaling is None:
        return []
    target = _target(cfg.endpoint_name, cfg.variant_name)
    register = {**target, "MinCapacity": scaling.min_instances, "MaxCapacity": scaling.max_instances}
    policy = {
        "PolicyName": policy_name(cfg.endpoint_name),
        **target,
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": scaling.target_value,
            **_metric(cfg),
            "ScaleInCooldown": scaling.scale_in_cooldown_s,
            "ScaleOutCooldown": scaling.scale_out_cooldown_s,
        },
    }
    return [Call(SERVICE, "register_scalable_target", register), Call(SERVICE, "put_scaling_policy", policy)]


def describe(client: Any, endpoint_name: str, variant_name: str) -> dict[str, Any] | None:
    """The variant's scalable target and its policy names, or None when it is not registered."""
    target = _target(endpoint_name, variant_name)
    found = client.describe_scalable_targets(
        ServiceNamespace=NAMESPACE, ResourceIds=[target["ResourceId"]], ScalableDimension=DIMENSION
    )["ScalableTargets"]
    if not found:
        return None
    policies = client.describe_scaling_policies(
        ServiceNamespace=NAMESPACE, ResourceId=target["ResourceId"], ScalableDimension=DIMENSION
    )["ScalingPolicies"]
    return {
        "ResourceId": target["ResourceId"],
        "MinCapacity": found[0]["MinCapacity"],
        "MaxCapacity": found[0]["MaxCapacity"],
        "Policies": [policy["PolicyName"] for policy in policies],
    }


def restore_calls(client: Any, endpoint_name: str, variant_name: str) -> list[Call]:
    """The calls that would re-create the variant's current target and policies ([] if not registered)."""
    target = _target(endpoint_name, variant_name)
    found = client.describe_scalable_targets(
        ServiceNamespace=NAMESPACE, ResourceIds=[target["ResourceId"]], ScalableDimension=DIMENSION
    )["ScalableTargets"]
    if not found:
        return []
    register = {**target, "MinCapacity": found[0]["MinCapacity"], "MaxCapacity": found[0]["MaxCapacity"]}
    policies = client.describe_scaling_policies(
        ServiceNamespace=NAMESPACE, ResourceId=target["ResourceId"], ScalableDimension=DIMENSION
    )["ScalingPolicies"]
    kept = ("TargetTrackingScalingPolicyConfiguration", "StepScalingPolicyConfiguration")
    puts = [
        Call(SERVICE, "put_scaling_policy", {
            "PolicyName": p["PolicyName"], **target, "PolicyType": p["PolicyType"],
            **{key: p[key] for key in kept if key in p},
        })
        for p in policies
    ]  # fmt: skip
    return [Call(SERVICE, "register_scalable_target", register), *puts]


def removal_calls(client: Any, endpoint_name: str, variant_name: str) -> list[Call]:
    """Delete every scaling policy of the variant, then deregister it ([] when it is not registered)."""
    current = describe(client, endpoint_name, variant_name)
    if current is None:
        return []
    target = _target(endpoint_name, variant_name)
    calls = [Call(SERVICE, "delete_scaling_policy", {"PolicyName": name, **target}) for name in current["Policies"]]
    return [*calls, Call(SERVICE, "deregister_scalable_target", target)]
