"""Pure builders: :class:`VertexConfig` -> ``google.cloud.aiplatform_v1`` request messages -> JSON. No network.

Contracts:

* Every request is one of the SDK's own proto-plus messages (``UploadModelRequest``, ``CreateEndpointRequest``,
  ``DeployModelRequest``, ``UpdateEndpointRequest``, ``UndeployModelRequest``, ``MutateDeployedModelRequest``,
  ``Delete*Request``): unknown fields or wrong types fail here, not at the API. ``apply`` sends exactly these.
* The model's ``containerSpec`` carries image, port, ``predictRoute``/``healthRoute`` (Vertex exports them to the
  container as ``AIP_PREDICT_ROUTE``/``AIP_HEALTH_ROUTE``, the port as ``AIP_HTTP_PORT``), ``env`` (with what a
  dedicated endpoint implies, ``VertexConfig.container_env``), the start-up and health probes (HTTP GETs of the
  health route) and the deployment timeout; ``artifactUri`` (optional) becomes ``AIP_STORAGE_URI``.
* A dedicated endpoint is created with ``dedicatedEndpointEnabled`` and its ``clientConnectionConfig``.
* Traffic splits are keyed by deployed-model id; ``"0"`` is the model being deployed (Vertex's convention). They
  always add up to 100 (:func:`compute_traffic`, :func:`traffic_without`).
* :func:`to_json` is proto-plus ``to_dict`` with REST (camelCase) field names and enum names: the request body.
"""

from __future__ import annotations

import math
from typing import Any

from google.cloud import aiplatform_v1 as v1
from google.protobuf import duration_pb2, field_mask_pb2

from .config import VertexConfig, VertexTarget

NEW_DEPLOYED_MODEL = "0"
# Stand-in for the endpoint's live deployed models in an offline plan.
LIVE_PLACEHOLDER = "<live deployed models>"
DESCRIPTION = "Jina/OpenAI-compatible embedding service (custom container)."
CPU_METRIC = "aiplatform.googleapis.com/prediction/online/cpu/utilization"
GPU_METRIC = "aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle"


def to_json(message: Any) -> dict[str, Any]:
    """The message as its REST JSON body (camelCase names, enum names, defaults left out)."""
    result: dict[str, Any] = type(message).to_dict(
        message,
        use_integers_for_enums=False,
        preserving_proto_field_name=False,
        always_print_fields_with_no_presence=False,
    )
    return result


def accelerator(name: str) -> v1.AcceleratorType:
    try:
        return v1.AcceleratorType[name]
    except KeyError:
        raise ValueError(f"unknown accelerator_type {name!r} (an aiplatform_v1.AcceleratorType name)") from None


def health_probe(cfg: VertexConfig, failures: int) -> v1.Probe:
    """An HTTP GET of the health route every ``probe_period_s``, failed after ``failures`` misses in a row (Vertex
    wants the probe's timeout at least its period)."""
    return v1.Probe(
        http_get=v1.Probe.HttpGetAction(path=cfg.health_route, port=cfg.port),
        period_seconds=cfg.probe_period_s,
        timeout_seconds=cfg.probe_period_s,
        failure_threshold=failures,
    )


def build_model(cfg: VertexConfig) -> v1.Model:
    """The model resource: container spec (image, port, routes, env, probes, deployment timeout) and optional gs://
    artifacts. The start-up probe gives the container ``startup_timeout_s`` to answer 200 on its health route."""
    spec = v1.ModelContainerSpec(
        image_uri=cfg.image,
        ports=[v1.Port(container_port=cfg.port)],
        predict_route=cfg.predict_route,
        health_route=cfg.health_route,
        env=[v1.EnvVar(name=k, value=v) for k, v in sorted(cfg.container_env.items())],
        startup_probe=health_probe(cfg, math.ceil(cfg.startup_timeout_s / cfg.probe_period_s)),
        health_probe=health_probe(cfg, cfg.health_probe_failures),
        deployment_timeout=duration_pb2.Duration(seconds=cfg.deployment_timeout_s),
    )
    return v1.Model(
        display_name=cfg.model_display_name or cfg.model_id,
        description=DESCRIPTION,
        container_spec=spec,
        artifact_uri=cfg.artifact_uri or "",
        labels=dict(cfg.labels),
    )


def upload_request(cfg: VertexConfig) -> v1.UploadModelRequest:
    return v1.UploadModelRequest(parent=cfg.parent, model_id=cfg.model_id, model=build_model(cfg))


def create_endpoint_request(cfg: VertexConfig, labels: dict[str, str] | None = None) -> v1.CreateEndpointRequest:
    """A shared endpoint, or a dedicated one (its own DNS name; its inference timeout when configured)."""
    endpoint = v1.Endpoint(display_name=cfg.endpoint_display_name or cfg.endpoint_id, labels=dict(labels or {}))
    if cfg.dedicated_endpoint:
        endpoint.dedicated_endpoint_enabled = True
        if cfg.inference_timeout_s is not None:
            timeout = duration_pb2.Duration(seconds=cfg.inference_timeout_s)
            endpoint.client_connection_config = v1.ClientConnectionConfig(inference_timeout=timeout)
    return v1.CreateEndpointRequest(parent=cfg.parent, endpoint_id=cfg.endpoint_id, endpoint=endpoint)


def autoscaling_specs(cfg: VertexConfig) -> list[v1.AutoscalingMetricSpec]:
    specs = []
    if cfg.autoscaling_target_cpu_utilization is not None:
        specs.append(v1.AutoscalingMetricSpec(metric_name=CPU_METRIC, target=cfg.autoscaling_target_cpu_utilization))
    if cfg.autoscaling_target_accelerator_duty_cycle is not None:
        specs.append(
            v1.AutoscalingMetricSpec(metric_name=GPU_METRIC, target=cfg.autoscaling_target_accelerator_duty_cycle)
        )
    return specs


def build_dedicated_resources(cfg: VertexConfig) -> v1.DedicatedResources:
    machine = v1.MachineSpec(machine_type=cfg.machine_type)
    if cfg.accelerator_type is not None:
        machine.accelerator_type = accelerator(cfg.accelerator_type)
        machine.accelerator_count = cfg.gpu_count
    return v1.DedicatedResources(
        machine_spec=machine,
        min_replica_count=cfg.min_replica_count,
        max_replica_count=cfg.max_replicas,
        autoscaling_metric_specs=autoscaling_specs(cfg),
    )


def build_deployed_model(cfg: VertexConfig) -> v1.DeployedModel:
    return v1.DeployedModel(
        model=cfg.model_name,
        display_name=cfg.deployed_model_name,
        dedicated_resources=build_dedicated_resources(cfg),
        service_account=cfg.service_account or "",
    )


def compute_traffic(current: dict[str, int], key: str, percent: int) -> dict[str, int]:
    """Split after giving ``key`` ``percent``; the rest keeps the other deployed models' ratios (sum exactly 100).

    With ``percent < 100`` another deployed model must carry traffic already, else ``ValueError``.
    """
    others = {name: share for name, share in current.items() if name != key and share > 0}
    rest = 100 - percent
    if rest and not others:
        raise ValueError(f"traffic_percent={percent} needs another deployed model with traffic on the endpoint")
    result = {name: 0 for name in current if name != key}
    if rest:
        total = sum(others.values())
        exact = {name: rest * share / total for name, share in others.items()}
        result.update({name: math.floor(value) for name, value in exact.items()})
        leftover = rest - sum(result[name] for name in others)
        for name in sorted(exact, key=lambda n: exact[n] - result[n], reverse=True)[:leftover]:
            result[name] += 1
    result[key] = percent
    return result


def traffic_without(current: dict[str, int], key: str, remaining: list[str]) -> dict[str, int]:
    """Split over ``remaining`` once ``key`` is gone: its share goes to the others in proportion (all to the first
    when none had traffic). Empty when nothing remains."""
    if not remaining:
        return {}
    shares = {name: current.get(name, 0) for name in remaining}
    if sum(shares.values()) == 0:
        shares[remaining[0]] = 100
    total = sum(shares.values())
    exact = {name: 100 * share / total for name, share in shares.items()}
    result = {name: math.floor(value) for name, value in exact.items()}
    for name in sorted(exact, key=lambda n: exact[n] - result[n], reverse=True)[: 100 - sum(result.values())]:
        result[name] += 1
    return result


def deploy_request(cfg: VertexConfig, traffic_split: dict[str, int]) -> v1.DeployModelRequest:
    return v1.DeployModelRequest(
        endpoint=cfg.endpoint_name, deployed_model=build_deployed_model(cfg), traffic_split=traffic_split
    )


def traffic_request(target: VertexTarget, traffic_split: dict[str, int]) -> v1.UpdateEndpointRequest:
    return v1.UpdateEndpointRequest(
        endpoint=v1.Endpoint(name=target.endpoint_name, traffic_split=traffic_split),
        update_mask=field_mask_pb2.FieldMask(paths=["traffic_split"]),
    )


def undeploy_request(
    target: VertexTarget, deployed_model_id: str, traffic_split: dict[str, int]
) -> v1.UndeployModelRequest:
    return v1.UndeployModelRequest(
        endpoint=target.endpoint_name, deployed_model_id=deployed_model_id, traffic_split=traffic_split
    )


def scale_request(target: VertexTarget, deployed_model_id: str, cfg: VertexConfig) -> v1.MutateDeployedModelRequest:
    """Change replica bounds and autoscaling targets of a deployed model in place (no redeploy)."""
    resources = build_dedicated_resources(cfg)
    paths = ["dedicated_resources.min_replica_count", "dedicated_resources.max_replica_count"]
    if resources.autoscaling_metric_specs:
        paths.append("dedicated_resources.autoscaling_metric_specs")
    return v1.MutateDeployedModelRequest(
        endpoint=target.endpoint_name,
        deployed_model=v1.DeployedModel(id=deployed_model_id, dedicated_resources=resources),
        update_mask=field_mask_pb2.FieldMask(paths=paths),
    )


def plan_steps(cfg: VertexConfig, current: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """What ``deploy`` sends to a project where neither model nor endpoint exists (each step is skipped when its
    resource exists). ``current``: the endpoint's live traffic split; None offline (a share below 100 is then
    shown against a placeholder for the live deployed models)."""
    if current is None:
        current = {LIVE_PLACEHOLDER: 100} if cfg.traffic_percent < 100 else {}
    split = compute_traffic(current, NEW_DEPLOYED_MODEL, cfg.traffic_percent)
    steps: list[tuple[str, str, str, Any]] = [
        ("upload_model", "POST", f"/v1/{cfg.parent}/models:upload", upload_request(cfg)),
        ("create_endpoint", "POST", f"/v1/{cfg.parent}/endpoints?endpointId={cfg.endpoint_id}",
         create_endpoint_request(cfg, cfg.labels)),
        ("deploy_model", "POST", f"/v1/{cfg.endpoint_name}:deployModel", deploy_request(cfg, split)),
    ]  # fmt: skip
    return [
        {"step": step, "method": method, "url": f"https://{cfg.api_endpoint}{path}", "request": to_json(message)}
        for step, method, path, message in steps
    ]
