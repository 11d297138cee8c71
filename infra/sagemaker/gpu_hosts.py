"""GPU hosts of SageMaker: the NVIDIA driver each instance family and host AMI brings, and whether the image starts.

The serving image carries a CUDA runtime (``embed-serving.cuda``, 12.8: torch's CUDA 12.8 wheels) and the CUDA
forward-compatibility driver of its base image (``embed-serving.cuda-compat-driver``, 570, in
``/usr/local/cuda/compat``); the entrypoint puts that directory first on ``LD_LIBRARY_PATH`` when the host driver is
older. So the image starts on a host when

- the host driver supports the image's CUDA major version by itself (minor-version compatibility: any driver of the
  branch that introduced that major, e.g. >= 525.60.13 for CUDA 12.x), or
- the host has a data-center GPU and a driver branch that NVIDIA supports under the image's forward-compatibility
  package (``FORWARD_COMPAT_HOST_BRANCHES``).

``check_gpu_host`` applies that to an instance type plus an optional ``InferenceAmiVersion`` (endpoints) or
``TransformAmiVersion`` (batch transform) and raises ``GpuHostError`` for combinations that cannot start, naming the
driver, the CUDA the image needs and what to choose instead. Unknown instance families only warn.

Sources (the tables below cite them per row):
- SageMaker developer guide, "Best practices to minimize interruptions during GPU driver upgrades" (default driver per
  service and instance family): https://docs.aws.amazon.com/sagemaker/latest/dg/inference-gpu-drivers.html
- SageMaker API reference, ``ProductionVariant.InferenceAmiVersion`` and ``TransformResources.TransformAmiVersion``
  (the AMI values and their drivers; also botocore's ``sagemaker/2017-07-24/service-2.json``):
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariant.html
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformResources.html
- NVIDIA CUDA Compatibility guide (minor-version and forward compatibility, data-center GPUs only):
  https://docs.nvidia.com/deploy/cuda-compatibility/
- Amazon EC2 accelerated computing instance types (which GPU each family has): https://aws.amazon.com/ec2/instance-types/
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

Service = Literal["realtime", "transform"]  # async inference runs on the real-time hosts
Accelerator = Literal["nvidia", "neuron"]

AWS_DRIVERS_DOC: Final = "https://docs.aws.amazon.com/sagemaker/latest/dg/inference-gpu-drivers.html"
AWS_VARIANT_API: Final = "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariant.html"
AWS_TRANSFORM_API: Final = "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformResources.html"
AWS_EC2_TYPES: Final = "https://aws.amazon.com/ec2/instance-types/"
NVIDIA_COMPAT_DOC: Final = "https://docs.nvidia.com/deploy/cuda-compatibility/"

IMAGE_CUDA: Final = "12.8"  # the image label embed-serving.cuda
IMAGE_COMPAT_DRIVER: Final = 570  # the image label embed-serving.cuda-compat-driver (nvidia/cuda:12.8.1 base)


@dataclass(frozen=True)
class HostAmi:
    """One ``InferenceAmiVersion`` / ``TransformAmiVersion`` value and the driver it brings."""

    name: str
    service: Service
    accelerator: Accelerator
    driver_branch: int | None  # NVIDIA driver branch; None for Neuron
    cuda: str | None  # the CUDA version AWS lists for the AMI (for batch AMIs: that of the driver branch)
    compat_mounting_disabled: bool  # "NVIDIA Container Toolkit with disabled CUDA-compat mounting"
    source: str


@dataclass(frozen=True)
class InstanceFamily:
    """A SageMaker GPU instance family: its GPU and the driver branch its hosts run without an AMI override."""

    family: str
    gpu: str
    compute_capability: float
    realtime_driver: int | None  # real-time and async; None: AWS publishes no default for this family
    transform_driver: int | None  # batch transform; None: not published
    source: str


# Driver branch -> the newest CUDA it supports natively (NVIDIA's driver / toolkit tables).
DRIVER_CUDA: Final[dict[int, str]] = {470: "11.4", 525: "12.0", 535: "12.2", 550: "12.4", 570: "12.8", 580: "13.0"}

# CUDA major -> the first driver branch of that major: with it, any CUDA <major>.x runtime runs natively
# (minor-version compatibility; CUDA 12.x needs >= 525.60.13, CUDA 13.x >= 580).
NATIVE_MIN_BRANCH: Final[dict[int, int]] = {11: 450, 12: 525, 13: 580}

# Forward-compatibility package (by the driver it is built from) -> host driver branches NVIDIA supports it on
# (data-center GPUs only). 570 (cuda-compat-12-8): R470 (>= 470.57), R525, R535, R550, as NVIDIA's container release
# notes list under "Driver Requirements" (R545, R555, R560 are not supported). 580 (cuda-compat-13-0): R535, R550,
# R570; R470 is end of life and not among them.
FORWARD_COMPAT_HOST_BRANCHES: Final[dict[int, tuple[int, ...]]] = {570: (470, 525, 535, 550), 580: (535, 550, 570)}

# CUDA major -> lowest compute capability its toolkit still targets (CUDA 12 dropped Kepler; CUDA 13 starts at Turing).
MIN_COMPUTE_CAPABILITY: Final[dict[int, float]] = {12: 5.0, 13: 7.5}

AMIS: Final[tuple[HostAmi, ...]] = (
    HostAmi("al2-ami-sagemaker-inference-gpu-2", "realtime", "nvidia", 535, "12.2", False, AWS_VARIANT_API),
    HostAmi("al2-ami-sagemaker-inference-gpu-2-1", "realtime", "nvidia", 535, "12.2", True, AWS_VARIANT_API),
    HostAmi("al2-ami-sagemaker-inference-gpu-3-1", "realtime", "nvidia", 550, "12.4", True, AWS_VARIANT_API),
    HostAmi("al2023-ami-sagemaker-inference-gpu-4-1", "realtime", "nvidia", 580, "13.0", True, AWS_VARIANT_API),
    HostAmi("al2-ami-sagemaker-inference-neuron-2", "realtime", "neuron", None, None, False, AWS_VARIANT_API),
    HostAmi("al2-ami-sagemaker-batch-gpu-470", "transform", "nvidia", 470, "11.4", False, AWS_TRANSFORM_API),
    HostAmi("al2-ami-sagemaker-batch-gpu-535", "transform", "nvidia", 535, "12.2", False, AWS_TRANSFORM_API),
)

# GPUs: AWS_EC2_TYPES. Default drivers: AWS_DRIVERS_DOC (real-time and asynchronous inference share hosts; the
# page lists batch transform defaults only for the 470 families).
FAMILIES: Final[tuple[InstanceFamily, ...]] = (
    InstanceFamily("p2", "NVIDIA K80", 3.7, 470, 470, AWS_DRIVERS_DOC),
    InstanceFamily("p3", "NVIDIA V100", 7.0, 470, 470, AWS_DRIVERS_DOC),
    InstanceFamily("g4dn", "NVIDIA T4", 7.5, 470, 470, AWS_DRIVERS_DOC),
    InstanceFamily("g5", "NVIDIA A10G", 8.6, 470, 470, AWS_DRIVERS_DOC),
    InstanceFamily("p4d", "NVIDIA A100 40GB", 8.0, 470, 470, AWS_DRIVERS_DOC),
    InstanceFamily("p4de", "NVIDIA A100 80GB", 8.0, 470, 470, AWS_DRIVERS_DOC),
    InstanceFamily("g6", "NVIDIA L4", 8.9, 535, None, AWS_DRIVERS_DOC),
    InstanceFamily("p5", "NVIDIA H100", 9.0, 535, None, AWS_DRIVERS_DOC),
    InstanceFamily("p5e", "NVIDIA H200", 9.0, 550, None, AWS_DRIVERS_DOC),
    InstanceFamily("p5en", "NVIDIA H200", 9.0, 550, None, AWS_DRIVERS_DOC),
    InstanceFamily("g6e", "NVIDIA L40S", 8.9, None, None, AWS_EC2_TYPES),
)

# The NVIDIA driver branches SageMaker GPU hosts run, by default or through an AMI (a family with no published default
# has one of these).
KNOWN_HOST_BRANCHES: Final = tuple(sorted({a.driver_branch for a in AMIS if a.driver_branch} | {470, 535, 550}))

_BY_AMI: Final = {(a.service, a.name): a for a in AMIS}
_BY_FAMILY: Final = {f.family: f for f in FAMILIES}
_CPU_FAMILY: Final = re.compile(r"^[cmrtx]\d")  # ml.c5, ml.m6i, ml.r5, ml.t3, ... (no accelerator)
_NEURON_FAMILY: Final = re.compile(r"^(inf|trn)\d")  # Inferentia / Trainium
_INSTANCE: Final = re.compile(r"^ml\.([a-z0-9-]+)\.[a-z0-9]+$")
AMI_FIELD: Final[dict[Service, str]] = {"realtime": "InferenceAmiVersion", "transform": "TransformAmiVersion"}
_SERVICE_NAME: Final[dict[Service, str]] = {
    "realtime": "SageMaker real-time/async inference",
    "transform": "SageMaker batch transform",
}


class GpuHostError(ValueError):
    """The image cannot start on this instance type / host AMI; the message says what to choose instead."""


class GpuHostWarning(UserWarning):
    """The combination may start but is not covered by the published facts (unknown family, unpublished driver)."""


@dataclass(frozen=True)
class HostCheck:
    """The outcome of a check that did not refuse: how the image runs there, and anything worth a warning."""

    instance_type: str
    family: str
    gpu: str | None  # None: no NVIDIA GPU (CPU or Neuron host), or an unknown family
    driver_branch: int | None  # None: no NVIDIA driver, or not published
    mode: Literal["cpu", "native", "forward-compat", "unknown"]
    warnings: tuple[str, ...] = ()


def parse_cuda(version: str) -> tuple[int, int]:
    """``"12.8"`` -> ``(12, 8)``."""
    match = re.fullmatch(r"(\d+)\.(\d+)", version.strip())
    if not match:
        raise GpuHostError(f"image CUDA version must look like 12.8, got {version!r}")
    return int(match.group(1)), int(match.group(2))


def host_ami(name: str, service: Service) -> HostAmi | None:
    return _BY_AMI.get((service, name))


def instance_family(instance_type: str) -> InstanceFamily | None:
    match = _INSTANCE.match(instance_type)
    return _BY_FAMILY.get(match.group(1)) if match else None


def amis(service: Service) -> tuple[HostAmi, ...]:
    return tuple(a for a in AMIS if a.service == service)


def runs_on(driver_branch: int, cuda: tuple[int, int], compat_driver: int | None) -> str | None:
    """How an image needing CUDA ``cuda`` runs on a data-center GPU with ``driver_branch``: ``"native"``,
    ``"forward-compat"``, or None (it does not)."""
    major, _ = cuda
    native_min = NATIVE_MIN_BRANCH.get(major)
    if native_min is not None and driver_branch >= native_min:
        return "native"
    compat_cuda = DRIVER_CUDA.get(compat_driver) if compat_driver else None
    if compat_driver is None or compat_cuda is None or parse_cuda(compat_cuda) < cuda:
        return None  # no compat libs, or libs too old for the image's runtime
    return "forward-compat" if driver_branch in FORWARD_COMPAT_HOST_BRANCHES.get(compat_driver, ()) else None


def _needs(cuda: tuple[int, int], compat_driver: int | None) -> str:
    major, minor = cuda
    native = f"driver >= {NATIVE_MIN_BRANCH[major]}" if major in NATIVE_MIN_BRANCH else "a driver of its CUDA major"
    if compat_driver in FORWARD_COMPAT_HOST_BRANCHES:
        branches = ", ".join(map(str, FORWARD_COMPAT_HOST_BRANCHES[compat_driver]))
        return (
            f"the image needs CUDA {major}.{minor}: {native} natively, or host branch {branches} through its "
            f"forward-compatibility driver {compat_driver} (data-center GPUs)"
        )
    return f"the image needs CUDA {major}.{minor}: {native} (it has no usable forward-compatibility driver)"


def _alternatives(service: Service, cuda: tuple[int, int], compat_driver: int | None) -> str:
    usable = [
        f"{a.name} (driver {a.driver_branch}, {mode})"
        for a in amis(service)
        if a.driver_branch is not None and (mode := runs_on(a.driver_branch, cuda, compat_driver))
    ]
    field = AMI_FIELD[service]
    if not usable:
        return f"no {field} value runs it: build the image for an older CUDA, or use a CPU instance"
    return f"choose {field} " + " or ".join(usable)


def check_gpu_host(
    instance_type: str,
    inference_ami_version: str | None = None,
    image_cuda: str = IMAGE_CUDA,
    compat_driver: int | None = IMAGE_COMPAT_DRIVER,
    *,
    service: Service = "realtime",
) -> HostCheck:
    """Refuse (``GpuHostError``) an instance type / host AMI on which an image with CUDA ``image_cuda`` and forward-
    compatibility driver ``compat_driver`` (None: the image has none) cannot start. ``inference_ami_version`` is the
    ``InferenceAmiVersion`` (``service="realtime"``, also async) or ``TransformAmiVersion`` (``"transform"``)."""
    cuda = parse_cuda(image_cuda)
    ami = None
    if inference_ami_version:
        ami = host_ami(inference_ami_version, service)
        if ami is None:
            known = ", ".join(a.name for a in amis(service))
            raise GpuHostError(
                f"unknown {AMI_FIELD[service]} {inference_ami_version!r} for {_SERVICE_NAME[service]}; "
                f"known values: {known}"
            )
    match = _INSTANCE.match(instance_type)
    family = instance_family(instance_type)
    if family is None:
        return _not_a_known_gpu(instance_type, match.group(1) if match else instance_type, ami, image_cuda, service)
    return _gpu(instance_type, family, ami, cuda, compat_driver, service)


def _not_a_known_gpu(
    instance_type: str, family_name: str, ami: HostAmi | None, image_cuda: str, service: Service
) -> HostCheck:
    """CPU and Neuron instances (refused with a host AMI of the other kind), and unknown families (a warning)."""
    field = AMI_FIELD[service]
    if _CPU_FAMILY.match(family_name):
        if ami is not None:
            kind = "an NVIDIA GPU" if ami.accelerator == "nvidia" else "a Neuron"
            raise GpuHostError(
                f"{instance_type} has no accelerator, but {field} {ami.name} selects {kind} host image; leave "
                f"{field} empty on CPU instances"
            )
        return HostCheck(instance_type, family_name, None, None, "cpu")
    if _NEURON_FAMILY.match(family_name):
        if ami is not None and ami.accelerator == "nvidia":
            neuron_ami = "".join(f" or use {a.name}" for a in amis(service) if a.accelerator == "neuron")
            raise GpuHostError(
                f"{instance_type} is an AWS Inferentia/Trainium instance without an NVIDIA GPU, but {field} "
                f"{ami.name} is an NVIDIA GPU host image (driver {ami.driver_branch}); leave {field} empty"
                f"{neuron_ami}, or choose a GPU instance (ml.g5, ml.g6, ...)"
            )
        note = f"{instance_type} has no NVIDIA GPU: the image serves on its CPUs (the Neuron cores stay unused)"
        return HostCheck(instance_type, family_name, None, None, "cpu", (note,))
    note = (
        f"instance family {family_name!r} is not in infra/sagemaker/gpu_hosts.py: its GPU and default driver are "
        f"unknown here, so nothing checks that the CUDA {image_cuda} image starts on it"
    )
    return HostCheck(instance_type, family_name, None, ami.driver_branch if ami else None, "unknown", (note,))


def _gpu(
    instance_type: str,
    family: InstanceFamily,
    ami: HostAmi | None,
    cuda: tuple[int, int],
    compat_driver: int | None,
    service: Service,
) -> HostCheck:
    field, where, gpu = AMI_FIELD[service], _SERVICE_NAME[service], f"{instance_type} ({family.gpu})"
    image = f"{cuda[0]}.{cuda[1]}"
    if ami is not None and ami.accelerator == "neuron":
        raise GpuHostError(
            f"{gpu} is an NVIDIA GPU instance, but {field} {ami.name} is the Inferentia/Trainium (Neuron) host image; "
            f"{_alternatives(service, cuda, compat_driver)}, or leave {field} empty"
        )
    min_cc = MIN_COMPUTE_CAPABILITY.get(cuda[0])
    if min_cc is not None and family.compute_capability < min_cc:
        raise GpuHostError(
            f"{gpu} has compute capability {family.compute_capability}; CUDA {cuda[0]}.x targets {min_cc} and newer, "
            f"so the CUDA {image} image cannot use it; choose a newer GPU family (ml.g5, ml.g6, ml.p4d, ...)"
        )
    warnings: list[str] = []
    if family.compute_capability < 7.5:
        warnings.append(
            f"{family.gpu} is compute capability {family.compute_capability}: PyTorch's CUDA 12.8 wheels dropped "
            "Volta (sm_70) from release 2.11, so the torch build in the image decides whether it runs on this GPU"
        )
    default = family.realtime_driver if service == "realtime" else family.transform_driver
    driver = ami.driver_branch if ami is not None else default
    if driver is None:  # no AMI and no published default: it is one of the branches SageMaker hosts run
        failing = [b for b in KNOWN_HOST_BRANCHES if not runs_on(b, cuda, compat_driver)]
        if failing:
            raise GpuHostError(
                f"{gpu} on {where}: AWS publishes no default NVIDIA driver for this family, and on driver "
                f"{'/'.join(map(str, failing))} {_needs(cuda, compat_driver)}; pin the host driver: "
                f"{_alternatives(service, cuda, compat_driver)}"
            )
        warnings.append(
            f"{gpu} on {where}: AWS publishes no default NVIDIA driver for this family; the image starts on every "
            f"branch SageMaker hosts run ({', '.join(map(str, KNOWN_HOST_BRANCHES))}), but setting {field} pins it"
        )
        return HostCheck(instance_type, family.family, family.gpu, None, "unknown", tuple(warnings))
    mode = runs_on(driver, cuda, compat_driver)
    if mode is None:
        origin = f"{field} {ami.name}" if ami is not None else "the default host"
        raise GpuHostError(
            f"{gpu} on {where} runs NVIDIA driver {driver} (CUDA {DRIVER_CUDA.get(driver, '?')}) with {origin}; "
            f"{_needs(cuda, compat_driver)}; {_alternatives(service, cuda, compat_driver)}"
        )
    checked: Literal["native", "forward-compat"] = "native" if mode == "native" else "forward-compat"
    return HostCheck(instance_type, family.family, family.gpu, driver, checked, tuple(warnings))
