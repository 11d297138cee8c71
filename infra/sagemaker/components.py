"""``ComponentsConfig``: one real-time endpoint whose instances host several inference components.

Each component (an embedder, a reranker, ...) is a model of the same serving image with its own weights
(``model_data``), its own share of every instance (``ComputeResourceRequirements``: accelerators, CPU cores, memory),
its own number of copies and its own autoscaling (``inference-component/<name>``, ``DesiredCopyCount``). Callers
address one with ``InvokeEndpoint(InferenceComponentName=<name>)``.

SageMaker does not tell a component's container the share it was given (CUDA_VISIBLE_DEVICES limits its GPUs, but
not its CPU cores or memory), and the server plans workers from the host it sees (``inference/runtime/worker_plan``),
so ``share_environment`` tells it: ``EMB_WORKERS`` (one per accelerator), ``EMB_CPU_CORES`` and ``EMB_MEMORY_MB``.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from . import instances
from .config import (
    CUDA_PATTERN,
    NAME_PATTERN,
    ROLE_PATTERN,
    S3_PATTERN,
    ModeWarning,
    _Strict,
    check_host,
    empty_is_none,  # fmt: skip
    merge,
    zero_is_none,
)
from .gpu_hosts import IMAGE_COMPAT_DRIVER, IMAGE_CUDA

WORKERS_ENV, CORES_ENV, MEMORY_ENV = "EMB_WORKERS", "EMB_CPU_CORES", "EMB_MEMORY_MB"
SHARE_ENV = (WORKERS_ENV, CORES_ENV, MEMORY_ENV)


class ComponentAutoscaling(_Strict):
    """Target tracking on ``SageMakerInferenceComponentInvocationsPerCopy`` between ``min_copies`` and
    ``max_copies`` (Application Auto Scaling, ``sagemaker:inference-component:DesiredCopyCount``)."""

    min_copies: int = Field(default=1, ge=1)
    max_copies: int = Field(default=4, ge=1)
    target_value: float = Field(default=100.0, gt=0, description="invocations per copy per minute")
    scale_in_cooldown_s: int = Field(default=300, ge=0)
    scale_out_cooldown_s: int = Field(default=60, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> ComponentAutoscaling:
        if self.min_copies > self.max_copies:
            raise ValueError("component autoscaling min_copies must be <= max_copies")
        return self


class ComponentConfig(_Strict):
    """One inference component: its model (image of the endpoint, own weights) and its share of an instance."""

    name: str = Field(pattern=NAME_PATTERN, description="InferenceComponentName, what clients target")
    model_data: str | None = Field(default=None, pattern=S3_PATTERN, description="s3://.../model.tar.gz")
    environment: dict[str, str] = Field(default_factory=dict)
    accelerators: int | None = Field(default=None, ge=1, description="NumberOfAcceleratorDevicesRequired (GPUs)")
    cpu_cores: float | None = Field(default=None, ge=0.25, description="NumberOfCpuCoresRequired")
    memory_mb: int = Field(ge=128, description="MinMemoryRequiredInMb")
    copies: int = Field(default=1, ge=1, description="RuntimeConfig.CopyCount at creation")
    startup_health_check_timeout_s: int = Field(default=600, ge=60, le=3600)
    model_download_timeout_s: int = Field(default=600, ge=60, le=3600)
    autoscaling: ComponentAutoscaling | None = None

    @model_validator(mode="after")
    def _copies_within_scaling(self) -> ComponentConfig:
        scaling = self.autoscaling
        if scaling and not scaling.min_copies <= self.copies <= scaling.max_copies:
            raise ValueError(f"component {self.name}: copies {self.copies} must be within autoscaling "
                             f"min_copies..max_copies ({scaling.min_copies}..{scaling.max_copies})")  # fmt: skip
        return self

    def share_environment(self) -> dict[str, str]:
        """What the server must know of its share (SageMaker does not say): one worker per accelerator, the CPU
        cores and memory it may plan CPU workers in. The component's own ``environment`` wins."""
        env = {MEMORY_ENV: str(self.memory_mb)}
        if self.cpu_cores is not None:
            env[CORES_ENV] = str(max(1, math.floor(self.cpu_cores)))
        if self.accelerators:
            env[WORKERS_ENV] = str(self.accelerators)
        return {**env, **self.environment}


class ManagedInstanceScaling(_Strict):
    """``ProductionVariant.ManagedInstanceScaling``: SageMaker adds instances when copies do not fit."""

    min_instances: int = Field(default=1, ge=1)
    max_instances: int = Field(default=2, ge=1)

    @model_validator(mode="after")
    def _bounds(self) -> ManagedInstanceScaling:
        if self.min_instances > self.max_instances:
            raise ValueError("managed_instance_scaling min_instances must be <= max_instances")
        return self


class ComponentsConfig(_Strict):
    """The endpoint (instances, host AMI, routing) and its components; ``update`` changes components only."""

    endpoint_name: str = Field(pattern=NAME_PATTERN)
    image_uri: str = Field(min_length=1)
    role_arn: str = Field(pattern=ROLE_PATTERN)
    instance_type: str = Field(default="ml.g5.12xlarge", pattern=r"^ml\.[a-z0-9\-]+\.[a-z0-9]+$")
    instance_count: int = Field(default=1, ge=1)
    managed_instance_scaling: ManagedInstanceScaling | None = None
    inference_ami_version: Annotated[str | None, BeforeValidator(empty_is_none)] = None
    image_cuda: str = Field(default=IMAGE_CUDA, pattern=CUDA_PATTERN)
    cuda_compat_driver: Annotated[int | None, BeforeValidator(zero_is_none)] = Field(default=IMAGE_COMPAT_DRIVER, ge=1)
    variant_name: str = Field(default="AllTraffic", pattern=NAME_PATTERN)
    routing_strategy: Literal["LEAST_OUTSTANDING_REQUESTS", "RANDOM"] = "LEAST_OUTSTANDING_REQUESTS"
    enable_network_isolation: bool = True
    subnets: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    components: tuple[ComponentConfig, ...] = Field(min_length=1)
    tags: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> ComponentsConfig:
        names = [c.name for c in self.components]
        if len(set(names)) != len(names):
            raise ValueError(f"component names must be unique: {names}")
        if bool(self.subnets) != bool(self.security_group_ids):
            raise ValueError("VPC mode needs both subnets and security_group_ids")
        scaling = self.managed_instance_scaling
        if scaling and not scaling.min_instances <= self.instance_count <= scaling.max_instances:
            raise ValueError(f"instance_count {self.instance_count} must be within managed_instance_scaling "
                             f"{scaling.min_instances}..{scaling.max_instances}")  # fmt: skip
        check_host(self.instance_type, self.inference_ami_version, self.image_cuda, self.cuda_compat_driver, "realtime")
        self._check_fit()
        return self

    def max_instances(self) -> int:
        return self.managed_instance_scaling.max_instances if self.managed_instance_scaling else self.instance_count

    def _check_fit(self) -> None:
        """Each copy fits one instance; the initial copies fit the initial instances; warn when autoscaled copies
        cannot fit the most instances there may be."""
        host = instances.capacity(self.instance_type)
        if host is None:
            warnings.warn(f"{self.instance_type}: capacity unknown to infra.sagemaker.instances; the components' "
                          "fit is left to SageMaker", ModeWarning, stacklevel=3)  # fmt: skip
            return
        what = f"{self.instance_type} ({host.accelerators} GPUs, {host.vcpus} vCPUs, {host.memory_mb} MiB)"
        for c in self.components:
            if c.accelerators and c.accelerators > host.accelerators:
                raise ValueError(f"component {c.name} needs {c.accelerators} accelerators per copy; {what} has "
                                 f"{host.accelerators}")  # fmt: skip
            if (c.cpu_cores or 0) > host.vcpus or c.memory_mb > host.memory_mb:
                raise ValueError(f"component {c.name} needs {c.cpu_cores} cores and {c.memory_mb} MiB per copy; "
                                 f"more than one {what}")  # fmt: skip
        total = self._needs(lambda c: c.copies)
        have = (host.accelerators * self.instance_count, host.vcpus * self.instance_count,
                host.memory_mb * self.instance_count)  # fmt: skip
        for label, need, got in zip(("accelerators", "CPU cores", "MiB of memory"), total, have, strict=True):
            if need > got:
                raise ValueError(f"the components' copies need {need:g} {label} in all; {self.instance_count} x "
                                 f"{what} have {got}: fewer copies or smaller shares, or more instances")  # fmt: skip
        if total[2] > instances.HEADROOM * have[2]:
            warnings.warn(f"the components reserve {total[2]} of {have[2]} MiB; SageMaker keeps part of each "
                          "instance for itself, so a copy may not be placed", ModeWarning, stacklevel=3)  # fmt: skip
        most = self._needs(lambda c: c.autoscaling.max_copies if c.autoscaling else c.copies)
        room = [value * self.max_instances() // self.instance_count for value in have]
        if any(need > got for need, got in zip(most, room, strict=True)):
            warnings.warn(f"at max_copies the components need {most[0]:g} accelerators, {most[1]:g} cores, "
                          f"{most[2]} MiB; {self.max_instances()} x {self.instance_type} cannot hold them all (raise "
                          "managed_instance_scaling max_instances)", ModeWarning, stacklevel=3)  # fmt: skip

    def _needs(self, copies: Any) -> tuple[float, float, int]:
        return (sum((c.accelerators or 0) * copies(c) for c in self.components),
                sum((c.cpu_cores or 0) * copies(c) for c in self.components),
                sum(c.memory_mb * copies(c) for c in self.components))  # fmt: skip


def is_components_config(path: Path | None) -> bool:
    """True when the JSON file at ``path`` declares ``components`` (the CLI then deploys inference components)."""
    if path is None:
        return False
    data = json.loads(path.read_text())
    return isinstance(data, dict) and "components" in data


def load_components(path: Path, overrides: dict[str, Any]) -> ComponentsConfig:
    """The JSON file merged with the flags' ``overrides`` that apply to a components endpoint, validated."""
    data: dict[str, Any] = json.loads(path.read_text())
    given = merge({}, overrides)
    other = sorted(set(given) - set(ComponentsConfig.model_fields))
    if other:
        raise ValueError(f"{', '.join(other)}: not settings of a components endpoint (set models, environment and "
                         "autoscaling per component in the config file)")  # fmt: skip
    return ComponentsConfig.model_validate(merge(data, given))
