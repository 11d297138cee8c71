"""Pure builders: :class:`AzureMLConfig` -> ``azure-ai-ml`` entities -> REST bodies. No network, no credential.

Contracts:

* The Environment is the container image plus ``inference_config`` (liveness, readiness and scoring
  routes on the server's port): Azure ML forwards the endpoint's public ``/score`` to ``scoring_route``.
* The deployment references environment and model by full ARM asset id, so the REST body built here
  is byte-for-byte what ``MLClient`` sends (it only resolves short ``azureml:`` references to these ids).
  A model path given as a short datastore URI (``azureml://datastores/<ds>/paths/<p>``) is expanded here
  to the long ``azureml://subscriptions/<sub>/resourcegroups/<rg>/workspaces/<ws>/datastores/...`` form
  with the SDK's own ``resolve_short_datastore_url``, as ``MLClient.models.create_or_update`` does before it
  PUTs (``main.bicep`` builds the same string).
* ``egress_public_network_access`` is sent only when configured (Azure says not to set it in workspaces
  with a managed virtual network, and it cannot change after creation).
* A local ``model_path`` that is a model set's root (several model folders, or a ``models.json`` manifest) is
  registered as one folder, and ``MODEL_DIR`` names its mount so that the server serves the set
  (:func:`container_env`); a set the server would refuse is refused before anything is sent.
* Autoscaling is an Azure Monitor autoscale setting (``Microsoft.Insights/autoscalesettings``) whose
  target is the deployment's ARM id; built with azure-mgmt-monitor's models and serializer (the body
  ``MonitorManagementClient`` PUTs), imported only when ``autoscaling`` is configured.
* :func:`existing_conflicts` compares the config with what already exists (endpoint auth mode and public
  access, deployment egress, workspace managed network): differences that ``deploy`` cannot apply in place
  are reported before anything is created, instead of being silently ignored.
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
from pathlib import Path
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

from ..model_sets import set_models
from .config import AzureMLConfig, AzureMLTarget

AZUREML_MODELS = "/var/azureml-app/azureml-models"  # AZUREML_MODEL_DIR's parent on a managed online deployment
# Routes the server answers 200 on as soon as it runs (before the model is loaded).
ROUTES_UP_BEFORE_MODEL_LOAD = frozenset({"/health/live"})
PROBE_INITIAL_DELAY_S = 10
LIVENESS_FAILURE_THRESHOLD = 3
SHORT_MODEL_REF_RE = re.compile(r"^azureml:(?P<name>[^:/@]+):(?P<version>[^:/@]+)$")
DESCRIPTION = "Jina/OpenAI-compatible embedding service (BYOC image)."
AUTOSCALE_PROFILE = "metric-based"
# Workspace managed-network isolation modes (REST AllowInternetOutbound, SDK allow_internet_outbound, ...) under
# which egress_public_network_access must not be set, compared lower case without '_'.
MANAGED_NETWORK_MODES = frozenset({"allowinternetoutbound", "allowonlyapprovedoutbound"})


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


def model_uri(cfg: AzureMLConfig) -> str | None:
    """``model_path`` as ``MLClient`` sends it: short datastore URIs expanded to the workspace's long form.

    Local folders and other URIs (https://, azureml://jobs/...) are returned unchanged (the SDK uploads a
    folder and then sends the long URI of the upload, which a dry run cannot know).
    """
    if not cfg.model_path:
        return None
    from azure.ai.ml._scope_dependent_operations import OperationScope
    from azure.ai.ml._utils.utils import resolve_short_datastore_url

    scope = OperationScope(cfg.subscription_id, cfg.resource_group, cfg.workspace)
    return resolve_short_datastore_url(cfg.model_path, scope)


def build_model(cfg: AzureMLConfig) -> Model | None:
    """A custom_model asset for ``model_path``; None when the deployment uses ``model_ref`` or no model."""
    if not cfg.model_path:
        return None
    return Model(
        name=cfg.model_name,
        version=cfg.model_version,
        path=model_uri(cfg),
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
        environment_variables=container_env(cfg),
        app_insights_enabled=cfg.app_insights_enabled,
        egress_public_network_access=cfg.egress_public_network_access,  # None: not sent
    )


def set_mount(cfg: AzureMLConfig) -> str | None:
    """Where the deployment finds ``model_path`` when it is a local model set's root (several model folders, or a
    ``models.json`` manifest; None otherwise): Azure ML mounts a registered folder as ``<basename>`` under
    ``AZUREML_MODEL_DIR`` (``/var/azureml-app/azureml-models/<name>/<version>``). ``ValueError`` for a set the
    server would refuse."""
    if not cfg.model_path or "://" in cfg.model_path:
        return None
    folder = Path(cfg.model_path).expanduser()
    if not set_models(folder):
        return None
    return f"{AZUREML_MODELS}/{cfg.model_name}/{cfg.model_version}/{folder.resolve().name}"


def container_env(cfg: AzureMLConfig) -> dict[str, str]:
    """``env``, and for a local model set ``MODEL_DIR`` naming its mount: the server searches ``AZUREML_MODEL_DIR``
    for one model folder, while ``MODEL_DIR`` (winning over it) serves the set. A ``MODEL_DIR`` in ``env`` wins."""
    mount = set_mount(cfg)
    return {**({"MODEL_DIR": mount} if mount else {}), **cfg.env}


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


def autoscale_name(cfg: AzureMLTarget) -> str:
    """Name of the deployment's autoscale setting (unique in the resource group: endpoint names are regional)."""
    return f"{cfg.endpoint_name}-{cfg.deployment_name}-autoscale"


def autoscale_id(cfg: AzureMLTarget) -> str:
    return (
        f"/subscriptions/{cfg.subscription_id}/resourceGroups/{cfg.resource_group}"
        f"/providers/Microsoft.Insights/autoscalesettings/{autoscale_name(cfg)}"
    )


def deployment_id(cfg: AzureMLTarget) -> str:
    return f"{cfg.workspace_arm_id()}/onlineEndpoints/{cfg.endpoint_name}/deployments/{cfg.deployment_name}"


def build_autoscale(cfg: AzureMLConfig, location: str) -> Any:
    """azure-mgmt-monitor ``AutoscaleSettingResource`` for ``cfg.autoscaling`` (None when not configured).

    One profile, capacity ``min/max_instances`` with ``instance_count`` as the default (used when the metric
    is missing), a scale-out rule (metric > ``target_value``) and a scale-in rule (metric < ``scale_in_value``),
    both on the deployment's own metric, averaged over ``window_s`` at one-minute grain.
    """
    scale = cfg.autoscaling
    if scale is None:
        return None
    from datetime import timedelta

    from azure.mgmt.monitor.models import (
        AutoscaleProfile,
        AutoscaleSettingResource,
        MetricTrigger,
        ScaleAction,
        ScaleCapacity,
        ScaleRule,
    )

    target = deployment_id(cfg)
    metric = scale.metric_for(cfg.instance_type)

    def rule(operator: str, threshold: int, direction: str, cooldown_s: int) -> Any:
        return ScaleRule(
            metric_trigger=MetricTrigger(
                metric_name=metric,
                metric_resource_uri=target,
                time_grain=timedelta(minutes=1),
                statistic="Average",
                time_window=timedelta(seconds=scale.window_s),
                time_aggregation="Average",
                operator=operator,
                threshold=threshold,
            ),
            scale_action=ScaleAction(
                direction=direction, type="ChangeCount", value=str(scale.step), cooldown=timedelta(seconds=cooldown_s)
            ),
        )

    return AutoscaleSettingResource(
        location=location,
        tags=dict(cfg.tags),
        name_properties_name=autoscale_name(cfg),
        enabled=True,
        target_resource_uri=target,
        profiles=[
            AutoscaleProfile(
                name=AUTOSCALE_PROFILE,
                capacity=ScaleCapacity(
                    minimum=str(scale.min_instances),
                    maximum=str(scale.max_instances),
                    default=str(cfg.instance_count),
                ),
                rules=[
                    rule("GreaterThan", scale.target_value, "Increase", scale.scale_out_cooldown_s),
                    rule("LessThan", scale.scale_in_threshold, "Decrease", scale.scale_in_cooldown_s),
                ],
            )
        ],
    )


def autoscale_body(setting: Any) -> dict[str, Any]:
    """The JSON ``MonitorManagementClient.autoscale_settings.create_or_update`` PUTs for ``setting`` (the model's
    own msrest serializer, as the client's ``_serialize.body``)."""
    return dict(setting.serialize())


def rest_bodies(plan: DeploymentPlan, location: str, traffic: dict[str, int] | None = None) -> dict[str, Any]:
    """``{"environment", "model", "endpoint", "deployment", "traffic", "autoscale"}`` -> the PUT bodies
    ``apply.deploy`` sends.

    ``model`` is None without a model to register, ``autoscale`` None without autoscaling. ``traffic``
    defaults to ``{deployment: traffic_percent}`` (a new endpoint). Uses the SDK's private ``_to_rest_*``
    serializers on purpose: they are what it sends.
    """
    cfg = plan.config
    traffic = traffic if traffic is not None else {cfg.deployment_name: cfg.traffic_percent}
    routed = build_endpoint(cfg, traffic)
    setting = build_autoscale(cfg, location)
    return {
        "environment": _body(plan.environment._to_rest_object()),
        "model": _body(plan.model._to_rest_object()) if plan.model is not None else None,
        "endpoint": _body(plan.endpoint._to_rest_online_endpoint(location)),
        "deployment": _body(plan.deployment._to_rest_object(location=location)),
        "traffic": _body(routed._to_rest_online_endpoint(location)),
        "autoscale": autoscale_body(setting) if setting is not None else None,
    }


def _lower(value: Any) -> str | None:
    value = getattr(value, "value", value)
    return str(value).lower() if value is not None else None


def existing_conflicts(
    cfg: AzureMLConfig,
    endpoint: Any = None,
    deployment: Any = None,
    workspace_isolation: str | None = None,
) -> list[str]:
    """What ``deploy`` cannot apply to what already exists; empty when nothing conflicts.

    ``endpoint`` / ``deployment`` are the existing SDK entities (None: not there yet), ``workspace_isolation``
    the workspace's managed-network isolation mode (REST or SDK spelling; None or ``Disabled``: no managed network).
    ``deploy`` never re-PUTs an existing endpoint (that would reset its traffic), so a different auth mode
    or public network access would be silently ignored; an existing deployment's egress setting cannot be
    changed at all. Both need the resource re-created.
    """
    problems: list[str] = []
    if endpoint is not None:
        name = cfg.endpoint_name
        if _lower(endpoint.auth_mode) != cfg.auth_mode:
            problems.append(
                f"endpoint {name} exists with auth_mode {_lower(endpoint.auth_mode)}, config says {cfg.auth_mode}: "
                "deploy does not change an existing endpoint; delete and re-create it (new keys/tokens, same "
                "scoring URI when the name is reused) or deploy under a new endpoint_name"
            )
        existing_access = _lower(getattr(endpoint, "public_network_access", None)) or "enabled"
        if existing_access != cfg.public_network_access:
            problems.append(
                f"endpoint {name} exists with public_network_access {existing_access}, config says "
                f"{cfg.public_network_access}: deploy does not change an existing endpoint; re-create it"
            )
    if deployment is not None and cfg.egress_public_network_access is not None:
        existing_egress = _lower(getattr(deployment, "egress_public_network_access", None)) or "enabled"
        if existing_egress != cfg.egress_public_network_access:
            problems.append(
                f"deployment {cfg.deployment_name} exists with egress_public_network_access {existing_egress}, "
                f"config says {cfg.egress_public_network_access}: it cannot change after creation; delete the "
                "deployment or use a new deployment_name"
            )
    isolation = (_lower(workspace_isolation) or "").replace("_", "")
    if cfg.egress_public_network_access is not None and isolation in MANAGED_NETWORK_MODES:
        problems.append(
            f"workspace {cfg.workspace} has a managed virtual network ({_lower(workspace_isolation)}): do not set "
            "egress_public_network_access; the workspace's outbound rules govern egress"
        )
    return problems


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
        "deployment": deployment_id(cfg),
        "traffic": endpoint,
        "autoscale": autoscale_id(cfg),
    }
