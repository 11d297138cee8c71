"""Calls through ``aiplatform_v1.ModelServiceClient`` / ``EndpointServiceClient``: deploy, traffic, scale,
undeploy, status, delete.

Contracts:

* Every function takes a :class:`Clients` pair; :func:`make_clients` builds the real ones on the regional API host
  (Application Default Credentials unless ``credentials`` is given; tests pass fakes, or anonymous credentials, a
  local ``api_endpoint`` and the REST transport). Requests are the messages built by :mod:`~infra.vertexai.plan`.
* :func:`deploy` is idempotent and blue/green-safe: the target split is checked before anything is created; an
  existing model id is reused only if it holds the same image and artifacts (model ids are the version: a new
  image needs a new ``model_id``); an existing endpoint is kept (its traffic stays on the live models until the new
  one is deployed); a deployed model of the same display name and model is not deployed twice. Resource names are
  compared from ``locations/`` on (:func:`same_resource`): Vertex answers with the project *number* where the
  config names the project by id.
* An existing endpoint keeps its kind: a config asking for a dedicated endpoint where a shared one exists (or the
  reverse) is refused before anything is created.
* Blue/green: ``deploy`` green with ``traffic_percent`` < 100, :func:`set_traffic` green to 100, then
  :func:`undeploy` blue (refused while it still carries traffic, unless ``force``).
* :func:`delete` undeploys every deployed model, deletes the endpoint, then the models it served; "not found" is done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.api_core.exceptions import FailedPrecondition, NotFound
from google.cloud import aiplatform_v1 as v1

from . import plan
from .config import VertexConfig, VertexTarget

Log = Callable[[str], None]
LRO_TIMEOUT_S = 3600.0
DEPLOY_WAIT_MARGIN_S = 900.0  # DeployModel is waited for this much past the model's deployment timeout


def _quiet(_: str) -> None:
    """Default logger: say nothing."""


@dataclass(frozen=True)
class Clients:
    models: Any  # aiplatform_v1.ModelServiceClient (or a fake with the same methods)
    endpoints: Any  # aiplatform_v1.EndpointServiceClient


@dataclass(frozen=True)
class DeployResult:
    endpoint: str
    deployed_model_id: str
    model: str
    traffic: dict[str, int]
    dedicated_endpoint_dns: str | None = None  # a dedicated endpoint's host: where its predictions go


def same_resource(name: str, other: str) -> bool:
    """Whether two resource names (``projects/P/locations/L/...``, a model's perhaps with ``@version``) name one
    resource: the project may be written as its id or its number (Vertex answers with the number)."""

    def tail(value: str) -> str:
        return value.split("@")[0].partition("/locations/")[2]

    return tail(name) == tail(other)


def make_clients(
    target: VertexTarget, credentials: Any = None, *, api_endpoint: str | None = None, transport: str | None = None
) -> Clients:
    """Clients on the target region's API host (Vertex AI is regional: the global host refuses these calls)."""
    options = {"api_endpoint": api_endpoint or target.api_endpoint}
    return Clients(
        models=v1.ModelServiceClient(credentials=credentials, client_options=options, transport=transport),
        endpoints=v1.EndpointServiceClient(credentials=credentials, client_options=options, transport=transport),
    )


def get_endpoint(clients: Clients, target: VertexTarget) -> v1.Endpoint | None:
    try:
        endpoint: v1.Endpoint = clients.endpoints.get_endpoint(request=v1.GetEndpointRequest(name=target.endpoint_name))
    except NotFound:
        return None
    return endpoint


def ensure_model(clients: Clients, cfg: VertexConfig, *, log: Log = _quiet) -> str:
    """Upload the model unless ``model_id`` exists with the same image and artifacts; returns its resource name."""
    try:
        model = clients.models.get_model(request=v1.GetModelRequest(name=cfg.model_name))
    except NotFound:
        log(f"model {cfg.model_id}: uploading ({cfg.image})")
        response = clients.models.upload_model(request=plan.upload_request(cfg)).result(timeout=LRO_TIMEOUT_S)
        return str(response.model) or cfg.model_name
    if model.container_spec.image_uri != cfg.image or model.artifact_uri != (cfg.artifact_uri or ""):
        raise ValueError(
            f"model {cfg.model_id} already holds image {model.container_spec.image_uri} "
            f"(artifacts {model.artifact_uri or 'none'}); upload the new one under a new model_id"
        )
    log(f"model {cfg.model_id}: exists (same image), reused")
    return cfg.model_name


def check_endpoint_kind(existing: v1.Endpoint | None, cfg: VertexConfig) -> None:
    """An endpoint is dedicated or shared from its creation on: a config that wants the other kind is an error."""
    if existing is not None and existing.dedicated_endpoint_enabled != cfg.dedicated_endpoint:
        kinds = ("shared", "dedicated")
        raise ValueError(
            f"endpoint {cfg.endpoint_id} is {kinds[existing.dedicated_endpoint_enabled]}, the config asks for a "
            f"{kinds[cfg.dedicated_endpoint]} one; an endpoint keeps its kind: use another endpoint_id"
        )


def ensure_endpoint(clients: Clients, cfg: VertexConfig, *, log: Log = _quiet) -> v1.Endpoint:
    existing = get_endpoint(clients, cfg)
    check_endpoint_kind(existing, cfg)
    if existing is not None:
        log(f"endpoint {cfg.endpoint_id}: exists, traffic {dict(existing.traffic_split)}")
        return existing
    log(f"endpoint {cfg.endpoint_id}: creating")
    request = plan.create_endpoint_request(cfg, cfg.labels)
    created: v1.Endpoint = clients.endpoints.create_endpoint(request=request).result(timeout=LRO_TIMEOUT_S)
    return created


def _by_name(endpoint: v1.Endpoint | None, display_name: str) -> v1.DeployedModel | None:
    for deployed in endpoint.deployed_models if endpoint is not None else []:
        if deployed.display_name == display_name:
            return deployed
    return None


def deploy(clients: Clients, cfg: VertexConfig, *, log: Log = _quiet) -> DeployResult:
    """Upload model, create endpoint (if missing), deploy the model with its share of traffic; waits on each LRO."""
    existing = get_endpoint(clients, cfg)
    live = dict(existing.traffic_split) if existing is not None else {}
    check_endpoint_kind(existing, cfg)
    same = _by_name(existing, cfg.deployed_model_name)
    if same is not None and not same_resource(same.model, cfg.model_name):
        raise ValueError(
            f"deployed model {cfg.deployed_model_name!r} serves {same.model}; deploy the new model under another "
            "deployed_model_name (blue/green), then move traffic and undeploy the old one"
        )
    plan.compute_traffic(live, same.id if same else plan.NEW_DEPLOYED_MODEL, cfg.traffic_percent)  # fail early
    model = ensure_model(clients, cfg, log=log)
    endpoint = ensure_endpoint(clients, cfg, log=log)
    if same is not None:
        log(f"deployed model {cfg.deployed_model_name} ({same.id}) already serves {cfg.model_id}")
        traffic = plan.compute_traffic(dict(endpoint.traffic_split), same.id, cfg.traffic_percent)
        if traffic != dict(endpoint.traffic_split):
            clients.endpoints.update_endpoint(request=plan.traffic_request(cfg, traffic))
        return DeployResult(cfg.endpoint_name, same.id, model, traffic, endpoint.dedicated_endpoint_dns or None)
    split = plan.compute_traffic(dict(endpoint.traffic_split), plan.NEW_DEPLOYED_MODEL, cfg.traffic_percent)
    log(
        f"deploying {cfg.deployed_model_name}: {cfg.min_replica_count}-{cfg.max_replicas} x {cfg.machine_type}"
        + (f" + {cfg.gpu_count} x {cfg.accelerator_type}" if cfg.accelerator_type else "")
        + f", traffic {split}"
    )
    request = plan.deploy_request(cfg, split)
    wait = max(LRO_TIMEOUT_S, cfg.deployment_timeout_s + DEPLOY_WAIT_MARGIN_S)
    response = clients.endpoints.deploy_model(request=request).result(timeout=wait)
    deployed_id = str(response.deployed_model.id)
    traffic = {(deployed_id if k == plan.NEW_DEPLOYED_MODEL else k): v for k, v in split.items()}
    return DeployResult(cfg.endpoint_name, deployed_id, model, traffic, endpoint.dedicated_endpoint_dns or None)


def _require_deployed(clients: Clients, target: VertexTarget, name: str) -> tuple[v1.Endpoint, v1.DeployedModel]:
    endpoint = get_endpoint(clients, target)
    deployed = _by_name(endpoint, name)
    if endpoint is None or deployed is None:
        raise ValueError(f"no deployed model named {name!r} on endpoint {target.endpoint_id}")
    return endpoint, deployed


def set_traffic(clients: Clients, target: VertexTarget, percent: int, *, log: Log = _quiet) -> dict[str, int]:
    """Give ``target.deployed_model_name`` ``percent`` of the traffic; the others share the rest by ratio."""
    endpoint, deployed = _require_deployed(clients, target, target.deployed_model_name)
    traffic = plan.compute_traffic(dict(endpoint.traffic_split), deployed.id, percent)
    log(f"traffic {traffic}")
    clients.endpoints.update_endpoint(request=plan.traffic_request(target, traffic))
    return traffic


def scale(clients: Clients, cfg: VertexConfig, *, log: Log = _quiet) -> str:
    """Apply the config's replica bounds and autoscaling targets to the deployed model in place."""
    _, deployed = _require_deployed(clients, cfg, cfg.deployed_model_name)
    log(f"scaling {cfg.deployed_model_name} ({deployed.id}) to {cfg.min_replica_count}-{cfg.max_replicas} replicas")
    clients.endpoints.mutate_deployed_model(request=plan.scale_request(cfg, deployed.id, cfg)).result(
        timeout=LRO_TIMEOUT_S
    )
    return str(deployed.id)


def _undeploy(clients: Clients, target: VertexTarget, endpoint: v1.Endpoint, deployed_id: str, log: Log) -> None:
    remaining = [d.id for d in endpoint.deployed_models if d.id != deployed_id]
    traffic = plan.traffic_without(dict(endpoint.traffic_split), deployed_id, remaining)
    log(f"undeploying {deployed_id}; traffic {traffic}")
    request = plan.undeploy_request(target, deployed_id, traffic)
    clients.endpoints.undeploy_model(request=request).result(timeout=LRO_TIMEOUT_S)


def undeploy(clients: Clients, target: VertexTarget, *, force: bool = False, log: Log = _quiet) -> str:
    """Undeploy ``target.deployed_model_name``; refused while it carries traffic and others exist, unless ``force``
    (its share then goes to the others in proportion)."""
    endpoint, deployed = _require_deployed(clients, target, target.deployed_model_name)
    share = dict(endpoint.traffic_split).get(deployed.id, 0)
    if share and len(endpoint.deployed_models) > 1 and not force:
        raise ValueError(f"{target.deployed_model_name} still serves {share}% of traffic; move it first (or --force)")
    _undeploy(clients, target, endpoint, deployed.id, log)
    return str(deployed.id)


def status(clients: Clients, target: VertexTarget) -> dict[str, Any]:
    endpoint = get_endpoint(clients, target)
    if endpoint is None:
        return {"endpoint": None}
    return {
        "endpoint": endpoint.name,
        "dedicated_endpoint_dns": endpoint.dedicated_endpoint_dns or None,
        "traffic": dict(endpoint.traffic_split),
        "deployed_models": [
            {
                "id": d.id,
                "display_name": d.display_name,
                "model": d.model,
                "machine_type": d.dedicated_resources.machine_spec.machine_type,
                "min_replica_count": d.dedicated_resources.min_replica_count,
                "max_replica_count": d.dedicated_resources.max_replica_count,
            }
            for d in endpoint.deployed_models
        ],
    }


def delete(clients: Clients, target: VertexTarget, *, keep_models: bool = False, log: Log = _quiet) -> bool:
    """Undeploy all (least traffic first), delete the endpoint, then the models it served (kept with
    ``keep_models``, or when still deployed elsewhere). Returns False when the endpoint did not exist."""
    endpoint = get_endpoint(clients, target)
    if endpoint is None:
        log("endpoint not found; nothing to delete")
        return False
    models = sorted({d.model.split("@")[0] for d in endpoint.deployed_models})
    while endpoint.deployed_models:
        split = dict(endpoint.traffic_split)
        victim = min(endpoint.deployed_models, key=lambda d: split.get(d.id, 0))
        _undeploy(clients, target, endpoint, victim.id, log)
        endpoint = get_endpoint(clients, target) or v1.Endpoint()
    log(f"deleting endpoint {target.endpoint_id}")
    try:
        clients.endpoints.delete_endpoint(request=v1.DeleteEndpointRequest(name=target.endpoint_name)).result(
            timeout=LRO_TIMEOUT_S
        )
    except NotFound:
        pass
    for name in [] if keep_models else models:
        log(f"deleting model {name}")
        try:
            clients.models.delete_model(request=v1.DeleteModelRequest(name=name)).result(timeout=LRO_TIMEOUT_S)
        except NotFound:
            pass
        except FailedPrecondition as exc:  # still deployed on another endpoint
            log(f"kept model {name}: {exc.message}")
    return True
