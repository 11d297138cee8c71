"""The deployment description: one validated, frozen pydantic model, no Azure imports.

Contract: an :class:`AzureMLConfig` that validates can be turned into entities by ``plan`` without
further checks: names satisfy Azure ML's naming rules, the image is pinned (tag or digest), the
request timeout is within the managed-endpoint limit, and ``env`` holds no credential-looking names
(secrets belong in Key Vault / workspace connections, never in a deployment's plain-text variables).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Azure ML: 3-32 chars, starts with a letter, letters/digits/'-', ends with a letter or digit.
ENDPOINT_NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")
# Asset (environment/model) names: letters, digits, '-', '_', '.'; start alphanumeric; max 255.
ASSET_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Variable-name parts that mean "this is a secret" (HF_TOKEN, API_KEY, ...). EMB_MAX_BATCH_TOKENS is fine.
SECRET_NAME_PARTS = frozenset(
    {"KEY", "SECRET", "PASSWORD", "PASSWD", "TOKEN", "CREDENTIAL", "CREDENTIALS", "SAS", "CONNECTIONSTRING"}
)
# Managed online endpoints cap the scoring timeout at 180 s.
MAX_REQUEST_TIMEOUT_S = 180
AuthMode = Literal["key", "aml_token", "aad_token"]


class AzureMLTarget(BaseModel):
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

    @classmethod
    def from_file(cls, path: str | Path | None, **overrides: object) -> Self:
        """Validate a JSON file (optional) plus ``overrides``; non-None overrides win over the file."""
        data: dict[str, object] = {}
        if path is not None:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError(f"{path}: expected a JSON object")
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(data)

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
    instance_count: int = Field(1, ge=1, le=100, description="Instances behind the deployment.")

    # Container contract (see container/ and inference/settings.py).
    port: int = Field(8080, ge=1, le=65535, description="Port the server listens on.")
    liveness_route: str = Field("/ping", description="Liveness probe path.")
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
    egress_public_network_access: Literal["enabled", "disabled"] = "enabled"
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
        if not value or any(ch.isspace() for ch in value):
            raise ValueError("image must be a non-empty reference without whitespace")
        last = value.rsplit("/", 1)[-1]
        if "@sha256:" not in value and ":" not in last:
            raise ValueError("pin the image by tag or digest (repo:tag or repo@sha256:...)")
        if last.endswith(":latest"):
            raise ValueError("':latest' is not reproducible; pin a version tag or a digest")
        return value

    @field_validator("liveness_route", "readiness_route", "scoring_route")
    @classmethod
    def _check_route(cls, value: str) -> str:
        if not value.startswith("/") or any(ch.isspace() for ch in value):
            raise ValueError("routes are absolute paths such as /ping")
        return value

    @field_validator("env")
    @classmethod
    def _check_env(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not ENV_NAME_RE.match(name):
                raise ValueError(f"invalid environment variable name {name!r}")
            if SECRET_NAME_PARTS & set(name.upper().split("_")):
                raise ValueError(
                    f"{name!r} looks like a secret; deployment variables are plain text. "
                    "Use Key Vault or a workspace connection instead."
                )
        return value

    @model_validator(mode="after")
    def _check_model_source(self) -> AzureMLConfig:
        if self.model_path and self.model_ref:
            raise ValueError("give model_path (register) or model_ref (existing), not both")
        if self.probe_timeout_s > self.probe_period_s:
            raise ValueError("probe_timeout_s must not exceed probe_period_s")
        return self

    @property
    def request_timeout_ms(self) -> int:
        return self.request_timeout_s * 1000
