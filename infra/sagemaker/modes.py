"""Deployment modes of one endpoint: real-time (instances), serverless, async (instances, results in S3).

What each mode allows, what the container is told about it, and how much memory a serverless endpoint needs.
All of it is checked before any AWS call (``DeployConfig`` and ``apply``), so SageMaker never has to refuse it.

- **Real-time**: 6 MB request bodies, 60 s per invocation; the server's defaults (``EMB_MAX_BODY_MB`` 6,
  ``EMB_REQUEST_DEADLINE_S`` 45) are made for it, so nothing is set.
- **Serverless** (``ProductionVariant.ServerlessConfig``): CPU only, 1024-6144 MB of memory in 1 GB steps, 1-200
  concurrent invocations, 4 MB request bodies, 60 s per invocation; no VPC, no network isolation, no host AMI,
  no instance type or count. The container gets ``EMB_SAGEMAKER_MODE=serverless`` (the server's own defaults for
  the mode), and explicitly ``EMB_MAX_BODY_MB=4``, ``EMB_REQUEST_DEADLINE_S=45`` and ``EMB_WORKERS=1`` (one model
  copy: what the memory estimate below assumes).
- **Async** (``AsyncInferenceConfig``): the request body comes from S3 (up to 1 GB) and processing may take up to
  the invocation's ``InvocationTimeoutSeconds`` (SageMaker's default 900 s, at most 3600 s; ``embedding_client``
  and ``invoke --async-input-s3`` send 3600). The container gets ``EMB_SAGEMAKER_MODE=async`` (the server then
  allows 1 GiB bodies, reads them for up to 600 s and gives a request up to 3600 s) and explicitly
  ``EMB_MAX_BODY_MB=1024``. A deployment whose clients send a shorter ``InvocationTimeoutSeconds`` may set
  ``EMB_REQUEST_DEADLINE_S`` below it (``--env``); above 3600 s is refused (SageMaker expires the request first).
  Network isolation is off by default (``DeployConfig``): AWS Marketplace's ML restrictions say endpoints configured
  for asynchronous inference require models to have network connectivity (which is why Marketplace model packages,
  always isolated, cannot be deployed to them).

Serverless memory: one CPU worker holds the model in fp32 (weight files may be half precision: x2, as
``inference/runtime/worker_plan.per_worker_bytes`` estimates, plus its 512 MiB worker overhead) and the
container's master process, HTTP front and OS need about 512 MiB more; a memory size below that estimate is
refused, and a model above 6144 MB is pointed to an instance type.

Sources: "Deploy models with Amazon SageMaker Serverless Inference" (feature exclusions, 4 MB / 60 s),
``ProductionVariantServerlessConfig`` (memory sizes, concurrency 1-200), "Asynchronous inference" (1 GB,
``InvocationTimeoutSeconds``), AWS Marketplace "Service restrictions and quotas for machine learning products"
(asynchronous and serverless inference need network connectivity):
https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantServerlessConfig.html,
https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference.html,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpointAsync.html,
https://docs.aws.amazon.com/marketplace/latest/userguide/ml-service-restrictions-and-limits.html
"""

from __future__ import annotations

import math
import re
from typing import Final, Literal

Mode = Literal["realtime", "serverless", "async"]

SERVERLESS_MEMORY_MB: Final = (1024, 2048, 3072, 4096, 5120, 6144)
SERVERLESS_MAX_CONCURRENCY: Final = 200
SERVERLESS_BODY_MB: Final = 4
SERVERLESS_BODY_BYTES: Final = 4_000_000  # what a client may send: 4 MB read as decimal, as the client reads 6 MB
INVOCATION_TIMEOUT_S: Final = 60  # real-time and serverless
ASYNC_BODY_MB: Final = 1024
ASYNC_INVOCATION_TIMEOUT_MAX_S: Final = 3600  # InvokeEndpointAsync InvocationTimeoutSeconds' maximum
DEADLINE_SHARE: Final = 0.75  # of the invocation timeout: room for encoding and transfer (45 s of 60 s)

WORKER_OVERHEAD_BYTES: Final = 512 * 1024**2  # = worker_plan.WORKER_OVERHEAD_BYTES (a test keeps them equal)
CONTAINER_OVERHEAD_BYTES: Final = 512 * 1024**2  # gunicorn master, HTTP front, OS inside the serverless sandbox
CPU_IMAGE_HINT: Final = "build the CPU image for it: container/build.sh --flavour cpu"

MODE_ENV: Final = "EMB_SAGEMAKER_MODE"  # inference/settings.py: the mode's defaults for body, deadline, timeouts
BODY_ENV: Final = "EMB_MAX_BODY_MB"
DEADLINE_ENV: Final = "EMB_REQUEST_DEADLINE_S"
WORKERS_ENV: Final = "EMB_WORKERS"
SAGEMAKER_WORKERS_ENV: Final = "SAGEMAKER_MODEL_SERVER_WORKERS"  # the server's first choice for the same setting

ENVIRONMENT: Final[dict[Mode, dict[str, str]]] = {
    "realtime": {},
    "serverless": {
        MODE_ENV: "serverless",
        BODY_ENV: str(SERVERLESS_BODY_MB),
        DEADLINE_ENV: str(int(INVOCATION_TIMEOUT_S * DEADLINE_SHARE)),
        WORKERS_ENV: "1",
    },
    "async": {MODE_ENV: "async", BODY_ENV: str(ASYNC_BODY_MB)},
}

# Instance families with local NVMe instance storage (EC2 "Instance store volumes"): SageMaker encrypts that storage
# with a hardware module, so CreateEndpointConfig refuses a KmsKeyId for them, and there is no EBS volume to size
# (VolumeSizeInGB). The families whose name has a "d" after the generation (c5d, m5d, r5d, m6id, g4dn, p4d, p3dn,
# ...) have it; these do too without saying so in their name.
NVME_FAMILIES: Final = frozenset({"g5", "g6", "g6e", "gr6", "p5", "p5e", "p5en", "p6", "trn1", "trn1n", "trn2", "dl1"})
_FAMILY: Final = re.compile(r"^ml\.([a-z]+)(\d+)([a-z-]*)\.")


def has_local_nvme(instance_type: str) -> bool:
    """True when ``instance_type`` (``ml.g5.xlarge``) comes with local NVMe instance storage."""
    match = _FAMILY.match(instance_type)
    if not match:
        return False
    letters, generation, suffix = match.groups()
    return f"{letters}{generation}{suffix}" in NVME_FAMILIES or "d" in suffix


def environment(mode: Mode) -> dict[str, str]:
    """The container environment a mode sets (the deployment's own ``environment`` wins, within the limits)."""
    return dict(ENVIRONMENT[mode])


def check_environment(mode: Mode, env: dict[str, str]) -> None:
    """Refuse ``EMB_*`` settings the mode cannot honour (ValueError)."""
    body, deadline = env.get(BODY_ENV), env.get(DEADLINE_ENV)
    if MODE_ENV in env and env[MODE_ENV] != mode:
        raise ValueError(f"{MODE_ENV}={env[MODE_ENV]}: this deployment is {mode} (the setting is made for you)")
    limit = {"serverless": SERVERLESS_BODY_MB, "async": ASYNC_BODY_MB}.get(mode)
    if body is not None and limit is not None and not _number_within(body, 0, limit):
        raise ValueError(f"{BODY_ENV}={body}: {mode} endpoints accept request bodies up to {limit} MB")
    if mode == "async" and deadline is not None and not _number_within(deadline, 0, ASYNC_INVOCATION_TIMEOUT_MAX_S):
        raise ValueError(
            f"{DEADLINE_ENV}={deadline}: an async invocation times out after at most "
            f"{ASYNC_INVOCATION_TIMEOUT_MAX_S} s (InvocationTimeoutSeconds); the container's deadline must fit in it"
        )
    if mode == "serverless":
        if deadline is not None and not _number_within(deadline, 0, INVOCATION_TIMEOUT_S, inclusive=False):
            raise ValueError(
                f"{DEADLINE_ENV}={deadline}: a serverless invocation times out after {INVOCATION_TIMEOUT_S} s; "
                "the container's deadline must be below that"
            )
        for name in (WORKERS_ENV, SAGEMAKER_WORKERS_ENV):
            workers = env.get(name)
            if workers is not None and not (workers.isdigit() and int(workers) >= 1):
                raise ValueError(f"{name}={workers}: expected a whole number of workers, at least 1")


def _number_within(value: str, low: float, high: float, inclusive: bool = True) -> bool:
    try:
        number = float(value)
    except ValueError:
        return False
    return low < number <= high if inclusive else low < number < high


def serverless_memory_needed(weight_bytes: int, workers: int = 1) -> int:
    """Bytes a serverless endpoint needs for ``workers`` CPU workers of a model with ``weight_bytes`` of weight
    files: each ``2 x weights + 512 MiB`` (``worker_plan.per_worker_bytes``), plus 512 MiB for the container."""
    return workers * (2 * weight_bytes + WORKER_OVERHEAD_BYTES) + CONTAINER_OVERHEAD_BYTES


def check_serverless_memory(memory_mb: int, weight_bytes: int, workers: int = 1, source: str = "the model") -> None:
    """Refuse (ValueError) a serverless memory size the model cannot load in, naming the size that fits."""
    needed = serverless_memory_needed(weight_bytes, workers)
    needed_mb = math.ceil(needed / 1024**2)
    if needed_mb <= memory_mb:
        return
    what = (
        f"{source} has {weight_bytes / 1024**2:,.0f} MiB of weights; {workers} CPU worker(s) need about "
        f"{needed_mb:,} MB (2 x weights for fp32 + 512 MiB per worker + 512 MiB for the container)"
    )
    fits = next((size for size in SERVERLESS_MEMORY_MB if size >= needed_mb), None)
    if fits is None:
        raise ValueError(
            f"serverless memory {memory_mb} MB: {what}, more than serverless's largest size "
            f"({SERVERLESS_MEMORY_MB[-1]} MB); deploy it on an instance (e.g. --instance-type ml.c6i.2xlarge or "
            "ml.g5.xlarge) instead of --serverless"
        )
    raise ValueError(f"serverless memory {memory_mb} MB: {what}; use --memory-mb {fits} or more")


def looks_like_gpu_image(image_uri: str) -> bool:
    """A tag or repository that names CUDA or a GPU (``...:0.1.0-gpu``, ``.../embed-cuda``)."""
    return bool(re.search(r"(gpu|cuda)", image_uri.rsplit("/", 1)[-1], re.IGNORECASE))
