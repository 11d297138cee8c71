"""Application Auto Scaling for the endpoint's variant: target tracking on load per instance, or on a serverless
variant's provisioned concurrency.

Real-time endpoints track ``SageMakerVariantInvocationsPerInstance`` (invocations per instance per
minute); async endpoints track the ``ApproximateBacklogSizePerInstance`` CloudWatch metric. Both scale the
dimension ``sagemaker:variant:DesiredInstanceCount``. A serverless variant with provisioned concurrency scales
``sagemaker:variant:DesiredProvisionedConcurrency`` on ``SageMakerVariantProvisionedConcurrencyUtilization``
(provisioned concurrency in use / provisioned), as AWS documents in "Automatically scale Provisioned Concurrency for
a serverless endpoint" (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-autoscale.html).
Reading, restoring and removing a variant's scaling look at every dimension it is registered on.

Async endpoints may scale to zero (``min_instances=0``). Target tracking cannot start the first instance again
(with no instance there is no backlog *per instance*), so, as AWS documents ("Autoscale an asynchronous
endpoint", https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-autoscale.html), a step-scaling
policy (+1 instance) is attached to a CloudWatch alarm on ``HasBacklogWithoutCapacity`` (>= 1 for 2 minutes).
The alarm needs the policy's ARN, known only once ``PutScalingPolicy`` answers: its ``AlarmActions`` hold
``policy_arn_ref(name)``, which ``apply.Clients.execute`` replaces with the ARN just returned.
"""

from __future__ import annotations

import re
from typing import Any

from .config import DeployConfig
from .plan import Call

SERVICE = "application-autoscaling"
NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
PROVISIONED_DIMENSION = "sagemaker:variant:DesiredProvisionedConcurrency"
PROVISIONED_METRIC = "SageMakerVariantProvisionedConcurrencyUtilization"
BACKLOG_METRIC = "ApproximateBacklogSizePerInstance"
NO_CAPACITY_METRIC = "HasBacklogWithoutCapacity"
_ARN_REF = re.compile(r"^\{PolicyARN:(.+)\}$")


def policy_arn_ref(policy: str) -> str:
    """Stands for the ARN of scaling policy ``policy`` in a later call (``resolve_policy_arns``)."""
    return f"{{PolicyARN:{policy}}}"


def resolve_policy_arns(params: dict[str, Any], arns: dict[str, str]) -> dict[str, Any]:
    """``params`` with every ``policy_arn_ref`` in ``AlarmActions`` replaced by the ARN recorded in ``arns``."""
    actions = params.get("AlarmActions")
    if not actions:
        return params
    resolved = []
    for action in actions:
        match = _ARN_REF.match(action)
        if match and match.group(1) not in arns:
            raise ValueError(f"alarm action {action}: policy {match.group(1)} has not been created in this run")
        resolved.append(arns[match.group(1)] if match else action)
    return {**params, "AlarmActions": resolved}


def resource_id(endpoint_name: str, variant_name: str) -> str:
    return f"endpoint/{endpoint_name}/variant/{variant_name}"


def policy_name(endpoint_name: str) -> str:
    return f"{endpoint_name}-target-tracking"


def scale_from_zero_policy_name(endpoint_name: str) -> str:
    return f"{endpoint_name}-scale-from-zero"


def no_capacity_alarm_name(endpoint_name: str) -> str:
    return f"{endpoint_name}-has-backlog-without-capacity"


def _target(endpoint_name: str, variant_name: str, dimension: str = DIMENSION) -> dict[str, str]:
    return {
        "ServiceNamespace": NAMESPACE,
        "ResourceId": resource_id(endpoint_name, variant_name),
        "ScalableDimension": dimension,
    }


def dimension_of(cfg: DeployConfig) -> str:
    """What ``cfg``'s autoscaling scales: provisioned concurrency (serverless) or the instance count."""
    return PROVISIONED_DIMENSION if cfg.serverless is not None else DIMENSION


def _metric(cfg: DeployConfig) -> dict[str, Any]:
    if cfg.serverless is not None:
        return {"PredefinedMetricSpecification": {"PredefinedMetricType": PROVISIONED_METRIC}}
    if cfg.async_inference is None:
        return {"PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}
    return {
        "CustomizedMetricSpecification": {
            "MetricName": BACKLOG_METRIC,
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
    target = _target(cfg.endpoint_name, cfg.variant_name, dimension_of(cfg))
    low, high, value = scaling.min_instances, scaling.max_instances, scaling.target_value
    if cfg.serverless is not None:  # max_provisioned_concurrency is set (serverless_rules.check_scaling)
        low, high = scaling.min_provisioned_concurrency, scaling.max_provisioned_concurrency or low
        value = scaling.target_utilization
    register = {**target, "MinCapacity": low, "MaxCapacity": high}
    policy = {
        "PolicyName": policy_name(cfg.endpoint_name),
        **target,
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": value,
            **_metric(cfg),
            "ScaleInCooldown": scaling.scale_in_cooldown_s,
            "ScaleOutCooldown": scaling.scale_out_cooldown_s,
        },
    }
    calls = [Call(SERVICE, "register_scalable_target", register), Call(SERVICE, "put_scaling_policy", policy)]
    if scaling.min_instances == 0:  # async only (DeployConfig): the alarm that brings the first instance back
        calls += scale_from_zero_calls(cfg.endpoint_name, cfg.variant_name)
    return calls


def scale_from_zero_calls(endpoint_name: str, variant_name: str) -> list[Call]:
    """AWS's documented scale-out from zero: a step policy adding one instance, triggered by an alarm on
    ``HasBacklogWithoutCapacity`` >= 1 (average over 1 minute, 2 minutes in a row)."""
    name = scale_from_zero_policy_name(endpoint_name)
    policy = {
        "PolicyName": name,
        **_target(endpoint_name, variant_name),
        "PolicyType": "StepScaling",
        "StepScalingPolicyConfiguration": step_scaling_configuration(),
    }
    return [Call(SERVICE, "put_scaling_policy", policy), no_capacity_alarm_call(endpoint_name, policy_arn_ref(name))]


def step_scaling_configuration() -> dict[str, Any]:
    return {
        "AdjustmentType": "ChangeInCapacity",
        "MetricAggregationType": "Average",
        "Cooldown": 300,
        "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
    }


def no_capacity_alarm_call(endpoint_name: str, policy_arn: str) -> Call:
    return Call("cloudwatch", "put_metric_alarm", {
        "AlarmName": no_capacity_alarm_name(endpoint_name),
        "AlarmDescription": f"{endpoint_name}: requests queued and no instance; starts one (scale from zero)",
        "MetricName": NO_CAPACITY_METRIC,
        "Namespace": "AWS/SageMaker",
        "Statistic": "Average",
        "Dimensions": [{"Name": "EndpointName", "Value": endpoint_name}],
        "Period": 60,
        "EvaluationPeriods": 2,
        "DatapointsToAlarm": 2,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "missing",
        "AlarmActions": [policy_arn],
    })  # fmt: skip


def _registered(client: Any, endpoint_name: str, variant_name: str) -> list[dict[str, Any]]:
    """The variant's scalable targets (one per registered dimension), each with its policies under ``Policies``."""
    rid = resource_id(endpoint_name, variant_name)
    found = client.describe_scalable_targets(ServiceNamespace=NAMESPACE, ResourceIds=[rid])["ScalableTargets"]
    return [
        {**target, "Policies": client.describe_scaling_policies(
            ServiceNamespace=NAMESPACE, ResourceId=rid, ScalableDimension=target["ScalableDimension"],
        )["ScalingPolicies"]}
        for target in found
        if target["ScalableDimension"] in (DIMENSION, PROVISIONED_DIMENSION)
    ]  # fmt: skip


def describe(client: Any, endpoint_name: str, variant_name: str) -> dict[str, Any] | None:
    """The variant's scalable target and its policy names, or None when it is not registered."""
    found = _registered(client, endpoint_name, variant_name)
    if not found:
        return None
    target = found[0]
    described = {
        "ResourceId": target["ResourceId"],
        "MinCapacity": target["MinCapacity"],
        "MaxCapacity": target["MaxCapacity"],
        "Policies": [policy["PolicyName"] for policy in target["Policies"]],
    }
    if target["ScalableDimension"] != DIMENSION:  # real-time and async output stays as it was
        described["ScalableDimension"] = target["ScalableDimension"]
    return described


def restore_calls(client: Any, endpoint_name: str, variant_name: str) -> list[Call]:
    """The calls that would re-create the variant's current targets and policies ([] if not registered)."""
    calls: list[Call] = []
    kept = ("TargetTrackingScalingPolicyConfiguration", "StepScalingPolicyConfiguration")
    step = scale_from_zero_policy_name(endpoint_name)
    for found in _registered(client, endpoint_name, variant_name):
        target = _target(endpoint_name, variant_name, found["ScalableDimension"])
        calls.append(Call(SERVICE, "register_scalable_target",
                          {**target, "MinCapacity": found["MinCapacity"], "MaxCapacity": found["MaxCapacity"]}))
        calls += [
            Call(SERVICE, "put_scaling_policy", {
                "PolicyName": p["PolicyName"], **target, "PolicyType": p["PolicyType"],
                **{key: p[key] for key in kept if key in p},
            })
            for p in found["Policies"]
        ]
        if any(p["PolicyName"] == step for p in found["Policies"]):  # re-created policy, new ARN: re-point its alarm
            calls.append(no_capacity_alarm_call(endpoint_name, policy_arn_ref(step)))
    return calls  # fmt: skip


def leftover_calls(client: Any, cfg: DeployConfig) -> list[Call]:
    """The scale-from-zero policy and alarm of the live variant when ``cfg`` no longer scales to zero."""
    current = describe(client, cfg.endpoint_name, cfg.variant_name)
    name = scale_from_zero_policy_name(cfg.endpoint_name)
    if current is None or name not in current["Policies"] or (cfg.autoscaling and cfg.autoscaling.min_instances == 0):
        return []
    alarm = no_capacity_alarm_name(cfg.endpoint_name)
    target = _target(cfg.endpoint_name, cfg.variant_name)
    return [Call(SERVICE, "delete_scaling_policy", {"PolicyName": name, **target}),
            Call("cloudwatch", "delete_alarms", {"AlarmNames": [alarm]})]  # fmt: skip


def removal_calls(client: Any, endpoint_name: str, variant_name: str) -> list[Call]:
    """Delete every scaling policy of the variant (and the scale-from-zero alarm, which deleting its policy leaves
    behind), then deregister it, on every dimension it is registered on ([] when it is not registered)."""
    calls: list[Call] = []
    for found in _registered(client, endpoint_name, variant_name):
        target = _target(endpoint_name, variant_name, found["ScalableDimension"])
        names = [policy["PolicyName"] for policy in found["Policies"]]
        calls += [Call(SERVICE, "delete_scaling_policy", {"PolicyName": name, **target}) for name in names]
        if scale_from_zero_policy_name(endpoint_name) in names:
            calls.append(Call("cloudwatch", "delete_alarms", {"AlarmNames": [no_capacity_alarm_name(endpoint_name)]}))
        calls.append(Call(SERVICE, "deregister_scalable_target", target))
    return calls
