"""Batch transform: embed a JSON Lines dataset in S3 with the deployed model, no endpoint needed.

SageMaker splits each input file on newlines (``SplitType=Line``) and packs as many lines as fit in
``MaxPayloadInMB`` into one request (``BatchStrategy=MultiRecord``), with ``ContentType``
``application/jsonlines`` (or ``text/csv``); the container answers one JSON line per record
(``inference/codecs/records.py``) and the outputs are joined with newlines (``AssembleWith=Line``) into
``<output>/<input file>.out``. A job cannot send per-record options, so ``record_options`` (dimensions,
task, embedding_type ...) reach the container as ``EMB_RECORD_OPTIONS``.

The container answers every request within its deadline (``EMB_REQUEST_DEADLINE_S``, default 45 s, made for
real-time's 60 s timeout) or refuses it (413 / 503), so the job's ``InvocationsTimeoutInSeconds`` must be at least
that deadline. Unless ``environment`` sets it, the job sets the deadline to 75% of its invocation timeout (as 45 s
is of 60 s: room for the response's encoding and transfer), so a mini-batch may use the time the job gives it.

``transform_ami_version`` (``TransformResources.TransformAmiVersion``, ``al2-ami-sagemaker-batch-gpu-470`` / ``-535``)
picks the host's NVIDIA driver; ``gpu_hosts.check_gpu_host`` refuses a host the image cannot start on.

``model_kind`` says what the records are, as the container reads them with that kind of model loaded:

* ``embedding`` and ``multivector`` (a late-interaction model): each record is one text (JSON Lines: a JSON string,
  ``{"text"}``, or a request object with one input and its own options; CSV: the text), answered with one line of
  its embedding or of its token vectors (``{"object": "embeddings", "index", "embeddings"}``); ``record_options``
  are the multi-vector request's options there (``{"input_type": "query"}``, ``dimensions`` ...);
* ``rerank`` and ``classify``: each record is one whole request (``{"query", "documents", ...}`` or TEI's
  ``{"query", "texts", ...}``; ``{"input", "labels"?}`` or TEI's ``{"inputs"}``) answered with one response line;
  these take no CSV and no ``record_options`` (each record carries its own options), so both are refused here,
  before the job starts;
* ``sparse`` (a SPLADE model): each record is one text (JSON Lines: a JSON string, ``{"text"}``, or TEI's
  ``{"inputs": <one text>, "truncate"?, "prompt_name"?}``; CSV: the text), answered with one line of its nonzero
  entries (``[{"index", "value"}, ...]``); the container reads no ``EMB_RECORD_OPTIONS`` for it, so
  ``record_options`` are refused here (a record sets its own options).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from .config import CUDA_PATTERN, NAME_PATTERN, S3_PATTERN, check_host, empty_is_none, zero_is_none
from .gpu_hosts import IMAGE_COMPAT_DRIVER, IMAGE_CUDA
from .plan import Call
from .waiters import DeploymentError, Poller, describe_or_none, transform_job_done

JSONLINES: Final = "application/jsonlines"
RECORD_OPTIONS_ENV = "EMB_RECORD_OPTIONS"
DEADLINE_ENV = "EMB_REQUEST_DEADLINE_S"
Kind = Literal["embedding", "rerank", "multivector", "classify", "sparse"]
KINDS: Final = get_args(Kind)
# Kinds whose records are whole request bodies (JSON Lines only, no record_options): what each record is.
REQUEST_RECORDS: Final = {
    "rerank": ("a reranker", "JSON Lines rerank requests ({query, documents})", "top_n, return_documents ..."),
    "classify": ("a classifier", "JSON Lines classify requests ({input} or TEI's {inputs})", "labels, raw_scores ..."),
}
DEADLINE_SHARE = 0.75  # of InvocationsTimeoutInSeconds, when the environment sets no deadline


class TransformConfig(BaseModel):
    """One batch transform job over ``input_s3`` (a prefix or a manifest-free folder of .jsonl files)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job_name: str = Field(pattern=NAME_PATTERN)
    model_name: str = Field(pattern=NAME_PATTERN)
    input_s3: str = Field(pattern=S3_PATTERN)
    output_s3: str = Field(pattern=S3_PATTERN)
    instance_type: str = Field(default="ml.g5.xlarge", pattern=r"^ml\.[a-z0-9\-]+\.[a-z0-9]+$")
    instance_count: int = Field(default=1, ge=1)
    transform_ami_version: Annotated[str | None, BeforeValidator(empty_is_none)] = Field(
        default=None, description="TransformResources TransformAmiVersion (host AMI and NVIDIA driver); None: default"
    )
    image_cuda: str = Field(default=IMAGE_CUDA, pattern=CUDA_PATTERN, description="the image label embed-serving.cuda")
    cuda_compat_driver: Annotated[int | None, BeforeValidator(zero_is_none)] = Field(
        default=IMAGE_COMPAT_DRIVER, ge=1, description="embed-serving.cuda-compat-driver; None: no compat libraries"
    )
    max_payload_mb: int = Field(default=6, ge=1, le=100, description="request size; the server's limit is 6 MiB")
    max_concurrent_transforms: int | None = Field(default=None, ge=1, description="default: /execution-parameters")
    invocation_timeout_s: int = Field(default=600, ge=1, le=3600)
    invocation_max_retries: int = Field(default=1, ge=0, le=3)
    content_type: Literal["application/jsonlines", "text/csv"] = JSONLINES
    record_options: dict[str, Any] = Field(default_factory=dict, description="request options for every record")
    environment: dict[str, str] = Field(default_factory=dict)
    join_input: bool = Field(default=False, description="write each input record joined with its output")
    model_kind: Kind = Field(default="embedding", description="what the model serves (its records' reading)")
    kms_key_id: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _deadline_within_timeout(self) -> TransformConfig:
        if DEADLINE_ENV in self.environment:
            try:
                deadline = float(self.environment[DEADLINE_ENV])
            except ValueError:
                raise ValueError(f"environment {DEADLINE_ENV} must be a number of seconds") from None
            if not 0 < deadline <= self.invocation_timeout_s:
                raise ValueError(
                    f"environment {DEADLINE_ENV}={deadline:g} must be > 0 and at most invocation_timeout_s "
                    f"({self.invocation_timeout_s}): SageMaker would give up on requests the container still works on"
                )
        return self

    @model_validator(mode="after")
    def _request_records(self) -> TransformConfig:
        if self.model_kind in REQUEST_RECORDS:
            who, records, options = REQUEST_RECORDS[self.model_kind]
            if self.content_type != JSONLINES:
                raise ValueError(f"{who}'s records are {records}; {self.content_type} cannot carry them")
            if self.record_options:
                raise ValueError(
                    f"{who} takes no record_options: each record is a whole request (put {options} in the records)"
                )
        if self.model_kind == "sparse" and self.record_options:
            raise ValueError("a sparse model takes no record_options (the container reads no EMB_RECORD_OPTIONS for "
                             'it): give a record its own, e.g. {"inputs": "<text>", "truncate": true}')
        return self

    @model_validator(mode="after")
    def _gpu_host(self) -> TransformConfig:
        ami, cuda, compat = self.transform_ami_version, self.image_cuda, self.cuda_compat_driver
        check_host(self.instance_type, ami, cuda, compat, "transform")
        return self


def environment(cfg: TransformConfig) -> dict[str, str]:
    """The container environment of the job: ``environment``, plus ``EMB_RECORD_OPTIONS`` when set, plus the
    request deadline derived from the invocation timeout unless ``environment`` sets one."""
    env = {DEADLINE_ENV: f"{cfg.invocation_timeout_s * DEADLINE_SHARE:g}", **cfg.environment}
    if cfg.record_options:
        env[RECORD_OPTIONS_ENV] = json.dumps(cfg.record_options, separators=(",", ":"), sort_keys=True)
    return env


def transform_job_call(cfg: TransformConfig) -> Call:
    """The exact ``CreateTransformJob`` request."""
    output: dict[str, Any] = {"S3OutputPath": cfg.output_s3, "Accept": JSONLINES, "AssembleWith": "Line"}
    if cfg.kms_key_id:
        output["KmsKeyId"] = cfg.kms_key_id
    resources: dict[str, Any] = {"InstanceType": cfg.instance_type, "InstanceCount": cfg.instance_count}
    if cfg.transform_ami_version:
        resources["TransformAmiVersion"] = cfg.transform_ami_version
    params: dict[str, Any] = {
        "TransformJobName": cfg.job_name,
        "ModelName": cfg.model_name,
        "MaxPayloadInMB": cfg.max_payload_mb,
        "BatchStrategy": "MultiRecord",
        "ModelClientConfig": {
            "InvocationsTimeoutInSeconds": cfg.invocation_timeout_s,
            "InvocationsMaxRetries": cfg.invocation_max_retries,
        },
        "Environment": environment(cfg),
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": cfg.input_s3}},
            "ContentType": cfg.content_type,
            "CompressionType": "None",
            "SplitType": "Line",
        },
        "TransformOutput": output,
        "TransformResources": resources,
        "DataProcessing": {"JoinSource": "Input" if cfg.join_input else "None"},
        "Tags": [{"Key": key, "Value": value} for key, value in {"ManagedBy": "infra.sagemaker", **cfg.tags}.items()],
    }
    if cfg.max_concurrent_transforms is not None:
        params["MaxConcurrentTransforms"] = cfg.max_concurrent_transforms
    return Call("sagemaker", "create_transform_job", params)


def model_of_endpoint(sagemaker: Any, endpoint_name: str) -> str:
    """The model the endpoint serves now (its current config's first variant)."""
    endpoint = describe_or_none(sagemaker.describe_endpoint, EndpointName=endpoint_name)
    if endpoint is None:
        raise DeploymentError(f"endpoint {endpoint_name} does not exist")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    return str(config["ProductionVariants"][0]["ModelName"])


def run(sagemaker: Any, cfg: TransformConfig, poller: Poller, wait: bool = True) -> dict[str, Any]:
    """Start the job; with ``wait``, block until it completes (``DeploymentError`` with the reason if not)."""
    sagemaker.create_transform_job(**transform_job_call(cfg).params)
    if not wait:
        return {"TransformJobName": cfg.job_name, "TransformJobStatus": "InProgress"}
    state = transform_job_done(sagemaker, cfg.job_name, poller)
    return {
        "TransformJobName": cfg.job_name,
        "TransformJobStatus": state["TransformJobStatus"],
        "Output": cfg.output_s3,
    }
