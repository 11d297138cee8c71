"""All configuration, read from the environment in this one module.

``Settings()`` parses the environment once; the object is frozen and passed down explicitly. Command-line
values and the server's own choices (worker count, GPU, torch threads) go through ``with_overrides``, which
validates them exactly as the environment is validated. The platform rules for finding the model folder live
in ``model_dir``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from .settings_access import AccessSettings
from .settings_access import env_alias as _env
from .settings_backend import BackendSettings
from .settings_connections import ConnectionSettings
from .settings_images import ImageSettings

SageMakerMode = Literal["realtime", "serverless", "async"]
HandlerName = Literal["auto", "text", "clip", "rerank", "llm-rerank", "classify", "multivector", "sparse", "fake"]
# Defaults that follow EMB_SAGEMAKER_MODE (an explicit value of the field wins). SageMaker's documented limits:
# real-time 6 MB bodies and 60 s per invocation; Serverless Inference 4 MB and 60 s; Asynchronous Inference 1 GB
# bodies and up to 3600 s (InvocationTimeoutSeconds). SageMaker sets no variable telling a container which it is.
MODE_DEFAULTS: dict[str, dict[str, float]] = {
    "max_body_mb": {"realtime": 6.0, "serverless": 4.0, "async": 1024.0},
    "request_deadline_s": {"realtime": 45.0, "serverless": 45.0, "async": 3600.0},
    "body_timeout_s": {"realtime": 30.0, "serverless": 30.0, "async": 600.0},
}
# The largest response each platform returns, in MB (10^6 bytes, as the platforms state them; None: no limit).
# SageMaker: real-time 6 MB, Serverless Inference 4 MB, async writes the answer to S3. Vertex AI: 1.5 MB on a
# shared public endpoint, 10 MB on a dedicated public, Private Service Connect or private one.
RESPONSE_MB: dict[str, float | None] = {"realtime": 6.0, "serverless": 4.0, "async": None}
VERTEX_RESPONSE_MB: dict[str, float] = {"shared": 1.5, "dedicated": 10.0}
MB = 1_000_000


def _by_mode(field: str) -> Callable[[dict[str, Any]], float]:
    """The default of ``field`` for the mode validated before it (realtime if the mode itself was invalid)."""
    return lambda data: MODE_DEFAULTS[field][data.get("sagemaker_mode", "realtime")]


class Settings(BackendSettings, ImageSettings, ConnectionSettings, AccessSettings):
    """Service configuration (with the backend, connection, image and access parts). The field descriptions are the
    configuration reference (docs/reference/configuration.md, generated)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    model_dir: Path | None = Field(
        None,
        validation_alias=_env("MODEL_DIR"),
        description="Model folder; wins over AIP_STORAGE_URI, AZUREML_MODEL_DIR, /opt/ml/model, the embedded model.",
    )
    azureml_model_dir: Path | None = Field(
        None,
        validation_alias=_env("AZUREML_MODEL_DIR"),
        description="Set by Azure ML; its sub-folders are searched for the model.",
    )
    served_model_name: str | None = Field(
        None,
        validation_alias=_env("EMB_MODEL_NAME"),
        description="Name returned in `model`; default: the model folder's name (embedded model: `all-MiniLM-L6-v2`).",
    )
    handler: HandlerName = Field(
        "auto",
        validation_alias=_env("EMB_HANDLER"),
        description="Model family: `auto` (the folder's: `multivector`, `sparse`, `rerank`, `classify`, `llm-rerank`, "
        "`clip` or `text`, as docs/models/index.md tells), or one by name; `fake` serves vectors without a model.",
    )
    device: str = Field("auto", validation_alias=_env("EMB_DEVICE"), description="`auto`, `cpu`, `cuda`, `cuda:N`.")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        "auto",
        validation_alias=_env("EMB_DTYPE"),
        description="`auto`: bfloat16 on CUDA GPUs that support it, else float16 on CUDA, float32 on CPU.",
    )
    gpu_fallback: Literal["fail", "cpu"] = Field(
        "fail",
        validation_alias=_env("EMB_GPU_FALLBACK"),
        description="An NVIDIA GPU is present but CUDA cannot use it (driver too old for the image's CUDA): "
        "`fail` keeps the server up with `/ping` 503 naming the driver and the CUDA version needed; `cpu` serves on "
        "the CPU instead (slow; a warning is logged).",
    )
    cuda_compat: Literal["auto", "on", "off"] = Field(
        "auto",
        validation_alias=_env("EMB_CUDA_COMPAT"),
        description="CUDA forward-compatibility libraries of the GPU image (`/usr/local/cuda/compat`), applied by "
        "the entrypoint: `auto` loads them only when the host driver is older than they are; `on`, `off` force it.",
    )
    trust_remote_code: bool = Field(
        False,
        validation_alias=_env("EMB_TRUST_REMOTE_CODE"),
        description="Allow model-specific Python code from the model folder. Off by default.",
    )
    max_inputs: int = Field(
        2048, ge=1, validation_alias=_env("EMB_MAX_INPUTS"), description="Most inputs in one request."
    )
    max_documents: int = Field(
        1024, ge=1, validation_alias=_env("EMB_MAX_DOCUMENTS"), description="Most documents in one rerank request."
    )
    sagemaker_mode: SageMakerMode = Field(
        "realtime",
        validation_alias=_env("EMB_SAGEMAKER_MODE"),
        description="The SageMaker inference option served: `realtime` (also Batch Transform, Azure ML and local "
        "use), `serverless` or `async`. It sets the defaults of `EMB_MAX_BODY_MB`, `EMB_MAX_RESPONSE_MB`, "
        "`EMB_REQUEST_DEADLINE_S` and `EMB_BODY_TIMEOUT_S` to that option's limits; SageMaker tells a container "
        "nothing about it, so the deployment sets it.",
    )
    max_body_mb: float = Field(
        default_factory=_by_mode("max_body_mb"),
        gt=0,
        validation_alias=_env("EMB_MAX_BODY_MB", "SAGEMAKER_MAX_PAYLOAD_IN_MB"),
        description="Largest request body in MiB: SageMaker's limit for the mode (real-time 6 MB, Serverless 4 MB, "
        "async 1 GB). A body over 8 MiB is spooled to a temporary file (`TMPDIR`) while it arrives, not held in "
        "memory.",
    )
    max_response_mb: float | None = Field(
        None,
        ge=0,
        validation_alias=_env("EMB_MAX_RESPONSE_MB"),
        description="Largest response body in MB (10^6 bytes, as the platforms state their limits); 0: no limit. "
        "Default: what the platform returns. On Vertex AI (`AIP_PREDICT_ROUTE` set) 1.5 MB, or 10 MB with "
        "`EMB_VERTEX_ENDPOINT=dedicated`; else by `EMB_SAGEMAKER_MODE`: real-time 6 MB, Serverless 4 MB, async "
        "none (the answer goes to S3). In `realtime` mode record bodies (JSON Lines, CSV: what Batch Transform "
        "sends, whose answers go to S3) have no limit unless this is set. A request whose answer could be larger "
        "(bounded before any model work from its inputs, dimensions and `embedding_type`, or its echoed "
        "documents) gets 413 `response_too_large` naming how many inputs fit.",
    )
    vertex_endpoint: Literal["shared", "dedicated"] = Field(
        "shared",
        validation_alias=_env("EMB_VERTEX_ENDPOINT"),
        description="Vertex AI: the endpoint the model is deployed to, for the default of `EMB_MAX_RESPONSE_MB`: "
        "`shared` (a public endpoint, 1.5 MB) or `dedicated` (a dedicated public, Private Service Connect or "
        "private endpoint, 10 MB).",
    )
    max_batch_size: int = Field(
        64, ge=1, validation_alias=_env("EMB_MAX_BATCH_SIZE"), description="Most sequences in one forward pass."
    )
    max_batch_tokens: int = Field(
        16384,
        ge=1,
        validation_alias=_env("EMB_MAX_BATCH_TOKENS"),
        description="Token budget of one forward pass (padded length x sequences); on a GPU, at most what fits.",
    )
    batch_wait_ms: float = Field(
        2.0,
        ge=0,
        validation_alias=_env("EMB_BATCH_WAIT_MS"),
        description="How long the batcher waits for more requests once it has work.",
    )
    max_queue_inputs: int = Field(
        16384,
        ge=1,
        validation_alias=_env("EMB_MAX_QUEUE_INPUTS"),
        description="Inputs waiting per worker before new requests get 503 + Retry-After.",
    )
    request_deadline_s: float = Field(
        default_factory=_by_mode("request_deadline_s"),
        gt=0,
        validation_alias=_env("EMB_REQUEST_DEADLINE_S"),
        description="Seconds from a request's arrival by which it must be answered (real-time and serverless: "
        "below SageMaker's 60 s invocation timeout, leaving room for the HTTP front and encoding; async: "
        "`InvocationTimeoutSeconds`' maximum, so set that to 3600 or this to the timeout you use). A request "
        "whose model work cannot finish by then, given the work queued ahead of it and the measured tokens/s, "
        "gets 503 + Retry-After at once; one that alone needs longer gets 413 `request_too_large`; queued work "
        "of requests past it is dropped. Batch Transform's `InvocationsTimeoutInSeconds` must be at least this.",
    )
    max_length: int | None = Field(
        None,
        ge=1,
        validation_alias=_env("EMB_MAX_LENGTH"),
        description="Override the model's max tokens per input (never above the model's own limit).",
    )
    record_options: dict[str, Any] = Field(
        {},
        validation_alias=_env("EMB_RECORD_OPTIONS"),
        description='Request options (a JSON object, e.g. `{"dimensions": 128}`) for `application/jsonlines` '
        "and `text/csv` records that set none: Batch Transform cannot send per-record options.",
    )
    warmup: bool = Field(
        True, validation_alias=_env("EMB_WARMUP"), description="Run a warm-up batch before /ping is 200."
    )
    playground: Literal["auto", "on", "off"] = Field(
        "auto",
        validation_alias=_env("EMB_PLAYGROUND"),
        description="The playground page at `/` and the interactive API docs at `/docs` (static, no network "
        "needed). `auto`: on, except on Azure ML and Vertex AI (their variables set), where only the scoring "
        "and health routes are reachable.",
    )
    host: str = Field("0.0.0.0", validation_alias=_env("EMB_HOST"), description="Bind address.")
    port: int = Field(
        8080, validation_alias=_env("SAGEMAKER_BIND_TO_PORT", "AIP_HTTP_PORT", "EMB_PORT", "PORT"), description="Port."
    )
    workers: int | None = Field(
        None,
        ge=1,
        validation_alias=_env("SAGEMAKER_MODEL_SERVER_WORKERS", "EMB_WORKERS"),
        description="gunicorn workers. Default: one per visible GPU; on CPU one per usable core, as many as "
        "memory allows (each holds a copy of the model). Also `MaxConcurrentTransforms` in `/execution-parameters`.",
    )
    threads: int = Field(
        32, ge=1, validation_alias=_env("EMB_THREADS"), description="Request threads per worker (feed the batcher)."
    )
    timeout_s: int = Field(
        120,
        ge=1,
        validation_alias=_env("SAGEMAKER_MODEL_SERVER_TIMEOUT", "EMB_TIMEOUT"),
        description="gunicorn's worker timeout: a worker whose event loop sends no heartbeat for this long is "
        "replaced. Requests are bounded by `EMB_REQUEST_DEADLINE_S` and the front's timeouts, not by this.",
    )
    body_timeout_s: float = Field(
        default_factory=_by_mode("body_timeout_s"),
        gt=0,
        validation_alias=_env("EMB_BODY_TIMEOUT_S"),
        description="A request body must arrive within this many seconds of its head; else 408 and the connection "
        "is closed. Slow bodies are read by the event-loop front and never hold a request thread. Also the time "
        "a client has to take a response, if longer than 30 s.",
    )
    log_level: str = Field("INFO", validation_alias=_env("EMB_LOG_LEVEL", "LOG_LEVEL"), description="Log level.")
    azure_score_route: str = Field(
        "/score", validation_alias=_env("EMB_AZURE_SCORE_ROUTE"), description="Extra scoring route (Azure ML)."
    )
    azure_live_route: str = Field(
        "/health/live", validation_alias=_env("EMB_AZURE_LIVE_ROUTE"), description="Liveness route (Azure ML)."
    )
    azure_ready_route: str = Field(
        "/health/ready", validation_alias=_env("EMB_AZURE_READY_ROUTE"), description="Readiness route (Azure ML)."
    )
    vertex_health_route: str | None = Field(
        None, validation_alias=_env("AIP_HEALTH_ROUTE"), description="Readiness route (set by Vertex AI)."
    )
    vertex_predict_route: str | None = Field(
        None, validation_alias=_env("AIP_PREDICT_ROUTE"), description="Prediction route (set by Vertex AI)."
    )
    storage_uri: str | None = Field(
        None,
        validation_alias=_env("AIP_STORAGE_URI"),
        description="`gs://` model folder (set by Vertex AI from the model's `artifactUri`), copied to "
        "`$TMPDIR/aip-model` at start-up while the server already answers: the health routes are 503 (JSON, "
        "`Retry-After`, the bytes copied so far) until the copy is done and the model loaded; a failed copy keeps "
        "them 503 and logs why. `MODEL_DIR` wins over it.",
    )
    storage_progress_s: float = Field(
        10.0,
        gt=0,
        validation_alias=_env("EMB_STORAGE_PROGRESS_S"),
        description="Seconds between the log lines that report the copy of `AIP_STORAGE_URI` (bytes and files "
        "copied so far).",
    )

    @property
    def playground_on(self) -> bool:
        if self.playground == "auto":
            return not (self.vertex_predict_route or self.azureml_model_dir)
        return self.playground == "on"

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)

    def max_response_bytes(self, records: bool = False) -> int | None:
        """The largest response body in bytes (``EMB_MAX_RESPONSE_MB`` or the platform's); None: no limit.
        ``records``: the answer to a JSON Lines or CSV record body."""
        if self.max_response_mb is not None:
            return int(self.max_response_mb * MB) or None
        if self.vertex_predict_route:
            return int(VERTEX_RESPONSE_MB[self.vertex_endpoint] * MB)
        limit = None if records and self.sagemaker_mode == "realtime" else RESPONSE_MB[self.sagemaker_mode]
        return None if limit is None else int(limit * MB)

    @property
    def spool_disk_bytes(self) -> int:
        if self.spool_disk_mb is not None:
            return int(self.spool_disk_mb * 1024 * 1024)
        return max(2 * 1024 * 1024 * 1024, 2 * self.max_body_bytes)

    def with_overrides(self, **values: Any) -> Settings:
        """A copy with ``values`` (field names) set, validated like the environment (a bad value raises
        ``pydantic.ValidationError``); the environment is not read again."""
        unknown = set(values) - set(type(self).model_fields)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        # A default that follows the mode is not carried over as if it had been set: it follows the new mode.
        current = {name: getattr(self, name) for name in type(self).model_fields
                   if name in self.model_fields_set or name not in MODE_DEFAULTS}  # fmt: skip
        return type(self).model_validate({**current, **values})
