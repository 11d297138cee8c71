"""Autoscale-aware capacity: the instance count a re-deploy sends, and the autoscale settings a delete removes.

Contracts:

* Azure ML's deployment PUT sets the deployment's capacity (``sku.capacity``, the SDK's ``instance_count``).
  With ``autoscaling`` configured and the deployment already live, :func:`retained_instance_count` keeps the count
  Azure Monitor autoscale reached, clamped to ``min_instances..max_instances`` (the bounds may have changed),
  instead of the config's ``instance_count``: Azure's analogue of SageMaker's ``RetainAllVariantProperties``. A new
  deployment, or one without autoscaling (a fixed size), gets ``instance_count`` as configured. The autoscale
  setting's default capacity stays ``instance_count`` (Azure uses it only while the metric is missing).
* :func:`delete_autoscale_settings` deletes every Azure Monitor autoscale setting of the resource group whose target
  is the deleted deployment (or any deployment of the deleted endpoint), ours (``<endpoint>-<deployment>-autoscale``)
  and others (the portal's): Azure does not delete them with their target, and a left-over setting would scale a
  deployment re-created later under the same name. Not being allowed to list or delete them is logged, not raised:
  deleting the endpoint must not depend on Azure Monitor permissions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from .config import AzureMLConfig, AzureMLTarget
from .plan import DeploymentPlan, build_deployment, deployment_id

Log = Callable[[str], None]


def retained_instance_count(cfg: AzureMLConfig, live: int | None) -> int:
    """The ``instance_count`` to send: ``live`` within the autoscale bounds when autoscaling is configured and the
    deployment exists (``live`` not None), else the configured ``instance_count``."""
    scale = cfg.autoscaling
    if scale is None or live is None:
        return cfg.instance_count
    return min(max(live, scale.min_instances), scale.max_instances)


def live_instance_count(client: Any, cfg: AzureMLConfig) -> int | None:
    """The existing deployment's instance count; None without autoscaling (not needed) or when it does not exist."""
    if cfg.autoscaling is None:
        return None
    try:
        deployment = client.online_deployments.get(cfg.deployment_name, cfg.endpoint_name)
    except ResourceNotFoundError:
        return None
    count = getattr(deployment, "instance_count", None)
    return int(count) if count is not None else None


def with_instance_count(plan: DeploymentPlan, count: int) -> DeploymentPlan:
    """``plan`` whose deployment sends ``count`` instances (the same plan when that is the configured count)."""
    cfg = plan.config
    if count == cfg.instance_count:
        return plan
    return replace(plan, deployment=build_deployment(cfg.model_copy(update={"instance_count": count})))


def _targets(target: AzureMLTarget, deployment_only: bool) -> Callable[[str], bool]:
    """Predicate on an autoscale setting's target URI (ARM ids compare case-insensitively)."""
    deployment = deployment_id(target).lower()
    endpoint_deployments = deployment.rsplit("/", 1)[0] + "/"
    if deployment_only:
        return lambda uri: uri.lower().rstrip("/") == deployment
    return lambda uri: uri.lower().startswith(endpoint_deployments)


def delete_autoscale_settings(
    monitor: Any, target: AzureMLTarget, *, deployment_only: bool = False, log: Log
) -> list[str]:
    """Delete the autoscale settings that target ``target``'s deployment (``deployment_only``) or any deployment of
    its endpoint; returns their names. Listing or deleting refused by Azure is logged and skipped."""
    hint = f"az monitor autoscale list -g {target.resource_group}, then az monitor autoscale delete"
    matches = _targets(target, deployment_only)
    try:
        settings = list(monitor.autoscale_settings.list_by_resource_group(target.resource_group))
    except HttpResponseError as error:
        log(f"warning: could not list autoscale settings ({error.reason or error.status_code}); check with: {hint}")
        return []
    deleted: list[str] = []
    for setting in settings:
        if not matches(getattr(setting, "target_resource_uri", None) or ""):
            continue
        name = setting.name
        log(f"deleting autoscale setting {name}")
        try:
            monitor.autoscale_settings.delete(target.resource_group, name)
        except ResourceNotFoundError:
            continue
        except HttpResponseError as error:
            log(f"warning: could not delete autoscale setting {name} ({error.reason or error.status_code}): {hint}")
            continue
        deleted.append(name)
    return deleted
