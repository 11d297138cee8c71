"""Deploy, update, delete and describe an inference-components endpoint (``ComponentsConfig``).

- ``deploy``: models, endpoint config, endpoint (waits for InService), then each inference component (waits for
  each), then each component's autoscaling. A failed step deletes what this run created before it.
- ``update``: components only (the endpoint, its instances and config stay): a new model per component, then
  ``UpdateInferenceComponent`` (SageMaker's rolling update; an autoscaled component keeps its copy count), or
  ``CreateInferenceComponent`` for a new one; components no longer in the config are deleted; old models go last.
- ``plan_delete`` / ``delete``: each component's autoscaling and the component (waiting until it is gone:
  SageMaker refuses to delete an endpoint that still has components), then the endpoint, its config and models.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from . import apply, waiters
from . import components_plan as cplan
from .apply import Clients
from .components import ComponentsConfig
from .plan import Call, versioned_name
from .waiters import DeploymentError, Poller, describe_or_none

IC_FAILED = frozenset({"Failed"})


def component_in_service(sagemaker: Any, name: str, endpoint_name: str, poller: Poller) -> dict[str, Any]:
    return poller.wait(f"inference component {name}",
                       lambda: describe_or_none(sagemaker.describe_inference_component, InferenceComponentName=name),
                       "InferenceComponentStatus", frozenset({"InService"}), IC_FAILED | {"Deleted"},
                       waiters.logs_hint(endpoint_name))  # fmt: skip


def component_deleted(sagemaker: Any, name: str, poller: Poller) -> None:
    poller.wait(f"inference component {name}",
                lambda: describe_or_none(sagemaker.describe_inference_component, InferenceComponentName=name),
                "InferenceComponentStatus", frozenset({"Deleted"}), IC_FAILED)  # fmt: skip


def has_components(sagemaker: Any, endpoint_name: str) -> bool:
    """Whether the endpoint hosts inference components: its variant names no model. (Other endpoints are never
    asked ``ListInferenceComponents``, which their deploy role may not be allowed.)"""
    current = describe_or_none(sagemaker.describe_endpoint, EndpointName=endpoint_name)
    if current is None:
        return False
    config = describe_or_none(sagemaker.describe_endpoint_config, EndpointConfigName=current["EndpointConfigName"])
    variants = config["ProductionVariants"] if config else []
    return any("ModelName" not in v and "ServerlessConfig" not in v for v in variants)


def live_components(sagemaker: Any, endpoint_name: str) -> list[dict[str, Any]]:
    """``DescribeInferenceComponent`` of every component on the endpoint ([] for other endpoints)."""
    if not has_components(sagemaker, endpoint_name):
        return []
    found, token = [], None
    while True:
        page = sagemaker.list_inference_components(EndpointNameEquals=endpoint_name, **({"NextToken": token} if token
                                                                                         else {}))  # fmt: skip
        found += page["InferenceComponents"]
        token = page.get("NextToken")
        if not token:
            break
    return [sagemaker.describe_inference_component(InferenceComponentName=item["InferenceComponentName"])
            for item in found]  # fmt: skip


def _run(clients: Clients, calls: list[Call], undo: list[Call], poller: Poller, endpoint: str) -> None:
    """Execute ``calls``; each creation's inverse goes first in ``undo``; waits where SageMaker needs it."""
    for call in calls:
        clients.execute(call)
        params = call.params
        if call.operation == "create_model":
            undo.insert(0, Call("sagemaker", "delete_model", {"ModelName": params["ModelName"]}))
        elif call.operation == "create_endpoint_config":
            undo.insert(0, Call("sagemaker", "delete_endpoint_config",
                                {"EndpointConfigName": params["EndpointConfigName"]}))  # fmt: skip
        elif call.operation == "create_endpoint":
            undo.insert(0, Call("sagemaker", "delete_endpoint", {"EndpointName": params["EndpointName"]}))
            waiters.endpoint_in_service(clients.sagemaker, params["EndpointName"], poller)
        elif call.operation in ("create_inference_component", "update_inference_component"):
            if call.operation == "create_inference_component":
                undo.insert(0, Call("sagemaker", "delete_inference_component",
                                    {"InferenceComponentName": params["InferenceComponentName"]}))  # fmt: skip
            component_in_service(clients.sagemaker, params["InferenceComponentName"], endpoint, poller)
        elif call.operation == "delete_inference_component":
            component_deleted(clients.sagemaker, params["InferenceComponentName"], poller)


def _undo(clients: Clients, undo: list[Call], poller: Poller) -> None:
    for call in undo:
        try:
            clients.execute(call)
            if call.operation == "delete_inference_component":
                component_deleted(clients.sagemaker, call.params["InferenceComponentName"], poller)
            elif call.operation == "delete_endpoint":
                waiters.endpoint_deleted(clients.sagemaker, call.params["EndpointName"], poller)
        except (ClientError, ValueError, DeploymentError):
            pass  # best effort: the original error is what the caller must see


def deploy(clients: Clients, cfg: ComponentsConfig, version: str, poller: Poller) -> dict[str, Any]:
    existing = describe_or_none(clients.sagemaker.describe_endpoint, EndpointName=cfg.endpoint_name)
    if existing is not None:
        raise DeploymentError(f"endpoint {cfg.endpoint_name} already exists ({existing['EndpointStatus']}); use "
                              "`update` to change its components, or `delete` it first")  # fmt: skip
    undo: list[Call] = []
    try:
        _run(clients, cplan.deploy_calls(cfg, version), undo, poller, cfg.endpoint_name)
    except Exception:
        _undo(clients, undo, poller)
        raise
    return {"EndpointName": cfg.endpoint_name, "EndpointConfigName": versioned_name(cfg.endpoint_name, version),
            "InferenceComponents": {c.name: cplan.model_name(c, version) for c in cfg.components}}  # fmt: skip


def plan_update(clients: Clients, cfg: ComponentsConfig, version: str, keep_old: bool = False) -> list[Call]:
    """The calls of a components update, in order (reads the live endpoint; raises if it cannot be done)."""
    current = describe_or_none(clients.sagemaker.describe_endpoint, EndpointName=cfg.endpoint_name)
    if current is None:
        raise DeploymentError(f"endpoint {cfg.endpoint_name} does not exist; use `deploy`")
    if current["EndpointStatus"] != "InService":
        raise DeploymentError(f"endpoint {cfg.endpoint_name} is {current['EndpointStatus']}; updates need InService")
    config = clients.sagemaker.describe_endpoint_config(EndpointConfigName=current["EndpointConfigName"])
    live_variant = {k: v for k, v in config["ProductionVariants"][0].items() if k in cplan.production_variant(cfg)}
    if live_variant.get("VariantName") != cfg.variant_name or live_variant.get("InstanceType") != cfg.instance_type:
        raise DeploymentError(f"`update` changes components only; the endpoint's variant is {live_variant}. To change "
                              "the instances, deploy a new endpoint (or delete and deploy this one)")  # fmt: skip
    live = {c["InferenceComponentName"]: c for c in live_components(clients.sagemaker, cfg.endpoint_name)}
    calls, old_models = [], []
    for component in cfg.components:
        calls.append(cplan.create_model(cfg, component, version))
        if component.name in live:
            old_models.append(live[component.name]["Specification"].get("ModelName"))
            autoscaled = bool(cplan.removal_calls(clients.autoscaling, component.name))
            calls.append(cplan.update_inference_component(component, version, autoscaled and bool(
                component.autoscaling)))  # fmt: skip
        else:
            calls.append(cplan.create_inference_component(cfg, component, version))
        calls += cplan.autoscaling_calls(component) or cplan.removal_calls(clients.autoscaling, component.name)
    wanted = {c.name for c in cfg.components}
    for name in [name for name in live if name not in wanted]:
        calls += cplan.removal_calls(clients.autoscaling, name)
        calls.append(Call("sagemaker", "delete_inference_component", {"InferenceComponentName": name}))
        old_models.append(live[name]["Specification"].get("ModelName"))
    if not keep_old:
        calls += [Call("sagemaker", "delete_model", {"ModelName": m}) for m in dict.fromkeys(old_models) if m]
    return calls


def update(clients: Clients, cfg: ComponentsConfig, version: str, poller: Poller,
           keep_old: bool = False) -> dict[str, Any]:  # fmt: skip
    """Run ``plan_update``; a failure deletes the models and components this run created (an updated component
    that fails is rolled back by SageMaker to its previous model)."""
    calls = plan_update(clients, cfg, version, keep_old)
    undo: list[Call] = []
    try:
        _run(clients, calls, undo, poller, cfg.endpoint_name)
    except Exception:
        _undo(clients, undo, poller)
        raise
    return {"EndpointName": cfg.endpoint_name, "Done": [f"{c.operation} {next(iter(c.params.values()))}"
                                                        for c in calls]}  # fmt: skip


def plan_delete(clients: Clients, endpoint_name: str, keep_models: bool = False) -> list[Call]:
    """Each component's autoscaling and the component, then ``apply.plan_delete`` (endpoint, config, models)."""
    components = live_components(clients.sagemaker, endpoint_name)
    calls: list[Call] = []
    for component in components:
        name = component["InferenceComponentName"]
        calls += cplan.removal_calls(clients.autoscaling, name)
        calls.append(Call("sagemaker", "delete_inference_component", {"InferenceComponentName": name}))
    rest = apply.plan_delete(clients, endpoint_name, keep_models)
    models = [] if keep_models else [c["Specification"].get("ModelName") for c in components]
    deletes = [Call("sagemaker", "delete_model", {"ModelName": m}) for m in dict.fromkeys(models) if m]
    return [*calls, *rest, *deletes]


def delete(clients: Clients, calls: list[Call], poller: Poller, wait: bool = True) -> list[str]:
    """Run a ``plan_delete``: components first, each waited for (always: the endpoint cannot go before them)."""
    done = []
    first = 1 + max((i for i, c in enumerate(calls) if c.operation == "delete_inference_component"), default=-1)
    for call in calls[:first]:
        clients.execute(call)
        if call.operation == "delete_inference_component":
            component_deleted(clients.sagemaker, call.params["InferenceComponentName"], poller)
        done.append(f"{call.operation} {next(iter(call.params.values()))}")
    return done + apply.delete(clients, calls[first:], poller, wait)


def status(clients: Clients, endpoint_name: str) -> dict[str, Any]:
    """``apply.status`` plus, when the endpoint has any, its components: status, model, share, copies, scaling."""
    described = apply.status(clients, endpoint_name)
    components = live_components(clients.sagemaker, endpoint_name)
    if components:
        described["InferenceComponents"] = [{
            "InferenceComponentName": c["InferenceComponentName"], "Status": c.get("InferenceComponentStatus"),
            "FailureReason": c.get("FailureReason"), "ModelName": c["Specification"].get("ModelName"),
            "ComputeResourceRequirements": c["Specification"].get("ComputeResourceRequirements"),
            "RuntimeConfig": c.get("RuntimeConfig"),
            "Autoscaling": bool(cplan.removal_calls(clients.autoscaling, c["InferenceComponentName"])),
        } for c in components]  # fmt: skip
    return described
