"""Control-plane calls through ``MLClient``: deploy, status, logs, invoke, delete.

Contracts:

* Every function takes an ``MLClient`` (tests pass one whose HTTP is mocked); :func:`make_client` builds
  the real one with ``DefaultAzureCredential`` (az login, managed identity, workload identity, ...).
  Nothing here reads or prints keys or tokens: ``invoke`` lets the SDK fetch the endpoint key/token.
* :func:`deploy` is idempotent and safe for blue/green: environment + model versions are registered
  once (versions are immutable: a changed image needs a new environment version), an existing
  endpoint is not re-created
  (its traffic stays until the new deployment is healthy), the deployment is created or updated and
  waited on, then traffic moves with :func:`~infra.azureml.plan.compute_traffic`.
* :func:`delete` treats "not found" as done and returns whether something was deleted.
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

from .config import AzureMLTarget
from .plan import DeploymentPlan, compute_traffic

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


def deploy(client: MLClient, plan: DeploymentPlan, *, log: Log = _quiet) -> DeployResult:
    """Create/update environment, model, endpoint, deployment and traffic, waiting for each LRO.

    The target traffic is computed (and validated) before anything is created. Raises the SDK's
    ``HttpResponseError`` (e.g. quota, image pull or probe failures) unchanged; traffic is only moved
    once the deployment reports success.
    """
    cfg = plan.config
    ensure_assets(client, plan, log=log)
    endpoint = ensure_endpoint(client, plan, log=log)
    traffic = compute_traffic(dict(endpoint.traffic or {}), cfg.deployment_name, cfg.traffic_percent)
    log(
        f"deployment {cfg.deployment_name}: {cfg.instance_count} x {cfg.instance_type} "
        f"(waits for readiness; up to ~{cfg.model_load_timeout_s}s of model load)"
    )
    client.online_deployments.begin_create_or_update(plan.deployment).result()
    endpoint = client.online_endpoints.get(cfg.endpoint_name)
    endpoint.traffic = traffic
    endpoint = client.online_endpoints.begin_create_or_update(endpoint).result()
    log(f"traffic {traffic}")
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


def delete(client: MLClient, target: AzureMLTarget, *, deployment_only: bool = False, log: Log = _quiet) -> bool:
    """Delete the endpoint (with all its deployments), or only ``target.deployment_name``.

    Registered environment/model versions are kept (they are cheap and may be shared); archive them with
    ``az ml environment archive`` / ``az ml model archive`` if wanted. Returns False when nothing existed.
    """
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
