"""The host's NVIDIA driver against what this image's CUDA runtime needs, without torch or any CUDA call.

Three facts decide whether the GPU can be used:
- the host driver, read from ``/proc/driver/nvidia/version`` (the NVIDIA container runtime shows the host's);
- the CUDA runtime this image ships (the ``nvidia-cuda-runtime-cu*`` wheel torch depends on);
- the CUDA forward-compatibility libraries of the base image (``/usr/local/cuda/compat/libcuda.so.<driver>``),
  which let a newer CUDA runtime run on an older datacenter driver.

``compat_plan`` makes the start-up choice the container entrypoint applies (``python -m inference.gpu_host``):
prepend the compat folder to ``LD_LIBRARY_PATH`` only when the host driver is older than the compat library,
never when it is as new or newer (an older compat ``libcuda`` on a newer kernel module fails to initialise).
``unusable_reason`` words the start-up message and ``/ping`` reason when CUDA is still unavailable.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

DRIVER_VERSION_FILE = Path("/proc/driver/nvidia/version")
COMPAT_DIR = Path("/usr/local/cuda/compat")
RUNTIME_PACKAGES = ("nvidia-cuda-runtime-cu13", "nvidia-cuda-runtime-cu12", "nvidia-cuda-runtime-cu11")

# Oldest driver that runs any minor release of a CUDA major version ("minor version compatibility"),
# from NVIDIA's CUDA Toolkit release notes, table 2 (CUDA Toolkit and minimum required driver version).
MINOR_COMPAT_DRIVER = {11: (450, 80, 2), 12: (525, 60, 13), 13: (580, 65, 6)}
# Newest CUDA each driver branch supports natively (release notes, table 3: toolkit and corresponding driver).
BRANCH_CUDA = (
    (580, "13.0"), (575, "12.9"), (570, "12.8"), (565, "12.7"), (560, "12.6"), (555, "12.5"), (550, "12.4"),
    (545, "12.3"), (535, "12.2"), (530, "12.1"), (525, "12.0"), (520, "11.8"), (515, "11.7"), (510, "11.6"),
    (495, "11.5"), (470, "11.4"), (465, "11.3"), (460, "11.2"), (455, "11.1"), (450, "11.0"),
)  # fmt: skip

_MODULE_LINE = re.compile(r"Kernel Module(?:\s+for\s+\S+)?\s+(\d+\.\d+(?:\.\d+)?)")
_COMPAT_LIB = re.compile(r"^libcuda\.so\.(\d+\.\d+(?:\.\d+)?)$")

Version = tuple[int, ...]


def visible_gpus() -> list[str]:
    """GPU indices visible to this container (``CUDA_VISIBLE_DEVICES``, else the NVIDIA device files), without
    initialising CUDA or importing torch."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
    return sorted((p.name[len("nvidia") :] for p in Path("/dev").glob("nvidia[0-9]*")), key=int)


def parse_version(text: str) -> Version:
    return tuple(int(part) for part in text.split("."))


def host_driver_version(path: Path = DRIVER_VERSION_FILE) -> str | None:
    """The loaded NVIDIA kernel module's version (``470.57.02``); None where no NVIDIA driver is visible."""
    try:
        match = _MODULE_LINE.search(path.read_text(errors="replace"))
    except OSError:
        return None
    return match.group(1) if match else None


def compat_driver_version(folder: Path = COMPAT_DIR) -> str | None:
    """The driver version of the forward-compatibility ``libcuda`` in ``folder``; None where there is none."""
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError:
        return None
    found = [m.group(1) for m in map(_COMPAT_LIB.match, names) if m]
    return max(found, key=parse_version) if found else None


def image_cuda_version() -> str | None:
    """``major.minor`` of the CUDA runtime wheel torch was built against; None for a CPU-only build."""
    for package in RUNTIME_PACKAGES:
        try:
            major, minor = metadata.version(package).split(".")[:2]
        except (metadata.PackageNotFoundError, ValueError):
            continue
        return f"{major}.{minor}"
    return None


def driver_cuda(driver: str) -> str | None:
    """Newest CUDA version a driver supports natively, from its branch; None for a branch older than 450."""
    branch = parse_version(driver)[0]
    return next((cuda for first, cuda in BRANCH_CUDA if branch >= first), None)


def minimum_driver(cuda: str) -> str | None:
    needed = MINOR_COMPAT_DRIVER.get(parse_version(cuda)[0])
    return ".".join(f"{part:02d}" if i else str(part) for i, part in enumerate(needed)) if needed else None


@dataclass(frozen=True)
class CompatPlan:
    use_compat: bool
    folder: Path
    reason: str


def compat_plan(host: str | None, compat: str | None, mode: str = "auto", folder: Path = COMPAT_DIR) -> CompatPlan:
    """Whether to load the forward-compatibility libraries. ``mode``: ``auto``, ``on`` or ``off`` (EMB_CUDA_COMPAT)."""
    if mode == "off":
        return CompatPlan(False, folder, "EMB_CUDA_COMPAT=off")
    if compat is None:
        return CompatPlan(False, folder, f"no forward-compatibility libcuda in {folder}")
    if mode == "on":
        return CompatPlan(True, folder, f"EMB_CUDA_COMPAT=on: compat libcuda {compat}")
    if host is None:
        return CompatPlan(False, folder, "no NVIDIA driver on this host")
    if parse_version(host) < parse_version(compat):
        return CompatPlan(True, folder, f"host driver {host} is older than the compat libcuda {compat}")
    return CompatPlan(False, folder, f"host driver {host} is as new as the compat libcuda {compat} or newer")


def compat_in_use(folder: Path = COMPAT_DIR) -> bool:
    return str(folder) in os.environ.get("LD_LIBRARY_PATH", "").split(":")


def unusable_reason(host: str | None, image_cuda: str | None, compat_used: bool) -> str:
    """Why CUDA is unavailable although an NVIDIA GPU is present, naming the versions and the way out."""
    if image_cuda is None:
        return (
            f"an NVIDIA GPU is present (driver {host or 'unknown'}) but this is the CPU build of the image: "
            "use the GPU image"
        )
    needed = minimum_driver(image_cuda)
    have = f"host NVIDIA driver {host} (CUDA {driver_cuda(host) or 'unknown'})" if host else "host driver unknown"
    compat = (
        "the CUDA forward-compatibility libraries were loaded (EMB_CUDA_COMPAT=off disables them; they work on "
        "datacenter GPUs only)"
        if compat_used
        else "no forward-compatibility libraries were loaded"
    )
    return (
        f"CUDA is unavailable: {have}; this image's CUDA {image_cuda} runtime needs driver >= {needed}, or an "
        f"older datacenter driver with forward compatibility, and {compat}. Use a host with a newer driver "
        "(SageMaker: --inference-ami-version; docs/reference/gpu.md), or set EMB_GPU_FALLBACK=cpu "
        "to serve on the CPU"
    )


def _configured_mode() -> str:
    """EMB_CUDA_COMPAT from the settings; ``auto`` when the environment does not validate (the server says why)."""
    from pydantic import ValidationError

    from .settings import Settings

    try:
        return Settings().cuda_compat
    except ValidationError:
        return "auto"


def main(argv: list[str] | None = None) -> int:
    """Print the folder to prepend to ``LD_LIBRARY_PATH`` (nothing when none); the decision goes to stderr."""
    parser = argparse.ArgumentParser(prog="python -m inference.gpu_host", description=main.__doc__)
    parser.add_argument("--mode", choices=("auto", "on", "off"), default=None, help="default: EMB_CUDA_COMPAT")
    parser.add_argument("--driver-version-file", type=Path, default=DRIVER_VERSION_FILE)
    parser.add_argument("--compat-dir", type=Path, default=COMPAT_DIR)
    args = parser.parse_args(argv)
    mode = args.mode or _configured_mode()
    host = host_driver_version(args.driver_version_file)
    plan = compat_plan(host, compat_driver_version(args.compat_dir), mode, args.compat_dir)
    if host is not None or plan.use_compat:
        verdict = "using" if plan.use_compat else "not using"
        print(
            f"cuda: {verdict} forward compatibility ({plan.reason}); image CUDA {image_cuda_version()}",
            file=sys.stderr,
        )
    if plan.use_compat:
        print(plan.folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
