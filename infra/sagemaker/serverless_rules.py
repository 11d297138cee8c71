"""What a serverless endpoint takes, each refusal tied to what AWS documents; and the network-isolation default.

AWS's list ("Deploy models with Amazon SageMaker Serverless Inference", Feature exclusions): serverless endpoints
do not support GPUs, AWS Marketplace model packages, private Docker registries, Multi-Model Endpoints, VPC
configuration, network isolation, data capture, multiple production variants, Model Monitor and inference
pipelines. Of these the CLI can be asked for VPC configuration and network isolation (refused here) and a GPU
image (a warning: it runs, on CPU, and starts slower); the others it never sets up (one variant, one container,
an image URI in ECR, no data capture). Besides:

- no instances: serverless endpoints are created without choosing an instance type ("Serverless Inference"), so
  instance type / count, host AMI and EBS volume size have nothing to apply to;
- no deployment guardrails: "Deployment guardrails only apply to Asynchronous inference and Real-time inference
  endpoint types" ("Deployment guardrails for updating models in production"), so no canary / linear traffic
  shifting or rollback alarms;
- autoscaling only of provisioned concurrency: Application Auto Scaling scales a serverless variant's
  provisioned concurrency (dimension ``sagemaker:variant:DesiredProvisionedConcurrency``, metric
  ``SageMakerVariantProvisionedConcurrencyUtilization``), and only once the variant has provisioned concurrency
  ("Automatically scale Provisioned Concurrency for a serverless endpoint"); provisioned concurrency is at most
  ``MaxConcurrency`` (``ProductionVariantServerlessConfig``);
- an endpoint is serverless or async (asynchronous inference queues requests for instances).

Network isolation defaults to off for serverless (excluded, above) and for async endpoints: AWS Marketplace's
"Service restrictions and quotas for machine learning products" says endpoints configured for asynchronous (and
serverless) inference require models to have network connectivity, which is why Marketplace model packages,
always isolated, cannot be deployed to them. An explicit ``enable_network_isolation`` on async is kept, with a
``ModeWarning``.

Sources: https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html,
https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails.html,
https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-autoscale.html,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantServerlessConfig.html,
https://docs.aws.amazon.com/marketplace/latest/userguide/ml-service-restrictions-and-limits.html
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .config import AutoscalingConfig, DeployConfig

INSTANCE_SCALING_FIELDS: Final = frozenset({"min_instances", "max_instances", "target_value"})
PROVISIONED_SCALING_FIELDS: Final = frozenset(
    {"min_provisioned_concurrency", "max_provisioned_concurrency", "target_utilization"}
)
ISOLATION_NEEDS_NETWORK: Final = (
    "AWS Marketplace's ML restrictions: endpoints configured for asynchronous inference require models to have "
    "network connectivity"
)


def isolation_default(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with ``enable_network_isolation`` False when it is serverless or async and does not say."""
    if "enable_network_isolation" in data:
        return data
    if data.get("serverless") is not None or data.get("async_inference") is not None:
        return {**data, "enable_network_isolation": False}  # serverless: excluded; async: needs the network
    return data


def serverless_refusals(cfg: DeployConfig) -> list[str]:
    """What ``cfg`` (a serverless endpoint) asks for that Serverless Inference does not have, each with its reason."""
    instance_fields = {"instance_type", "instance_count"} & cfg.model_fields_set
    refused = {
        "instance_type / instance_count (serverless endpoints have no instances)": bool(instance_fields),
        "inference_ami_version (no instances, no host AMI)": bool(cfg.inference_ami_version),
        "volume_size_gb (no instances, no EBS volume)": cfg.volume_size_gb is not None,
        "enable_network_isolation (excluded: AWS's Serverless Inference feature exclusions)": (
            cfg.enable_network_isolation
        ),
        "subnets / security_group_ids (VPC) (excluded: AWS's Serverless Inference feature exclusions)": bool(
            cfg.subnets
        ),
        "async_inference (an endpoint is serverless or async)": cfg.async_inference is not None,
        "blue_green CANARY / LINEAR traffic or rollback alarms (deployment guardrails apply only to real-time and "
        "async endpoints)": cfg.blue_green.traffic != "ALL_AT_ONCE" or bool(cfg.blue_green.rollback_alarms),
    }
    return [name for name, given in refused.items() if given]


def check_scaling(cfg: DeployConfig) -> None:
    """Refuse (ValueError) an autoscaling section that does not fit the endpoint's mode."""
    scaling = cfg.autoscaling
    if scaling is None:
        return
    given = scaling.model_fields_set
    if cfg.serverless is None:
        if given & PROVISIONED_SCALING_FIELDS:
            raise ValueError(
                f"autoscaling {', '.join(sorted(given & PROVISIONED_SCALING_FIELDS))}: provisioned concurrency is "
                "scaled on serverless endpoints only; instance endpoints take min_instances / max_instances / "
                "target_value"
            )
        return
    if given & INSTANCE_SCALING_FIELDS:
        raise ValueError(
            f"autoscaling {', '.join(sorted(given & INSTANCE_SCALING_FIELDS))}: a serverless endpoint has no "
            "instances; its autoscaling scales provisioned concurrency (--min-provisioned-concurrency, "
            "--max-provisioned-concurrency, --target-utilization)"
        )
    _check_provisioned(scaling, cfg.serverless.provisioned_concurrency, cfg.serverless.max_concurrency)


def _check_provisioned(scaling: AutoscalingConfig, provisioned: int | None, max_concurrency: int) -> None:
    high, low = scaling.max_provisioned_concurrency, scaling.min_provisioned_concurrency
    if high is None:
        raise ValueError("serverless autoscaling needs max_provisioned_concurrency (--max-provisioned-concurrency)")
    if provisioned is None:
        raise ValueError(
            "serverless autoscaling scales provisioned concurrency, and AWS scales it only on an endpoint deployed "
            "with some: set provisioned_concurrency (--provisioned-concurrency) as well"
        )
    if high > max_concurrency:
        raise ValueError(
            f"autoscaling max_provisioned_concurrency {high} must be <= serverless max_concurrency {max_concurrency} "
            "(SageMaker's ProvisionedConcurrency <= MaxConcurrency)"
        )
    if not low <= provisioned <= high:
        raise ValueError(
            f"serverless provisioned_concurrency {provisioned} must be within autoscaling "
            f"min_provisioned_concurrency..max_provisioned_concurrency ({low}..{high})"
        )
