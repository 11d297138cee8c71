"""Control-plane calls through ``MLClient``: deploy, status, logs, invoke, delete.

Contracts:

* Every function takes an ``MLClient`` (tests pass one whose HTTP is mocked); :func:`make_client` builds
  the real one with ``DefaultAzureCredential`` (az login, managed identity, workload identity, ...).
  Nothing here reads or prints keys or tokens: ``invoke`` lets the SDK fetch the endpoint key/token.
* :func:`deploy` is idempotent and safe for blue/green: environment + model versions are registered
  once (versions are immutable: a changed image needs a new environment version), an existing
  endpoint is not re-created
  (its traffic stays until the new deployment is healthy), the deployment is created or updated and
  waited on, then traffic moves with :func:`~infra.azureml.plan.compute_traffic`, and last the
  deployment's Azure Monitor autoscale setting is written (when ``autoscaling`` is configured). A re-deploy of an
  autoscaled deployment keeps its live instance count (:mod:`~infra.azureml.capacity`), not ``instance_count``.
* Settings an existing endpoint or deployment cannot take in place (auth mode, public network access,
  egress) and egress in a managed-network workspace are refused before anything is created
  (:func:`~infra.azureml.plan.existing_conflicts`).
* :func:`delete` treats "not found" as done and returns whether something was deleted; it first deletes the
  autoscale settings that target what it deletes (Azure keeps them after their target is gone).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.ai.ml import MLClient
from azure.ai.ml.entities import OnlineEndpoint
from azure.core.credentials import TokenCredential
from azure.core.exceptions import ResourceNotFoundError

from .capacity import delete_autoscale_settings, live_instance_count, retained_instance_count, with_instance_count
from .config import AzureMLConfig, AzureMLTarget, quota_instances
from .plan import DeploymentPlan, autoscale_name, build_autoscale, compute_traffic, existing_conflicts

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    """Default logger: say nothing."""


@dataclass(frozen=True)
class DeployResult:
    """What a finished deploy left behind (no secrets)."""

    endpoint_name: str
    deployment_name: str
    scoring_uri: str | None
    traffic: dict[str, int]


def make_client(target: AzureMLTarget, credential: TokenCredential | None = None) -> MLClient:
    """``MLClient`` for the target workspace; ``DefaultAzureCredential`` unless ``credential`` is given."""
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    return MLClient(
        credential,
        subscription_id=target.subscription_id,
        resource_group_name=target.resource_group,
        workspace_name=target.workspace,
        show_progress=False,
        enable_telemetry=False,
    )


def make_monitor_client(target: AzureMLTarget, credential: TokenCredential) -> Any:
    """azure-mgmt-monitor's ``MonitorManagementClient`` for the target subscription (autoscale settings)."""
    from azure.mgmt.monitor import MonitorManagementClient

    return MonitorManagementClient(credential, target.subscription_id)


def get_endpoint(client: MLClient, name: str) -> OnlineEndpoint | None:
    """The endpoint, or None when it does not exist."""
    try:
        endpoint: OnlineEndpoint = client.online_endpoints.get(name)
    except ResourceNotFoundError:
        return None
    return endpoint


def ensure_assets(client: MLClient, plan: DeploymentPlan, *, log: Log = _quiet) -> None:
    """Register the environment (and model) versions unless they exist; versions are immutable.

    An existing environment version with a different image is an error (``ValueError``) raised before
    anything is created: bump ``environment_version``. An existing model version is reused as is.
    """
    cfg = plan.config
    try:
        env = client.environments.get(cfg.environment_name, version=cfg.environment_version)
    except ResourceNotFoundError:
        env = client.environments.create_or_update(plan.environment)
        log(f"environment {env.name}:{env.version} -> {cfg.image}")
    else:
        if env.image != cfg.image:
            raise ValueError(
                f"environment {cfg.environment_name}:{cfg.environment_version} already holds image {env.image}; "
                "versions are immutable, bump environment_version"
            )
        log(f"environment {env.name}:{env.version} exists (same image)")
    if plan.model is None:
        return
    try:
        model = client.models.get(cfg.model_name, version=cfg.model_version)
        log(f"model {model.name}:{model.version} exists, reused")
    except ResourceNotFoundError:
        model = client.models.create_or_update(plan.model)
        log(f"model {model.name}:{model.version} registered")


def ensure_endpoint(client: MLClient, plan: DeploymentPlan, *, log: Log = _quiet) -> OnlineEndpoint:
    """The endpoint, created (with no traffic) if missing; an existing one is returned untouched.

    Its system-assigned identity (``identity.principal_id``) is what needs ``AcrPull`` when the image
    lives in a registry other than the workspace's.
    """
    cfg = plan.config
    existing = get_endpoint(client, cfg.endpoint_name)
    if existing is not None:
        log(f"endpoint {cfg.endpoint_name}: exists, traffic {dict(existing.traffic or {})}")
        return existing
    log(f"endpoint {cfg.endpoint_name}: creating (auth_mode={cfg.auth_mode})")
    created: OnlineEndpoint = client.online_endpoints.begin_create_or_update(plan.endpoint).result()
    return created


def check_existing(client: MLClient, cfg: AzureMLConfig) -> OnlineEndpoint | None:
    """The existing endpoint (or None) once :func:`~infra.azureml.plan.existing_conflicts` found nothing;
    raises ``ValueError`` listing every conflict otherwise. Calls nothing that writes."""
    endpoint = get_endpoint(client, cfg.endpoint_name)
    deployment = None
    isolation = None
    if cfg.egress_public_network_access is not None:
        if endpoint is not None:
            try:
                deployment = client.online_deployments.get(cfg.deployment_name, cfg.endpoint_name)
            except ResourceNotFoundError:
                deployment = None
        network = getattr(client.workspaces.get(cfg.workspace), "managed_network", None)
        isolation = getattr(network, "isolation_mode", None)
    problems = existing_conflicts(cfg, endpoint, deployment, isolation)
    if problems:
        raise ValueError("; ".join(problems))
    return endpoint


def ensure_autoscale(
    client: MLClient, cfg: AzureMLConfig, location: str, monitor: Any = None, *, log: Log = _quiet
) -> Any:
    """Create or update the deployment's Azure Monitor autoscale setting; None without ``autoscaling``.

    ``monitor`` defaults to a ``MonitorManagementClient`` on the ``MLClient``'s own credential.
    """
    setting = build_autoscale(cfg, location)
    if setting is None:
        return None
    if monitor is None:
        monitor = make_monitor_client(cfg, client._credential)
    scale = cfg.autoscaling
    assert scale is not None
    log(
        f"autoscale {autoscale_name(cfg)}: {scale.min_instances}-{scale.max_instances} instances on "
        f"{scale.metric_for(cfg.instance_type)} (out > {scale.target_value}, in < {scale.scale_in_threshold})"
    )
    return monitor.autoscale_settings.create_or_update(cfg.resource_group, autoscale_name(cfg), setting)


def deploy(client: MLClient, plan: DeploymentPlan, *, log: Log = _quiet, monitor: Any = None) -> DeployResult:
    """Create/update environment, model, endpoint, deployment, traffic and autoscale, waiting for each LRO.

    Conflicts with what exists and the target traffic are checked before anything is created. Raises the
    SDK's ``HttpResponseError`` (e.g. quota, image pull or probe failures) unchanged; traffic is only moved
    once the deployment reports success, and the autoscale setting is written after that.
    """
    cfg = plan.config
    existing = check_existing(client, cfg)
    live = dict(existing.traffic or {}) if existing is not None else {}
    compute_traffic(live, cfg.deployment_name, cfg.traffic_percent)  # a bad split fails before anything is created
    ensure_assets(client, plan, log=log)
    endpoint = ensure_endpoint(client, plan, log=log)
    traffic = compute_traffic(dict(endpoint.traffic or {}), cfg.deployment_name, cfg.traffic_percent)
    most = cfg.autoscaling.max_instances if cfg.autoscaling else cfg.instance_count
    count = retained_instance_count(cfg, live_instance_count(client, cfg))
    kept = "" if count == cfg.instance_count else f" (autoscaled: the live count; instance_count {cfg.instance_count})"
    log(
        f"deployment {cfg.deployment_name}: {count} x {cfg.instance_type}{kept} "
        f"(quota for up to {quota_instances(cfg.instance_type, most)} instances of its VM family; "
        f"waits for readiness, up to ~{cfg.model_load_timeout_s}s of model load)"
    )
    client.online_deployments.begin_create_or_update(with_instance_count(plan, count).deployment).result()
    endpoint = client.online_endpoints.get(cfg.endpoint_name)
    endpoint.traffic = traffic
    endpoint = client.online_endpoints.begin_create_or_update(endpoint).result()
    log(f"traffic {traffic}")
    ensure_autoscale(client, cfg, endpoint.location, monitor, log=log)
    return DeployResult(cfg.endpoint_name, cfg.deployment_name, endpoint.scoring_uri, traffic)


def _text(value: Any) -> Any:
    """Plain value of the SDK's string enums (provisioning states)."""
    return getattr(value, "value", value)


def status(client: MLClient, target: AzureMLTarget) -> dict[str, Any]:
    """Endpoint state and its deployments as plain JSON-able data; ``{"endpoint": None}`` if absent."""
    endpoint = get_endpoint(client, target.endpoint_name)
    if endpoint is None:
        return {"endpoint": None, "deployments": []}
    deployments = [
        {
            "name": d.name,
            "provisioning_state": _text(d.provisioning_state),
            "instance_type": d.instance_type,
            "instance_count": d.instance_count,
        }
        for d in client.online_deployments.list(target.endpoint_name)
    ]
    return {
        "endpoint": {
            "name": endpoint.name,
            "provisioning_state": _text(endpoint.provisioning_state),
            "auth_mode": endpoint.auth_mode,
            "scoring_uri": endpoint.scoring_uri,
            "traffic": dict(endpoint.traffic or {}),
        },
        "deployments": deployments,
    }


def logs(client: MLClient, target: AzureMLTarget, lines: int = 100) -> str:
    """Last ``lines`` of the deployment's container log (start-up problems, probe failures)."""
    return str(client.online_deployments.get_logs(target.deployment_name, target.endpoint_name, lines))


def invoke(client: MLClient, target: AzureMLTarget, payload: dict[str, Any], deployment: str | None = None) -> Any:
    """POST ``payload`` to the endpoint's scoring URI (forwarded to the container's scoring route).

    The SDK picks the credential from the endpoint's auth mode (key, AML token, or AAD token).
    ``deployment`` pins one deployment (``azureml-model-deployment`` header), e.g. one with 0% traffic.
    Returns the decoded JSON response.
    """
    with tempfile.TemporaryDirectory() as tmp:
        request_file = Path(tmp) / "request.json"
        request_file.write_text(json.dumps(payload), encoding="utf-8")
        text = client.online_endpoints.invoke(
            endpoint_name=target.endpoint_name, request_file=str(request_file), deployment_name=deployment
        )
    return json.loads(text)


def delete(
    client: MLClient, target: AzureMLTarget, *, deployment_only: bool = False, log: Log = _quiet, monitor: Any = None
) -> bool:
    """Delete the endpoint (with all its deployments), or only ``target.deployment_name``, after the autoscale
    settings that target them (``monitor`` defaults to a ``MonitorManagementClient`` on the client's credential).

    Registered environment/model versions are kept (they are cheap and may be shared); archive them with
    ``az ml environment archive`` / ``az ml model archive`` if wanted. Returns False when nothing existed.
    """
    if monitor is None:
        monitor = make_monitor_client(target, client._credential)
    delete_autoscale_settings(monitor, target, deployment_only=deployment_only, log=log)
    try:
        if deployment_only:
            log(f"deleting deployment {target.deployment_name} of {target.endpoint_name}")
            client.online_deployments.begin_delete(target.deployment_name, target.endpoint_name).result()
        else:
            log(f"deleting endpoint {target.endpoint_name} and its deployments")
            client.online_endpoints.begin_delete(name=target.endpoint_name).result()
    except ResourceNotFoundError:
        log("not found; nothing to delete")
        return False
    return True
