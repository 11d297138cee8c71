"""The deployment description: one validated, frozen pydantic model, no Google imports.

Contract: a :class:`VertexConfig` that validates can be turned into request messages by ``plan`` without further
checks: ids follow Vertex's resource-id rules, the image is pinned and lives in Artifact Registry (or the legacy
Container Registry), ``artifact_uri`` is a ``gs://`` folder, machine type and accelerator agree (the obvious
families: g2 = L4, a2 = A100, a3 = H100 / H200 by series, a4 = B200, n1 = T4/V100/P100/P4, CPU-only families
take none), replica bounds and autoscaling targets are consistent, the start-up probe fits in the deployment
timeout, an inference timeout comes only with a dedicated endpoint, and ``env`` holds neither ``AIP_*`` names
(Vertex sets them) nor credential-looking names (environment variables are plain text in the model resource).
"""

from __future__ import annotations

import re

from pydantic import ConfigDict, Field, field_validator, model_validator

from ..config_file import ENV_NAME_RE, FileConfig, check_env_name, check_image, check_route

# Endpoint ids (CreateEndpointRequest.endpoint_id): a letter, then [a-z0-9-], ending alphanumeric, <= 63 chars.
ENDPOINT_ID_RE = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# Model ids (UploadModelRequest.model_id): [a-z0-9_-], <= 63 chars, not starting with a digit or '-'.
MODEL_ID_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,62}$")
REGION_RE = re.compile(r"^[a-z]+-[a-z]+\d+$")
# Image registries Vertex AI pulls custom containers from.
IMAGE_HOST_RE = re.compile(r"^[a-z0-9-]+-docker\.pkg\.dev/|^([a-z]+\.)?gcr\.io/")
# Machine family -> accelerators it takes (Vertex AI prediction machine types). CPU families take none.
FAMILY_ACCELERATORS: dict[str, frozenset[str]] = {
    "n1": frozenset({"NVIDIA_TESLA_T4", "NVIDIA_TESLA_V100", "NVIDIA_TESLA_P100", "NVIDIA_TESLA_P4"}),
    "g2": frozenset({"NVIDIA_L4"}),
    "a2": frozenset({"NVIDIA_TESLA_A100", "NVIDIA_A100_80GB"}),
    "a3": frozenset({"NVIDIA_H100_80GB", "NVIDIA_H100_MEGA_80GB", "NVIDIA_H200_141GB"}),
    "a4": frozenset({"NVIDIA_B200"}),
}
# Machine series that come with one GPU model (a3-ultragpu-8g: 8 x H200 141GB; a4-highgpu-8g: 8 x B200).
SERIES_ACCELERATOR = {
    "a3-highgpu": "NVIDIA_H100_80GB",
    "a3-megagpu": "NVIDIA_H100_MEGA_80GB",
    "a3-ultragpu": "NVIDIA_H200_141GB",
    "a4-highgpu": "NVIDIA_B200",
}
# Families that only exist with their GPUs attached.
GPU_ONLY_FAMILIES = frozenset({"g2", "a2", "a3", "a4"})
# g2 machine type -> the L4 count it comes with.
G2_L4_COUNT = {4: 1, 8: 1, 12: 1, 16: 1, 32: 1, 24: 2, 48: 4, 96: 8}
# Vertex's per-deployed-model replica ceiling is quota-bound; this guards against typos (1000 vs 10).
MAX_REPLICAS = 1000
# Vertex AI's limits: a deployment may take up to 2 hours (deploymentTimeout); a dedicated endpoint's inference
# timeout is at most an hour and 600 s when not set (clientConnectionConfig.inferenceTimeout).
MAX_DEPLOYMENT_TIMEOUT_S = 7200
MAX_INFERENCE_TIMEOUT_S = 3600
DEFAULT_INFERENCE_TIMEOUT_S = 600
DEDICATED_MAX_BODY_MB = 10  # a dedicated endpoint's request limit (shared endpoints: 1.5 MB, below the server's 6)
DEADLINE_MARGIN_S = 15  # the server answers (503 / 413) this long before Vertex's inference timeout would cut it


def expected_accelerator_count(machine_type: str) -> int | None:
    """The GPU count a fixed-GPU machine type comes with (g2-standard-24 -> 2, a2-highgpu-4g -> 4), else None."""
    family = machine_type.split("-", 1)[0]
    if family == "g2":
        size = machine_type.rsplit("-", 1)[-1]
        return G2_L4_COUNT.get(int(size)) if size.isdigit() else None
    if family in ("a2", "a3", "a4"):
        match = re.search(r"-(\d+)g$", machine_type)
        return int(match.group(1)) if match else None
    return None


class VertexTarget(FileConfig):
    """Which endpoint: all that ``status``, ``traffic``, ``undeploy`` and ``delete`` need. Unknown keys are ignored,
    so the full deploy JSON file can be read as a target."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    project: str = Field(min_length=1, description="Google Cloud project id.")
    region: str = Field("us-central1", description="Vertex AI region, e.g. us-central1, europe-west4.")
    endpoint_id: str = Field(description="Endpoint id (last part of its resource name); created if missing.")
    endpoint_display_name: str | None = Field(None, description="Display name; None: the endpoint_id.")
    deployed_model_name: str = Field(
        "blue", min_length=1, max_length=128, description="Display name of the deployed model (blue/green)."
    )

    @field_validator("region")
    @classmethod
    def _check_region(cls, value: str) -> str:
        if not REGION_RE.match(value):
            raise ValueError("expected a region such as us-central1")
        return value

    @field_validator("endpoint_id")
    @classmethod
    def _check_endpoint_id(cls, value: str) -> str:
        if not ENDPOINT_ID_RE.match(value):
            raise ValueError("endpoint ids are 1-63 chars of [a-z0-9-], start with a letter, end alphanumeric")
        return value

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"

    @property
    def endpoint_name(self) -> str:
        """Full resource name of the endpoint."""
        return f"{self.parent}/endpoints/{self.endpoint_id}"

    @property
    def api_endpoint(self) -> str:
        """Regional API host the clients must talk to."""
        return f"{self.region}-aiplatform.googleapis.com"


class VertexConfig(VertexTarget):
    """Everything ``deploy`` needs. JSON files (``deploy.example.json``) map 1:1 onto these fields; unknown keys
    are errors (typos must not silently fall back to defaults)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image: str = Field(description="Image in Artifact Registry, pinned: REGION-docker.pkg.dev/PROJECT/REPO/IMG:TAG.")
    model_id: str = Field(
        "jina-embedding-serving-v1",
        description="Model resource id; one per image/artifacts pair (upload a new id for a new image: blue/green).",
    )
    model_display_name: str | None = Field(None, description="Model display name; None: the model_id.")
    artifact_uri: str | None = Field(
        None, description="gs:// model folder (Vertex passes it as AIP_STORAGE_URI); None: the image's model."
    )

    # Container contract (see container/ and inference/settings.py).
    port: int = Field(8080, ge=1, le=65535, description="Port the server listens on (AIP_HTTP_PORT).")
    predict_route: str = Field("/predict", description="Vertex forwards :predict/:rawPredict here (AIP_PREDICT_ROUTE).")
    health_route: str = Field("/health", description="Vertex's health checks (AIP_HEALTH_ROUTE); 200 once ready.")
    env: dict[str, str] = Field(default_factory=dict, description="Extra container environment (EMB_* etc.).")
    startup_timeout_s: int = Field(
        1800, ge=10, le=MAX_DEPLOYMENT_TIMEOUT_S,
        description="How long a starting container may take to answer health_route 200 (copying artifact_uri, "
        "loading the model) before Vertex restarts it: containerSpec.startupProbe (an HTTP GET of health_route every "
        "probe_period_s). The port is bound within a second or two of start, so only this bounds a slow start.",
    )  # fmt: skip
    probe_period_s: int = Field(10, ge=1, le=300, description="Seconds between start-up and health probes.")
    health_probe_failures: int = Field(
        3, ge=1, le=100, description="Failed health probes in a row before Vertex stops routing to a replica."
    )
    deployment_timeout_s: int = Field(
        3600, ge=60, le=MAX_DEPLOYMENT_TIMEOUT_S,
        description="containerSpec.deploymentTimeout: how long a DeployModel may take (machine, image pull, "
        "start-up) before Vertex gives up; at least startup_timeout_s.",
    )  # fmt: skip

    # Endpoint kind (set when the endpoint is created; an existing endpoint keeps its kind).
    dedicated_endpoint: bool = Field(
        False,
        description="A dedicated endpoint (dedicated_endpoint_enabled): its own DNS name, requests up to 10 MB "
        "(shared: 1.5 MB) and an inference timeout up to an hour; the shared regional host refuses its requests.",
    )
    inference_timeout_s: int | None = Field(
        None, ge=30, le=MAX_INFERENCE_TIMEOUT_S,
        description="Dedicated endpoints: how long Vertex waits for a prediction (clientConnectionConfig."
        "inferenceTimeout); None: Vertex's default, 600 s.",
    )  # fmt: skip

    # Compute.
    machine_type: str = Field("g2-standard-8", description="Prediction machine type; needs quota in the region.")
    accelerator_type: str | None = Field(
        "NVIDIA_L4", description="AcceleratorType enum name (NVIDIA_L4, NVIDIA_TESLA_T4, ...); None: CPU only."
    )
    accelerator_count: int | None = Field(None, ge=1, description="GPUs per replica; None: 1 (or the machine's).")
    min_replica_count: int = Field(1, ge=1, le=MAX_REPLICAS, description="Replicas always up (billed 24/7).")
    max_replica_count: int | None = Field(None, ge=1, le=MAX_REPLICAS, description="None: min_replica_count.")
    autoscaling_target_cpu_utilization: int | None = Field(
        None, ge=1, le=100, description="Scale on CPU %; Vertex's default is 60 when no target is given."
    )
    autoscaling_target_accelerator_duty_cycle: int | None = Field(
        None, ge=1, le=100, description="Scale on GPU duty cycle % (GPU machines only)."
    )
    traffic_percent: int = Field(100, ge=0, le=100, description="Share of the endpoint's traffic for this model.")
    service_account: str | None = Field(
        None, description="Service account the container runs as (needs storage read on artifact_uri)."
    )
    labels: dict[str, str] = Field(default_factory=lambda: {"app": "jina-embedding-serving"})

    @field_validator("model_id")
    @classmethod
    def _check_model_id(cls, value: str) -> str:
        if not MODEL_ID_RE.match(value):
            raise ValueError("model ids are 1-63 chars of [a-z0-9_-] and do not start with a digit or '-'")
        return value

    @field_validator("image")
    @classmethod
    def _check_image(cls, value: str) -> str:
        return check_image(value, (IMAGE_HOST_RE, "Vertex AI pulls from Artifact Registry: "
                                                  "REGION-docker.pkg.dev/PROJECT/REPO/IMAGE:TAG"))

    @field_validator("artifact_uri")
    @classmethod
    def _check_artifact_uri(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^gs://[a-z0-9][a-z0-9._-]{1,221}[a-z0-9](/.*)?$", value):
            raise ValueError("artifact_uri must be a Cloud Storage folder: gs://BUCKET/PATH")
        return value

    @field_validator("predict_route", "health_route")
    @classmethod
    def _check_route(cls, value: str) -> str:
        return check_route(value, "/predict")

    @field_validator("env")
    @classmethod
    def _check_env(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name.upper().startswith("AIP_") and ENV_NAME_RE.match(name):
                raise ValueError(f"{name!r}: AIP_* variables are set by Vertex AI from the container spec")
            check_env_name(name, "model environment variables are plain text. Use Secret Manager instead.")
        return value

    @model_validator(mode="after")
    def _check_machine(self) -> VertexConfig:
        family = self.machine_type.split("-", 1)[0]
        accel = self.accelerator_type
        if self.accelerator_count is not None and accel is None:
            raise ValueError("accelerator_count needs accelerator_type")
        if accel is None:
            if family in GPU_ONLY_FAMILIES:
                raise ValueError(f"{self.machine_type} comes with GPUs: set accelerator_type")
            if self.autoscaling_target_accelerator_duty_cycle is not None:
                raise ValueError("autoscaling_target_accelerator_duty_cycle needs an accelerator")
            return self
        allowed = FAMILY_ACCELERATORS.get(family)
        if allowed is None:
            raise ValueError(f"{self.machine_type} takes no accelerator (GPUs: n1, g2, a2, a3, a4 machine types)")
        series = SERIES_ACCELERATOR.get(self.machine_type.rsplit("-", 1)[0])
        if series is not None and accel != series:
            raise ValueError(f"{accel} does not attach to {self.machine_type}; it comes with {series}")
        if accel not in allowed:
            raise ValueError(f"{accel} does not attach to {self.machine_type}; use one of {sorted(allowed)}")
        fixed = expected_accelerator_count(self.machine_type)
        if fixed is not None and self.accelerator_count not in (None, fixed):
            raise ValueError(f"{self.machine_type} comes with {fixed} x {accel}, not {self.accelerator_count}")
        return self

    @model_validator(mode="after")
    def _check_replicas(self) -> VertexConfig:
        if self.max_replica_count is not None and self.max_replica_count < self.min_replica_count:
            raise ValueError("max_replica_count must be >= min_replica_count")
        return self

    @model_validator(mode="after")
    def _check_timeouts(self) -> VertexConfig:
        if self.deployment_timeout_s < self.startup_timeout_s:
            raise ValueError("deployment_timeout_s must be >= startup_timeout_s (the start-up is part of the deploy)")
        if self.inference_timeout_s is not None and not self.dedicated_endpoint:
            raise ValueError("inference_timeout_s needs dedicated_endpoint: shared endpoints have a fixed timeout")
        return self

    @property
    def container_env(self) -> dict[str, str]:
        """``env`` over what the endpoint kind implies for the server: on a dedicated endpoint, its kind
        (``EMB_VERTEX_ENDPOINT``: answers up to 10 MB), bodies up to 10 MB (``EMB_MAX_BODY_MB``) and a request
        deadline just inside the inference timeout (``EMB_REQUEST_DEADLINE_S``), so that large requests are not
        refused by the server's shared-endpoint and real-time defaults (1.5 MB answers, 6 MiB bodies, 45 s)."""
        implied: dict[str, str] = {}
        if self.dedicated_endpoint:
            timeout = self.inference_timeout_s or DEFAULT_INFERENCE_TIMEOUT_S
            implied = {"EMB_VERTEX_ENDPOINT": "dedicated", "EMB_MAX_BODY_MB": str(DEDICATED_MAX_BODY_MB),
                       "EMB_REQUEST_DEADLINE_S": str(timeout - DEADLINE_MARGIN_S)}  # fmt: skip
        return {**implied, **self.env}

    @property
    def gpu_count(self) -> int:
        """GPUs per replica (0 on CPU machines)."""
        if self.accelerator_type is None:
            return 0
        return self.accelerator_count or expected_accelerator_count(self.machine_type) or 1

    @property
    def max_replicas(self) -> int:
        return self.max_replica_count or self.min_replica_count

    @property
    def model_name(self) -> str:
        """Full resource name of the model."""
        return f"{self.parent}/models/{self.model_id}"
