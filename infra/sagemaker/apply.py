"""Thin boto3 executor: plans (lists of ``Call``) for deploy / update / delete, run with waits in between.

``plan_*`` functions only read (describe); ``deploy`` / ``update`` / ``delete`` change things. Any
``botocore`` ``ClientError`` propagates unchanged; failed or timed-out resources raise ``DeploymentError``
carrying SageMaker's ``FailureReason``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from . import artifacts, autoscaling, modes, plan, waiters
from .config import DeployConfig
from .plan import Call
from .waiters import DeploymentError, Poller, describe_or_none


@dataclass
class Clients:
    """One boto3 client per service. ``endpoint_url`` (or AWS_ENDPOINT_URL) points them all elsewhere.

    ``execute`` remembers the ARN of every scaling policy it creates, for the alarms that act on it
    (``autoscaling.policy_arn_ref``)."""

    sagemaker: Any
    autoscaling: Any
    s3: Any
    cloudwatch: Any = None
    policy_arns: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        session: boto3.Session | None = None,
    ) -> Clients:
        """Clients from ``session`` (default: a new one for ``profile``/``region``); event handlers
        registered on the session (e.g. request capture in tests) apply to every client."""
        session = session or boto3.Session(profile_name=profile, region_name=region)
        names = ("sagemaker", "application-autoscaling", "s3", "cloudwatch")
        sagemaker, scaling, s3, cloudwatch = (session.client(name, endpoint_url=endpoint_url) for name in names)
        return cls(sagemaker, scaling, s3, cloudwatch)

    def execute(self, call: Call) -> dict[str, Any]:
        clients = {"sagemaker": self.sagemaker, "application-autoscaling": self.autoscaling, "s3": self.s3,
                   "cloudwatch": self.cloudwatch}  # fmt: skip
        params = autoscaling.resolve_policy_arns(call.params, self.policy_arns)
        result = getattr(clients[call.service], call.operation)(**params) or {}
        if call.operation == "put_scaling_policy" and "PolicyARN" in result:
            self.policy_arns[call.params["PolicyName"]] = result["PolicyARN"]
        return result


def check_serverless_fit(cfg: DeployConfig, s3: Any = None, report: Any = None) -> None:
    """Refuse (ValueError) a serverless memory size the model cannot load in, before anything is created.

    The weights are measured in the local ``model_source`` (folder or .tar.gz); for ``model_data`` in S3 the
    archive's size stands for them (safetensors barely compress) when ``s3`` is given and may read it (else
    ``report`` says the check was skipped). A model baked into the image is not measured here."""
    if cfg.serverless is None:
        return
    weights, source = None, "the model"
    if cfg.model_source is not None:
        weights, source = artifacts.weight_bytes(cfg.model_source), str(cfg.model_source)
    elif cfg.model_data and s3 is not None:
        weights, source = artifacts.s3_size(s3, cfg.model_data), f"{cfg.model_data} (archive size)"
        if weights is None and report is not None:
            report(f"warning: could not read the size of {cfg.model_data}; serverless memory not checked")
    if weights is not None:
        modes.check_serverless_memory(cfg.serverless.memory_mb, weights, cfg.serverless_workers(), source)


def deploy_plan(cfg: DeployConfig, version: str) -> list[Call]:
    """Every call of a fresh deployment, in order (pure; the upload names the local source)."""
    check_serverless_fit(cfg)
    upload = artifacts.upload_call(cfg, version, cfg.model_source or Path())
    calls = plan.model_calls(cfg, version, artifacts.model_data_url(cfg, version))
    endpoint = plan.create_endpoint(cfg, calls[1].params["EndpointConfigName"])
    return [*([upload] if upload else []), *calls, endpoint, *autoscaling.autoscaling_calls(cfg)]


def _upload_and_create(clients: Clients, cfg: DeployConfig, version: str, report: Any) -> list[Call]:
    """Upload the model if local, create model + endpoint config; returns the undo calls of what was made."""
    upload = artifacts.upload_call(cfg, version, cfg.model_source or Path())
    if upload and cfg.model_source:
        with tempfile.TemporaryDirectory() as workdir:
            tarball = artifacts.pack_model(cfg.model_source, Path(workdir))
            held = artifacts.describe(tarball)
            report(f"uploading {tarball} ({held}) to s3://{upload.params['Bucket']}/{upload.params['Key']}")
            artifacts.upload(clients.s3, artifacts.upload_call(cfg, version, tarball) or upload)
    model, config = plan.model_calls(cfg, version, artifacts.model_data_url(cfg, version))
    clients.execute(model)
    undo = [Call("sagemaker", "delete_model", {"ModelName": model.params["ModelName"]})]
    try:
        clients.execute(config)
    except ClientError:
        _undo(clients, undo)
        raise
    return [Call("sagemaker", "delete_endpoint_config", {"EndpointConfigName": config.params["EndpointConfigName"]}),
            *undo]  # fmt: skip


def _undo(clients: Clients, calls: list[Call]) -> None:
    for call in calls:
        try:
            clients.execute(call)
        except (ClientError, ValueError):  # ValueError: an alarm whose policy could not be re-created
            pass  # best effort: the original error is what the caller must see


def deploy(clients: Clients, cfg: DeployConfig, version: str, poller: Poller) -> dict[str, Any]:
    """Create model, endpoint config and endpoint; wait for InService; attach autoscaling."""
    check_serverless_fit(cfg, clients.s3, poller.report)
    existing = describe_or_none(clients.sagemaker.describe_endpoint, EndpointName=cfg.endpoint_name)
    if existing is not None:
        raise DeploymentError(
            f"endpoint {cfg.endpoint_name} already exists ({existing['EndpointStatus']}); use `update` for a "
            "blue/green update, or `delete` it first"
        )
    undo = _upload_and_create(clients, cfg, version, poller.report)
    config_name = undo[0].params["EndpointConfigName"]
    try:
        clients.execute(plan.create_endpoint(cfg, config_name))
    except ClientError:
        _undo(clients, undo)
        raise
    state = waiters.endpoint_in_service(clients.sagemaker, cfg.endpoint_name, poller)
    for call in autoscaling.autoscaling_calls(cfg):
        clients.execute(call)
    model_name = plan.versioned_name(cfg.endpoint_name, version)
    return {"EndpointName": cfg.endpoint_name, "EndpointStatus": state["EndpointStatus"],
            "EndpointConfigName": config_name, "ModelName": model_name}  # fmt: skip


@dataclass
class UpdatePlan:
    """A blue/green update: the new model and config (``create``), ``before`` (autoscaling removal if the
    instance type changes), ``update`` (``RetainAllVariantProperties`` when the live fleet is autoscaled),
    ``after`` (autoscaling), ``cleanup`` (old config and models)."""

    old_config: str
    new_config: str
    before: list[Call] = field(default_factory=list)
    create: list[Call] = field(default_factory=list)
    update: Call | None = None
    after: list[Call] = field(default_factory=list)
    cleanup: list[Call] = field(default_factory=list)
    restore: list[Call] = field(default_factory=list)  # re-creates the removed autoscaling if the update fails

    def calls(self) -> list[Call]:
        """In the order ``update`` runs them."""
        return [*self.create, *self.before, *([self.update] if self.update else []), *self.after, *self.cleanup]


def plan_update(clients: Clients, cfg: DeployConfig, version: str, keep_old: bool = False) -> UpdatePlan:
    """Read the live endpoint and plan a blue/green update to ``cfg`` (raises if it cannot be done)."""
    current = describe_or_none(clients.sagemaker.describe_endpoint, EndpointName=cfg.endpoint_name)
    if current is None:
        raise DeploymentError(f"endpoint {cfg.endpoint_name} does not exist; use `deploy`")
    if current["EndpointStatus"] != "InService":
        raise DeploymentError(f"endpoint {cfg.endpoint_name} is {current['EndpointStatus']}; updates need InService")
    old_name = current["EndpointConfigName"]
    old_variants = clients.sagemaker.describe_endpoint_config(EndpointConfigName=old_name)["ProductionVariants"]
    if [v["VariantName"] for v in old_variants] != [cfg.variant_name]:
        raise DeploymentError(
            f"blue/green needs the same variant name; live: {[v['VariantName'] for v in old_variants]}"
        )
    if cfg.serverless is not None and "ServerlessConfig" not in old_variants[0]:
        raise DeploymentError(
            f"endpoint {cfg.endpoint_name} runs on instances; SageMaker cannot update an instance-based endpoint to "
            "serverless: deploy the serverless endpoint under a new name (or delete this one first)"
        )
    check_serverless_fit(cfg, clients.s3)
    scaling = autoscaling.removal_calls(clients.autoscaling, cfg.endpoint_name, cfg.variant_name)
    new_type = None if cfg.serverless is not None else cfg.instance_type
    type_changes = old_variants[0].get("InstanceType") != new_type
    # an autoscaled fleet keeps its current size through the update (not the new config's InitialInstanceCount)
    retain = bool(scaling) and cfg.autoscaling is not None and cfg.serverless is None
    if cfg.autoscaling is None:  # autoscaling off now: remove the live one (already gone if the type changes)
        after = [] if type_changes else scaling
    else:  # (re-)attach it; a scale-from-zero alarm the new settings no longer want goes
        after = autoscaling.autoscaling_calls(cfg) + ([] if type_changes else autoscaling.leftover_calls(
            clients.autoscaling, cfg))
    upload = artifacts.upload_call(cfg, version, cfg.model_source or Path())
    create = plan.model_calls(cfg, version, artifacts.model_data_url(cfg, version))
    new_name = create[1].params["EndpointConfigName"]
    old_models = [v["ModelName"] for v in old_variants if v["ModelName"] != create[0].params["ModelName"]]
    return UpdatePlan(
        old_config=old_name,
        new_config=new_name,
        before=scaling if type_changes else [],
        restore=autoscaling.restore_calls(clients.autoscaling, cfg.endpoint_name, cfg.variant_name)
        if type_changes
        else [],
        create=[*([upload] if upload else []), *create],
        update=plan.update_endpoint(cfg, new_name, retain_variant_properties=retain),
        after=after,
        cleanup=[] if keep_old else _cleanup_calls(old_name, old_models),
    )


def _cleanup_calls(config_name: str, model_names: list[str]) -> list[Call]:
    models = [Call("sagemaker", "delete_model", {"ModelName": name}) for name in dict.fromkeys(model_names)]
    return [Call("sagemaker", "delete_endpoint_config", {"EndpointConfigName": config_name}), *models]


def update(clients: Clients, cfg: DeployConfig, version: str, poller: Poller, keep_old: bool = False) -> dict[str, Any]:
    """Blue/green update of a live endpoint; the old config and models are deleted once the new one serves.

    Order: new model + config, autoscaling removal (only when the instance type changes), UpdateEndpoint,
    wait, autoscaling, cleanup. A refused or rolled-back update (alarm, failed health check) raises
    ``DeploymentError`` with the reason after deleting the new config and model and re-creating the
    autoscaling it removed; the endpoint keeps serving the old ones.
    """
    steps = plan_update(clients, cfg, version, keep_old)
    undo = _upload_and_create(clients, cfg, version, poller.report)
    for call in steps.before:
        clients.execute(call)
    try:
        clients.execute(steps.update)  # type: ignore[arg-type]
        state = waiters.endpoint_in_service(clients.sagemaker, cfg.endpoint_name, poller)
    except ClientError:
        _undo(clients, [*undo, *steps.restore])
        raise
    if state["EndpointConfigName"] != steps.new_config:
        _undo(clients, [*undo, *steps.restore])
        reason = state.get("FailureReason") or "no FailureReason given"
        live = state["EndpointConfigName"]
        raise DeploymentError(f"update of {cfg.endpoint_name} was rolled back to {live}: {reason}")
    for call in [*steps.after, *steps.cleanup]:
        clients.execute(call)
    return {"EndpointName": cfg.endpoint_name, "EndpointStatus": state["EndpointStatus"],
            "EndpointConfigName": steps.new_config, "Replaced": steps.old_config,
            "Deleted": [next(iter(c.params.values())) for c in steps.cleanup]}  # fmt: skip


def plan_delete(clients: Clients, endpoint_name: str, keep_models: bool = False) -> list[Call]:
    """Autoscaling removal, the endpoint, its config and (unless kept) its models."""
    current = describe_or_none(clients.sagemaker.describe_endpoint, EndpointName=endpoint_name)
    if current is None:
        raise DeploymentError(f"endpoint {endpoint_name} does not exist")
    config_name = current["EndpointConfigName"]
    config = describe_or_none(clients.sagemaker.describe_endpoint_config, EndpointConfigName=config_name)
    variants = config["ProductionVariants"] if config else []
    scaling = [
        c for v in variants for c in autoscaling.removal_calls(clients.autoscaling, endpoint_name, v["VariantName"])
    ]
    tail = _cleanup_calls(config_name, [] if keep_models else [v["ModelName"] for v in variants if "ModelName" in v]
                          ) if config else []  # a components endpoint's variant names no model
    return [*scaling, Call("sagemaker", "delete_endpoint", {"EndpointName": endpoint_name}), *tail]


def delete(clients: Clients, calls: list[Call], poller: Poller, wait: bool = True) -> list[str]:
    """Run a ``plan_delete``; waits for the endpoint to be gone before deleting its config and models."""
    done = []
    for call in calls:
        clients.execute(call)
        first = next(iter(call.params.values()))
        done.append(f"{call.operation} {', '.join(first) if isinstance(first, list) else first}")
        if call.operation == "delete_endpoint" and wait:
            waiters.endpoint_deleted(clients.sagemaker, call.params["EndpointName"], poller)
    return done


def status(clients: Clients, endpoint_name: str) -> dict[str, Any]:
    """Endpoint status, failure reason, variants (instance type, counts), and autoscaling."""
    current = describe_or_none(clients.sagemaker.describe_endpoint, EndpointName=endpoint_name)
    if current is None:
        raise DeploymentError(f"endpoint {endpoint_name} does not exist")
    config = clients.sagemaker.describe_endpoint_config(EndpointConfigName=current["EndpointConfigName"])
    live = {v["VariantName"]: v for v in current.get("ProductionVariants", [])}
    variants = [
        {"VariantName": v["VariantName"], "ModelName": v.get("ModelName"), "InstanceType": v.get("InstanceType"),
         "CurrentInstanceCount": live.get(v["VariantName"], {}).get("CurrentInstanceCount"),
         "DesiredInstanceCount": live.get(v["VariantName"], {}).get("DesiredInstanceCount"),
         "Serverless": v.get("ServerlessConfig"),
         "Autoscaling": autoscaling.describe(clients.autoscaling, endpoint_name, v["VariantName"])}
        for v in config["ProductionVariants"]
    ]  # fmt: skip
    return {
        "EndpointName": endpoint_name,
        "EndpointStatus": current["EndpointStatus"],
        "FailureReason": current.get("FailureReason"),
        "EndpointConfigName": current["EndpointConfigName"],
        "LastModifiedTime": str(current.get("LastModifiedTime", "")),
        "Async": "AsyncInferenceConfig" in config,
        "Variants": variants,
    }
