"""The deployment description: one validated, frozen pydantic model, no Azure imports.

Contract: an :class:`AzureMLConfig` that validates can be turned into entities by ``plan`` without
further checks: names satisfy ARM's naming rules (no '.' anywhere: the REST API refuses it), the image is
pinned (tag or digest), the request timeout is within the managed-endpoint limit, instance counts stay
within the per-deployment limit (50 by default; raise ``instance_limit`` once Azure has granted more),
the autoscale bounds are consistent, and ``env`` holds no credential-looking names (secrets belong in
Key Vault / workspace connections, never in a deployment's plain-text variables).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..config_file import FileConfig, check_env_name, check_image, check_route

# Azure ML: 3-32 chars, starts with a letter, letters/digits/'-', ends with a letter or digit.
ENDPOINT_NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")
# Asset (environment/model) container names, as the ARM REST API checks them (api-version 2024-04-01):
# letters, digits, '-', '_'; start alphanumeric; max 255. No '.', though some SDK docs allow it.
ASSET_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$")
# Managed online endpoints cap the scoring timeout at 180 s.
MAX_REQUEST_TIMEOUT_S = 180
# Default limit on instances per managed online deployment (Azure grants more on request).
DEFAULT_INSTANCE_LIMIT = 50
# SKUs Azure ML does not reserve the extra 20% upgrade quota for (Azure ML's managed online endpoint SKU list).
QUOTA_RESERVE_EXEMPT_SKUS = frozenset(
    {
        "standard_nc24ads_a100_v4",
        "standard_nc48ads_a100_v4",
        "standard_nc96ads_a100_v4",
        "standard_nd96asr_v4",
        "standard_nd96amsr_a100_v4",
        "standard_nd40rs_v2",
    }
)
AuthMode = Literal["key", "aml_token", "aad_token"]
# Azure Monitor metrics of Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments usable for
# autoscale: utilisation in percent, latency in milliseconds (all reported at one-minute grain).
AutoscaleMetric = Literal[
    "CpuUtilizationPercentage",
    "GpuUtilizationPercentage",
    "RequestLatency_P50",
    "RequestLatency_P90",
    "RequestLatency_P95",
    "RequestLatency_P99",
]


def is_gpu_sku(instance_type: str) -> bool:
    """Azure's N-series (NC, ND, NV) are the GPU VM families."""
    return instance_type.lower().startswith("standard_n")


def quota_instances(instance_type: str, count: int) -> int:
    """Instances of VM-family quota a deployment of ``count`` needs: Azure ML reserves 20% extra for upgrades,
    ``ceil(1.2 * count)``, except on the exempt SKUs (the A100 and ND families listed above)."""
    if instance_type.lower() in QUOTA_RESERVE_EXEMPT_SKUS:
        return count
    return -(-count * 6 // 5)


class AzureAutoscaleConfig(BaseModel):
    """Azure Monitor autoscale on the deployment: scale out by ``step`` instances while the metric's average over
    ``window_s`` is above ``target_value``, scale in while it is below ``scale_in_value``.

    Same shape as the SageMaker config's ``autoscaling`` where it makes sense. Azure Monitor autoscale has
    threshold rules, not target tracking, so ``target_value`` is the scale-out threshold. Managed online
    deployments cannot scale to zero (``min_instances`` >= 1). A new GPU instance takes minutes to provision
    and load the model, hence the long default cool-downs (Azure requires at least one minute).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_instances: int = Field(1, ge=1, description="Lower bound; managed online deployments cannot scale to 0.")
    max_instances: int = Field(4, ge=1, description="Upper bound; quota is needed for ceil(1.2 x max) on most SKUs.")
    metric: AutoscaleMetric | None = Field(
        None, description="None: GpuUtilizationPercentage on GPU (N-series) SKUs, CpuUtilizationPercentage otherwise."
    )
    target_value: int = Field(70, ge=1, description="Scale out above this: percent, or milliseconds for latency.")
    scale_in_value: int | None = Field(None, ge=0, description="Scale in below this; None: half of target_value.")
    step: int = Field(1, ge=1, le=10, description="Instances added or removed per scale action.")
    window_s: int = Field(300, ge=300, le=43200, description="Averaging window (Azure: 5 minutes to 12 hours).")
    scale_out_cooldown_s: int = Field(600, ge=60, le=604800, description="Wait after a scale-out.")
    scale_in_cooldown_s: int = Field(900, ge=60, le=604800, description="Wait after a scale-in.")

    @model_validator(mode="after")
    def _bounds(self) -> AzureAutoscaleConfig:
        if self.min_instances > self.max_instances:
            raise ValueError("autoscaling min_instances must be <= max_instances")
        if self.scale_in_value is not None and self.scale_in_value >= self.target_value:
            raise ValueError("autoscaling scale_in_value must be below target_value (else it flaps)")
        return self

    @property
    def scale_in_threshold(self) -> int:
        return self.scale_in_value if self.scale_in_value is not None else self.target_value // 2

    def metric_for(self, instance_type: str) -> str:
        if self.metric is not None:
            return self.metric
        return "GpuUtilizationPercentage" if is_gpu_sku(instance_type) else "CpuUtilizationPercentage"


class AzureMLTarget(FileConfig):
    """Which endpoint: all that ``status``, ``invoke`` and ``delete`` need. Unknown keys are ignored, so
    the full deploy JSON file can be read as a target."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    subscription_id: str = Field(min_length=1, description="Azure subscription id.")
    resource_group: str = Field(min_length=1, description="Resource group of the workspace.")
    workspace: str = Field(min_length=1, description="Azure ML workspace name.")
    location: str | None = Field(
        None, description="Region shown by dry runs; the SDK always deploys in the workspace's region."
    )
    endpoint_name: str = Field(description="Online endpoint name; unique within the region.")
    deployment_name: str = Field("blue", description="Deployment name inside the endpoint (blue/green).")

    @field_validator("endpoint_name", "deployment_name")
    @classmethod
    def _check_endpoint_name(cls, value: str) -> str:
        if not ENDPOINT_NAME_RE.match(value):
            raise ValueError("must be 3-32 chars: a letter, then letters/digits/'-', ending with a letter or digit")
        return value

    def workspace_arm_id(self) -> str:
        """ARM id of the workspace; assets and endpoints are its children."""
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace}"
        )


class AzureMLConfig(AzureMLTarget):
    """Everything ``deploy`` needs. JSON files (``deploy.example.json``) map 1:1 onto these fields;
    unknown keys are errors (typos must not silently fall back to defaults)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image: str = Field(description="Container image, pinned by tag or digest, e.g. myacr.azurecr.io/embed:1.2.0.")
    environment_name: str = Field("jina-embedding-serving", description="Environment asset name.")
    environment_version: str = Field("1", description="Environment asset version (bump when the image changes).")
    model_path: str | None = Field(
        None,
        description="Model to register: local folder (uploaded), azureml:// or https:// URI. "
        "Mounted at AZUREML_MODEL_DIR. None with no model_ref: the image's embedded default model.",
    )
    model_ref: str | None = Field(
        None, description="Already registered model instead of model_path: azureml:NAME:VERSION or an asset id."
    )
    model_name: str = Field("embedding-model", description="Model asset name when registering model_path.")
    model_version: str = Field("1", description="Model asset version when registering model_path.")

    # Compute.
    instance_type: str = Field("Standard_NC24ads_A100_v4", description="VM SKU; needs quota in the region.")
    instance_count: int = Field(
        1, ge=1, description="Instances behind the deployment (the starting count with autoscaling)."
    )
    instance_limit: int = Field(
        DEFAULT_INSTANCE_LIMIT,
        ge=1,
        description="Azure's instances-per-deployment limit (50 by default); raise it once Azure granted more.",
    )
    autoscaling: AzureAutoscaleConfig | None = Field(
        None, description="Azure Monitor autoscale on the deployment; None: a fixed instance_count."
    )

    # Container contract (see container/ and inference/settings.py).
    port: int = Field(8080, ge=1, le=65535, description="Port the server listens on.")
    liveness_route: str = Field(
        "/health/live",
        description="Liveness probe path: `/health/live` answers as soon as the process is up, so a restarted "
        "container is not held for the model-load window (`/ping` waits on the model).",
    )
    readiness_route: str = Field("/ping", description="Readiness probe path (200 only once the model is warm).")
    scoring_route: str = Field("/invocations", description="Route the endpoint's /score is forwarded to.")

    # Request handling and probes.
    request_timeout_s: int = Field(90, ge=1, le=MAX_REQUEST_TIMEOUT_S, description="Scoring timeout.")
    max_concurrent_requests_per_instance: int = Field(
        32, ge=1, le=1000, description="In-flight requests per instance; the server batches them."
    )
    model_load_timeout_s: int = Field(
        900, ge=30, le=7200, description="Longest expected start-up (model download, load, warm-up)."
    )
    probe_period_s: int = Field(10, ge=1, le=300, description="Seconds between probes.")
    probe_timeout_s: int = Field(5, ge=1, le=60, description="Seconds a probe may take.")

    # Endpoint.
    auth_mode: AuthMode = Field("key", description="key | aml_token | aad_token.")
    traffic_percent: int = Field(100, ge=0, le=100, description="Share of traffic for this deployment.")
    public_network_access: Literal["enabled", "disabled"] = "enabled"
    egress_public_network_access: Literal["enabled", "disabled"] | None = Field(
        None,
        description="Legacy network isolation of the deployment; None: not sent (Azure's default, enabled). "
        "Do not set it in a workspace with a managed virtual network; it cannot change after creation.",
    )
    app_insights_enabled: bool = False
    env: dict[str, str] = Field(default_factory=dict, description="Extra container environment (EMB_* etc.).")
    tags: dict[str, str] = Field(default_factory=lambda: {"app": "jina-embedding-serving"})

    @field_validator("environment_name", "model_name")
    @classmethod
    def _check_asset_name(cls, value: str) -> str:
        if not ASSET_NAME_RE.match(value):
            raise ValueError("asset names use letters, digits, '-', '_', '.' and start with a letter or digit")
        return value

    @field_validator("image")
    @classmethod
    def _check_image(cls, value: str) -> str:
        return check_image(value)

    @field_validator("liveness_route", "readiness_route", "scoring_route")
    @classmethod
    def _check_route(cls, value: str) -> str:
        return check_route(value, "/ping")

    @field_validator("env")
    @classmethod
    def _check_env(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            check_env_name(
                name, "deployment variables are plain text. Use Key Vault or a workspace connection instead."
            )
        return value

    @model_validator(mode="after")
    def _check_model_source(self) -> AzureMLConfig:
        if self.model_path and self.model_ref:
            raise ValueError("give model_path (register) or model_ref (existing), not both")
        if self.probe_timeout_s > self.probe_period_s:
            raise ValueError("probe_timeout_s must not exceed probe_period_s")
        return self

    @model_validator(mode="after")
    def _check_instances(self) -> AzureMLConfig:
        scale = self.autoscaling
        most = max(self.instance_count, scale.max_instances if scale else 0)
        if most > self.instance_limit:
            raise ValueError(
                f"{most} instances exceed Azure's per-deployment limit of {self.instance_limit} "
                "(50 by default); ask Azure for an exception, then raise instance_limit"
            )
        if scale and not scale.min_instances <= self.instance_count <= scale.max_instances:
            raise ValueError(
                "instance_count is the autoscale default capacity: keep it within "
                "autoscaling.min_instances..max_instances"
            )
        return self

    @property
    def request_timeout_ms(self) -> int:
        return self.request_timeout_s * 1000
