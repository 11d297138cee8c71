"""How many gunicorn workers to start and how many torch threads each gets, from the host's resources.

GPU hosts: one worker per visible GPU. CPU hosts: one worker per usable core, each running torch with
``cores // workers`` intra-op threads, as many as memory allows (each worker holds its own copy of the
model). Several single-threaded workers beat one multi-threaded worker on CPU: small embedding models
parallelise poorly inside one forward pass, and each worker's HTTP parsing, tokenization and encoding run
in its own interpreter instead of contending for one GIL (measured with ``bench/run.py``;
docs/performance/cpu.md). ``EMB_WORKERS`` and ``EMB_TORCH_THREADS`` override either number. ``EMB_CPU_CORES`` and
``EMB_MEMORY_MB`` cap the cores and memory planned with, for a container given a share of a host it sees whole
(a SageMaker inference component: infra.sagemaker sets both from its ComputeResourceRequirements).

This runs in the gunicorn master, which never imports torch: only ``os`` and the file system.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from ..gpu_host import visible_gpus as visible_gpus  # re-exported: the server plans with it
from ..model_set import weight_bytes as weight_bytes  # re-exported: the server plans with it

WORKER_OVERHEAD_BYTES = 512 * 1024**2  # interpreter + torch + transformers + activations of one worker
MEMORY_SHARE = 0.8  # of the memory available at start; the rest is headroom for the master and the OS


@dataclass(frozen=True)
class WorkerPlan:
    workers: int
    torch_threads: int | None  # None: leave torch's default (GPU workers)
    reason: str


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, limited by a cgroup v2 CPU quota (containers)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    share = _env_cap("EMB_CPU_CORES")
    return max(1, min(cores, share) if share else cores)


def available_memory_bytes() -> int | None:
    """``MemAvailable``, limited by a cgroup v2 memory limit (containers); None when neither can be read."""
    found: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
            found.append(max(0, int(limit) - used))
    except (OSError, ValueError):
        pass
    share = _env_cap("EMB_MEMORY_MB")
    if share:
        found.append(share * 1024**2)
    return min(found) if found else None


def _env_cap(name: str) -> int | None:
    """A positive whole number from the environment; None when unset or not one."""
    try:
        value = int(os.environ.get(name, ""))
    except ValueError:
        return None
    return value if value > 0 else None



def per_worker_bytes(weights: int) -> int:
    """Estimated resident memory of one CPU worker: fp32 weights (files may be half precision: x2) + overhead."""
    return 2 * weights + WORKER_OVERHEAD_BYTES


def plan_workers(
    *,
    gpus: int,
    cores: int,
    memory: int | None,
    weights: int,
    workers: int | None = None,
    torch_threads: int | None = None,
) -> WorkerPlan:
    """The plan for this host. ``workers`` / ``torch_threads``: explicit settings, which always win."""
    if gpus:
        reason = "EMB_WORKERS" if workers else "one worker per visible GPU"
        return WorkerPlan(workers or gpus, torch_threads, reason)
    if workers:
        reason = "EMB_WORKERS"
    else:
        by_memory = cores if memory is None else max(1, int(memory * MEMORY_SHARE) // per_worker_bytes(weights))
        workers = max(1, min(cores, by_memory))
        reason = "one worker per core" if workers == cores else f"memory allows {workers} model copies"
    return WorkerPlan(workers, torch_threads or max(1, cores // workers), reason)
