"""Pure builders: :class:`AzureMLConfig` -> ``azure-ai-ml`` entities -> REST bodies. No network, no credential.

Contracts:

* The Environment is the container image plus ``inference_config`` (liveness, readiness and scoring
  routes on the server's port): Azure ML forwards the endpoint's public ``/score`` to ``scoring_route``.
* The deployment references environment and model by full ARM asset id, so the REST body built here
  is byte-for-byte what ``MLClient`` sends (it only resolves short ``azureml:`` references to these ids).
* Probes are sized for model load: readiness polls from early on and keeps trying for the whole
  ``model_load_timeout_s``; a liveness probe on a model-gated route (``/ping``) starts only after
  ``model_load_timeout_s``, so a slow load is not killed but a hung server is restarted.
* :func:`rest_bodies` uses the SDK's own serializers (``_to_rest_object``) -- the bodies ``MLClient``
  PUTs -- so dry runs and tests check exactly what goes on the wire.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from azure.ai.ml.entities import (
    DefaultScaleSettings,
    Environment,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    Model,
    OnlineRequestSettings,
    ProbeSettings,
)

from .config import AzureMLConfig

# Routes the server answers 200 on as soon as it runs (before the model is loaded).
ROUTES_UP_BEFORE_MODEL_LOAD = frozenset({"/health/live"})
PROBE_INITIAL_DELAY_S = 10
LIVENESS_FAILURE_THRESHOLD = 3
SHORT_MODEL_REF_RE = re.compile(r"^azureml:(?P<name>[^:/@]+):(?P<version>[^:/@]+)$")
DESCRIPTION = "Jina/OpenAI-compatible embedding service (BYOC image)."


@dataclass(frozen=True)
class DeploymentPlan:
    """The entities ``apply.deploy`` creates, in order: environment, model (optional), endpoint, deployment."""

    config: AzureMLConfig
    environment: Environment
    model: Model | None
    model_id: str | None
    endpoint: ManagedOnlineEndpoint
    deployment: ManagedOnlineDeployment


def environment_id(cfg: AzureMLConfig) -> str:
    return f"{cfg.workspace_arm_id()}/environments/{cfg.environment_name}/versions/{cfg.environment_version}"


def model_id(cfg: AzureMLConfig) -> str | None:
    """ARM/registry id of the model the deployment mounts, or None (image's embedded default model)."""
    if cfg.model_path:
        return f"{cfg.workspace_arm_id()}/models/{cfg.model_name}/versions/{cfg.model_version}"
    ref = cfg.model_ref
    if not ref:
        return None
    if ref.startswith(("/subscriptions/", "azureml://registries/")):
        return ref
    match = SHORT_MODEL_REF_RE.match(ref)
    if not match:
        raise ValueError(f"model_ref {ref!r}: use azureml:NAME:VERSION, an ARM id or an azureml://registries/ id")
    return f"{cfg.workspace_arm_id()}/models/{match['name']}/versions/{match['version']}"


def build_environment(cfg: AzureMLConfig) -> Environment:
    """The image as an Environment whose ``inference_config`` tells Azure ML the container's routes."""

    def route(path: str) -> dict[str, Any]:
        return {"path": path, "port": cfg.port}

    return Environment(
        name=cfg.environment_name,
        version=cfg.environment_version,
        image=cfg.image,
        description=DESCRIPTION,
        tags=dict(cfg.tags),
        inference_config={
            "liveness_route": route(cfg.liveness_route),
            "readiness_route": route(cfg.readiness_route),
            "scoring_route": route(cfg.scoring_route),
        },
    )


def build_model(cfg: AzureMLConfig) -> Model | None:
    """A custom_model asset for ``model_path``; None when the deployment uses ``model_ref`` or no model."""
    if not cfg.model_path:
        return None
    return Model(
        name=cfg.model_name,
        version=cfg.model_version,
        path=cfg.model_path,
        type="custom_model",
        description="Embedding model folder; mounted under AZUREML_MODEL_DIR.",
        tags=dict(cfg.tags),
    )


def build_endpoint(cfg: AzureMLConfig, traffic: dict[str, int] | None = None) -> ManagedOnlineEndpoint:
    """The endpoint. ``traffic`` is None at creation (no deployment exists yet) and set by the traffic step."""
    return ManagedOnlineEndpoint(
        name=cfg.endpoint_name,
        auth_mode=cfg.auth_mode,
        description=DESCRIPTION,
        tags=dict(cfg.tags),
        public_network_access=cfg.public_network_access,
        traffic=dict(traffic) if traffic is not None else None,
    )


def probe_settings(cfg: AzureMLConfig) -> tuple[ProbeSettings, ProbeSettings]:
    """``(liveness, readiness)`` sized for ``model_load_timeout_s`` (see module docstring)."""
    period = cfg.probe_period_s
    readiness = ProbeSettings(
        initial_delay=PROBE_INITIAL_DELAY_S,
        period=period,
        timeout=cfg.probe_timeout_s,
        success_threshold=1,
        failure_threshold=max(LIVENESS_FAILURE_THRESHOLD, math.ceil(cfg.model_load_timeout_s / period)),
    )
    gated = cfg.liveness_route not in ROUTES_UP_BEFORE_MODEL_LOAD
    liveness = ProbeSettings(
        initial_delay=cfg.model_load_timeout_s if gated else PROBE_INITIAL_DELAY_S,
        period=period,
        timeout=cfg.probe_timeout_s,
        success_threshold=1,  # Kubernetes requires 1 for liveness
        failure_threshold=LIVENESS_FAILURE_THRESHOLD,
    )
    return liveness, readiness


def build_deployment(cfg: AzureMLConfig) -> ManagedOnlineDeployment:
    """The managed deployment: image environment, optional model mount, SKU, request settings, probes."""
    liveness, readiness = probe_settings(cfg)
    return ManagedOnlineDeployment(
        name=cfg.deployment_name,
        endpoint_name=cfg.endpoint_name,
        description=DESCRIPTION,
        tags=dict(cfg.tags),
        model=model_id(cfg),
        environment=environment_id(cfg),
        instance_type=cfg.instance_type,
        instance_count=cfg.instance_count,
        scale_settings=DefaultScaleSettings(),  # fixed instance_count; autoscale via Azure Monitor if wanted
        request_settings=OnlineRequestSettings(
            request_timeout_ms=cfg.request_timeout_ms,
            max_concurrent_requests_per_instance=cfg.max_concurrent_requests_per_instance,
        ),
        liveness_probe=liveness,
        readiness_probe=readiness,
        environment_variables=dict(cfg.env),
        app_insights_enabled=cfg.app_insights_enabled,
        egress_public_network_access=cfg.egress_public_network_access,
    )


def build_plan(cfg: AzureMLConfig) -> DeploymentPlan:
    """All entities for ``cfg``; raises ``ValueError`` on an unusable ``model_ref``."""
    return DeploymentPlan(
        config=cfg,
        environment=build_environment(cfg),
        model=build_model(cfg),
        model_id=model_id(cfg),
        endpoint=build_endpoint(cfg),
        deployment=build_deployment(cfg),
    )


def compute_traffic(current: dict[str, int], deployment: str, percent: int) -> dict[str, int]:
    """Endpoint traffic after giving ``deployment`` ``percent``; the rest keeps the other deployments' ratios.

    Azure requires the shares to add up to 100 (or all be 0). With ``percent < 100`` another deployment
    must already carry traffic, else ``ValueError``. Largest-remainder rounding keeps the sum exact.
    """
    others = {name: share for name, share in current.items() if name != deployment and share > 0}
    rest = 100 - percent
    if rest == 0 or not others:
        if rest and percent:
            raise ValueError(f"traffic_percent={percent} needs another deployment with traffic on the endpoint")
        return {**{name: 0 for name in others}, deployment: percent}
    total = sum(others.values())
    exact = {name: rest * share / total for name, share in others.items()}
    result = {name: math.floor(value) for name, value in exact.items()}
    leftover = rest - sum(result.values())
    for name in sorted(exact, key=lambda n: exact[n] - result[n], reverse=True)[:leftover]:
        result[name] += 1
    result[deployment] = percent
    return result


def _body(rest_object: Any) -> dict[str, Any]:
    """JSON body of an SDK REST model (msrest ``serialize`` or the newer mapping-based ``as_dict``)."""
    if hasattr(rest_object, "serialize"):
        return dict(rest_object.serialize())
    return dict(rest_object.as_dict())


def rest_bodies(plan: DeploymentPlan, location: str, traffic: dict[str, int] | None = None) -> dict[str, Any]:
    """``{"environment", "model", "endpoint", "deployment", "traffic"}`` -> the PUT bodies ``apply.deploy`` sends.

    ``model`` is None without a model to register. ``traffic`` defaults to ``{deployment: traffic_percent}``
    (a new endpoint). Uses the SDK's private ``_to_rest_*`` serializers on purpose: they are what it sends.
    """
    cfg = plan.config
    traffic = traffic if traffic is not None else {cfg.deployment_name: cfg.traffic_percent}
    routed = build_endpoint(cfg, traffic)
    return {
        "environment": _body(plan.environment._to_rest_object()),
        "model": _body(plan.model._to_rest_object()) if plan.model is not None else None,
        "endpoint": _body(plan.endpoint._to_rest_online_endpoint(location)),
        "deployment": _body(plan.deployment._to_rest_object(location=location)),
        "traffic": _body(routed._to_rest_online_endpoint(location)),
    }


def yaml_specs(plan: DeploymentPlan) -> dict[str, dict[str, Any]]:
    """``{"environment", "model"?, "endpoint", "deployment"}`` -> Azure ML CLI v2 YAML documents (as dicts).

    Produced by the SDK's own marshmallow schemas, so ``load_*`` / ``az ml ... create -f`` accept them;
    an alternative to ``deploy`` for teams standardised on ``az ml``.
    """
    import json

    entities: dict[str, Any] = {"environment": plan.environment, "model": plan.model}
    entities.update(endpoint=plan.endpoint, deployment=plan.deployment)
    # json round trip: plain dicts/lists instead of the schema's OrderedDicts.
    return {key: json.loads(json.dumps(e._to_dict())) for key, e in entities.items() if e is not None}


def resource_paths(cfg: AzureMLConfig) -> dict[str, str]:
    """ARM resource paths (without api-version) of what ``deploy`` PUTs, keyed like :func:`rest_bodies`."""
    ws = cfg.workspace_arm_id()
    endpoint = f"{ws}/onlineEndpoints/{cfg.endpoint_name}"
    return {
        "environment": environment_id(cfg),
        "model": f"{ws}/models/{cfg.model_name}/versions/{cfg.model_version}",
        "endpoint": endpoint,
        "deployment": f"{endpoint}/deployments/{cfg.deployment_name}",
        "traffic": endpoint,
    }
