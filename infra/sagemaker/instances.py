"""What one SageMaker instance offers inference components: accelerators (GPUs), vCPUs and memory.

``capacity("ml.g5.12xlarge")`` -> ``Capacity(accelerators=4, vcpus=48, memory_mb=196608)``; None for a type this
table does not know (the components' fit is then not checked here, SageMaker checks it on CreateInferenceComponent).
SageMaker keeps part of each instance for itself, so components whose requirements add up to exactly the whole host
may still not all be placed; ``HEADROOM`` is the share this tool warns above.

Source: Amazon EC2 instance types (accelerated computing, compute/general purpose/memory optimized),
https://aws.amazon.com/ec2/instance-types/ (SageMaker ``ml.`` types are the EC2 types of the same name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

HEADROOM: Final = 0.9  # warn when components reserve more than this share of an instance's memory
GIB_MB: Final = 1024


@dataclass(frozen=True)
class Capacity:
    accelerators: int
    vcpus: int
    memory_mb: int


# size -> vCPUs (CPU families); memory is vCPUs x GiB per vCPU of the family
_SIZE_VCPUS: Final[dict[str, int]] = {
    "large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32, "9xlarge": 36, "12xlarge": 48,
    "16xlarge": 64, "18xlarge": 72, "24xlarge": 96, "32xlarge": 128, "48xlarge": 192,
}  # fmt: skip
_GIB_PER_VCPU: Final[dict[str, int]] = {
    **dict.fromkeys(("c5", "c5d", "c6i", "c7i", "c6g", "c6gd", "c6gn", "c7g", "c8g", "c6in"), 2),
    **dict.fromkeys(("m5", "m5d", "m6i", "m7i", "m6g", "m6gd", "m8g"), 4),
    **dict.fromkeys(("r5", "r5d", "r6i", "r7i", "r6g", "r6gd", "r7gd", "r8g"), 8),
}
# GPU families: size -> (GPUs, vCPUs, GiB)
_G5: Final = {"xlarge": (1, 4, 16), "2xlarge": (1, 8, 32), "4xlarge": (1, 16, 64), "8xlarge": (1, 32, 128),
              "12xlarge": (4, 48, 192), "16xlarge": (1, 64, 256), "24xlarge": (4, 96, 384),
              "48xlarge": (8, 192, 768)}  # fmt: skip
_GPU: Final[dict[str, dict[str, tuple[int, int, int]]]] = {
    "g4dn": {size: spec for size, spec in _G5.items() if size not in ("24xlarge", "48xlarge")},
    "g5": _G5,
    "g6": _G5,
    "g6e": {size: (gpus, vcpus, 2 * gib) for size, (gpus, vcpus, gib) in _G5.items()},
    "p3": {"2xlarge": (1, 8, 61), "8xlarge": (4, 32, 244), "16xlarge": (8, 64, 488)},
    "p4d": {"24xlarge": (8, 96, 1152)},
    "p4de": {"24xlarge": (8, 96, 1152)},
    "p5": {"48xlarge": (8, 192, 2048)},
}
_TYPE = re.compile(r"^ml\.([a-z0-9\-]+)\.([a-z0-9]+)$")


def capacity(instance_type: str) -> Capacity | None:
    """The instance's accelerators, vCPUs and memory (MiB); None when unknown."""
    match = _TYPE.match(instance_type)
    if not match:
        return None
    family, size = match.groups()
    if family in _GPU:
        spec = _GPU[family].get(size)
        return None if spec is None else Capacity(spec[0], spec[1], spec[2] * GIB_MB)
    if family in _GIB_PER_VCPU and size in _SIZE_VCPUS:
        vcpus = _SIZE_VCPUS[size]
        return Capacity(0, vcpus, vcpus * _GIB_PER_VCPU[family] * GIB_MB)
    return None
