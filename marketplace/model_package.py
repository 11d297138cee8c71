"""The AWS Marketplace model package: a typed config -> the ``CreateModelPackage`` request -> create and wait.

    python -m marketplace.model_package --config marketplace/package.example.json --dry-run
    python -m marketplace.model_package --config my-package.json --region us-east-1 --upload-validation-input
    python -m marketplace.model_package --config marketplace/package.rerank.example.json --dry-run

The request declares the image, the content types the container accepts (``application/json``,
``application/jsonlines``, ``text/csv``) and answers (``application/json``, ``application/jsonlines``), the
real-time and transform instance types of every hardware class, and a validation transform job on the sample
batch file; ``CertifyForMarketplace`` is set.

The same image serves five kinds of model; ``kind`` in the config (or ``--model-dir``, the folder baked into the
image, read as the server reads it: ``inference.handlers.model_family``) picks what the package declares:

* ``embedding`` (``package.example.json``): JSON, JSON Lines and CSV (one text per record); samples in ``data/``;
* ``multivector``, a late-interaction (ColBERT-style) model (``package.multivector.example.json``): the same content
  types (a record is one text, answered with its token vectors; a JSON body may also be a ``{"query",
  "documents"}`` rerank, scored by MaxSim); samples in ``data-multivector/``;
* ``rerank``, a cross-encoder (``package.rerank.example.json``): JSON (``{"query", "documents"}``) and JSON Lines
  records of such bodies, not CSV; samples in ``data-rerank/``;
* ``classify``, a ``*ForSequenceClassification`` model with several labels (``package.classify.example.json``):
  JSON (``{"input"}``, or TEI's ``{"inputs"}``) and JSON Lines records of such bodies, not CSV; samples in
  ``data-classify/``;
* ``sparse``, a SPLADE model (``package.sparse.example.json``): JSON (TEI's ``/embed_sparse`` body ``{"inputs"}``),
  JSON Lines and CSV (one text per record, answered with its ``[{"index", "value"}, ...]``); samples in
  ``data-sparse/``.

A model set's root (several model folders, or a ``models.json`` manifest) is refused as ``--model-dir``: a package is
one model (``SET_REFUSAL`` says why); bake and list one package per model.

The validation job runs the kind's ``input/batch/`` sample file unless the config names another. Before anything
is sent, the request is checked against
botocore's model of the SageMaker API (required members, types, and the enums, lengths and patterns that
botocore itself leaves to the service). ``--dry-run`` prints the checked request and calls nothing.

After ``CreateModelPackage`` the command polls ``DescribeModelPackage`` until SageMaker has run the
validation (a batch transform with the image) and the image scan, then prints the package ARN and statuses
as JSON; it exits 1 with SageMaker's reasons when validation fails.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, cast, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from inference.mime import ACCEPTED_CONTENT_TYPES, CSV, JSON, JSONLINES, RESPONSE_TYPES

HERE = Path(__file__).resolve().parent
SAMPLES = HERE / "data"

Kind = Literal["embedding", "rerank", "multivector", "classify", "sparse"]
KINDS: tuple[str, ...] = get_args(Kind)
# Exactly what the container accepts and answers (inference/mime.py); Marketplace tests these.
CONTENT_TYPES = ACCEPTED_CONTENT_TYPES
BATCH_CONTENT_TYPES = {".jsonl": JSONLINES, ".csv": CSV}
# A reranker's and a classifier's records are request objects: JSON and JSON Lines, no CSV (the container answers
# 400); a multi-vector and a sparse model's records are texts, as an embedding model's.
CONTENT_TYPES_BY_KIND: dict[str, tuple[str, ...]] = {"embedding": CONTENT_TYPES, "multivector": CONTENT_TYPES,
                                                     "rerank": (JSON, JSONLINES), "classify": (JSON, JSONLINES),
                                                     "sparse": CONTENT_TYPES}  # fmt: skip
SAMPLES_BY_KIND = {"embedding": SAMPLES, "rerank": HERE / "data-rerank", "multivector": HERE / "data-multivector",
                   "classify": HERE / "data-classify", "sparse": HERE / "data-sparse"}  # fmt: skip
VALIDATION_INPUT_BY_KIND = {"embedding": "input/batch/texts.jsonl", "rerank": "input/batch/rerank.jsonl",
                            "multivector": "input/batch/texts.jsonl", "classify": "input/batch/classify.jsonl",
                            "sparse": "input/batch/texts.jsonl"}  # fmt: skip
# What a kind's records are, for the refusal of a validation file it cannot read.
RECORDS_BY_KIND = {"rerank": "a reranker takes JSON Lines records of {query, documents}",
                   "classify": "a classifier takes JSON Lines records of {input} or {inputs}"}  # fmt: skip
# Why a model set's root is refused (docs/models/model-sets.md): a package is one model.
SET_REFUSAL = ("a Marketplace model package declares one kind of model, and SageMaker validates it, and buyers run it, "
               "with Batch Transform records, which cannot name a model (no X-Model header), so every model but the "
               "first would be unreachable there; bake one model per image and list one package per model "
               "(container/build.sh --bake FOLDER)")
ECR_IMAGE = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9][a-z0-9._/-]*(:[\w.-]{1,128})?$")
S3_PREFIX = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.*$")


def refuse_a_set(folder: Path) -> None:
    """``ValueError`` saying why (``SET_REFUSAL``) when ``folder`` is a model set's root: not a model folder, but a
    ``models.json`` manifest or model folders under it (``inference.model_set``'s rule)."""
    from inference.model_set import MANIFEST, is_model_folder

    if is_model_folder(folder) or not folder.is_dir():
        return
    inner = sorted(child.name for child in folder.iterdir() if is_model_folder(child))
    if (folder / MANIFEST).is_file() or inner:
        held = MANIFEST if (folder / MANIFEST).is_file() else "model folders " + ", ".join(inner)
        raise ValueError(f"{folder} is a model set ({held}), not one model: {SET_REFUSAL}")


def model_kind(folder: Path) -> Kind:
    """The kind of a model folder, by the server's own rule (``model_family``): ``multivector``, ``rerank`` (a
    decoder reranker too), ``classify`` or ``sparse`` as it says, else ``embedding`` (text, CLIP and Jina embedding
    models)."""
    from inference.handlers import RERANK_FAMILIES, model_family
    from inference.model_set import is_model_folder

    refuse_a_set(folder)
    if not is_model_folder(folder):
        raise ValueError(f"{folder}: no config.json or modules.json; is this a model folder?")
    family = model_family(folder)
    family = "rerank" if family in RERANK_FAMILIES else family
    return cast(Kind, family if family in KINDS else "embedding")


# -- botocore's service model ----------------------------------------------------------------------------------
@functools.cache
def _service_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker")


def instance_types(shape_name: str) -> frozenset[str]:
    """The instance types SageMaker's API accepts, from botocore's model (``ProductionVariantInstanceType``,
    ``TransformInstanceType``)."""
    return frozenset(_service_model().shape_for(shape_name).enum)


class RequestInvalid(ValueError):
    """The request does not satisfy the SageMaker API model; ``problems`` lists every finding."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("CreateModelPackage request is invalid:\n  " + "\n  ".join(problems))
        self.problems = problems


def _pattern(pattern: str) -> Callable[[str], bool]:
    """AWS patterns are anchored and use Java's ``\\p{..}`` classes; the ``regex`` module reads those."""
    if "\\p{" in pattern:
        try:
            import regex
        except ImportError:  # pragma: no cover - regex comes with transformers
            return lambda _: True
        compiled = regex.compile(pattern)
        return lambda value: compiled.fullmatch(value) is not None
    plain = re.compile(pattern)
    return lambda value: plain.fullmatch(value) is not None


def _check_size(value: Any, meta: Mapping[str, Any], path: str, what: str, problems: list[str]) -> None:
    if "max" in meta and len(value) > meta["max"]:
        problems.append(f"{path}: {len(value)} {what}, at most {meta['max']} allowed")


def _check_string(value: str, shape: Any, path: str, problems: list[str]) -> None:
    if shape.enum and value not in shape.enum:
        problems.append(f"{path}: {value!r} is not one of the {len(shape.enum)} values SageMaker accepts")
    _check_size(value, shape.metadata, path, "characters", problems)
    if "pattern" in shape.metadata and not _pattern(shape.metadata["pattern"])(value):
        problems.append(f"{path}: {value!r} does not match {shape.metadata['pattern']}")


def _walk(value: Any, shape: Any, path: str, problems: list[str]) -> None:
    """What botocore's client-side validation leaves out: enums, maximum sizes, patterns."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value:
                _walk(value[name], member, f"{path}.{name}", problems)
    elif kind == "list" and isinstance(value, list):
        _check_size(value, shape.metadata, path, "items", problems)
        for index, item in enumerate(value):
            _walk(item, shape.member, f"{path}[{index}]", problems)
    elif kind == "map" and isinstance(value, Mapping):
        _check_size(value, shape.metadata, path, "entries", problems)
        for key, item in value.items():
            _walk(key, shape.key, f"{path}.<key {key}>", problems)
            _walk(item, shape.value, f"{path}.{key}", problems)
    elif kind == "string" and isinstance(value, str):
        _check_string(value, shape, path, problems)
    elif kind in ("integer", "long") and isinstance(value, int) and value > shape.metadata.get("max", value):
        problems.append(f"{path}: {value} is above the maximum {shape.metadata['max']}")


def validate_request(request: Mapping[str, Any], operation: str = "CreateModelPackage") -> None:
    """Check ``request`` against botocore's input shape of ``operation``; raise ``RequestInvalid``."""
    from botocore.validate import ParamValidator

    shape = _service_model().operation_model(operation).input_shape
    report = ParamValidator().validate(dict(request), shape)
    problems = [line.strip() for line in report.generate_report().splitlines()] if report.has_errors() else []
    _walk(request, shape, operation, problems)
    if problems:
        raise RequestInvalid(problems)


# -- config ----------------------------------------------------------------------------------------------------
class HardwareClass(BaseModel):
    """Instance types of one hardware class (``cpu``, ``gpu``) for endpoints and for transform jobs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    realtime: tuple[str, ...] = Field(min_length=1)
    transform: tuple[str, ...] = Field(min_length=1)
    recommended: str | None = Field(None, description="shown first in the listing; default: the first realtime")

    @model_validator(mode="after")
    def _known_types(self) -> HardwareClass:
        for kind, types, allowed in (
            ("realtime", self.realtime, instance_types("ProductionVariantInstanceType")),
            ("transform", self.transform, instance_types("TransformInstanceType")),
        ):
            unknown = sorted(set(types) - allowed)
            if unknown:
                raise ValueError(f"{kind} instance types SageMaker does not offer: {', '.join(unknown)}")
        if self.recommended is not None and self.recommended not in self.realtime:
            raise ValueError(f"recommended {self.recommended!r} is not among the realtime types")
        return self


class ValidationConfig(BaseModel):
    """The transform job Marketplace runs with the image on the sample batch file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
    input_s3: str = Field(description="S3 prefix holding the sample input; --upload-validation-input fills it")
    output_s3: str
    input_file: str = Field(
        VALIDATION_INPUT_BY_KIND["embedding"],
        description="sample file under the kind's sample folder (marketplace/data/, data-rerank/, "
        "data-multivector/, data-classify/, data-sparse/); default by kind",
    )
    instance_type: str = "ml.m5.xlarge"
    max_payload_mb: int = Field(6, ge=1, le=6, description="the container's limit is 6 MiB")
    batch_strategy: Literal["MultiRecord", "SingleRecord"] = "MultiRecord"
    accept: Literal["application/json", "application/jsonlines"] = "application/jsonlines"

    @field_validator("input_s3", "output_s3")
    @classmethod
    def _s3(cls, value: str) -> str:
        if not S3_PREFIX.match(value):
            raise ValueError(f"{value!r} is not an s3://bucket/prefix URI")
        return value if value.endswith("/") else value + "/"

    @property
    def content_type(self) -> str:
        suffix = Path(self.input_file).suffix
        if suffix not in BATCH_CONTENT_TYPES:
            raise ValueError(f"input_file must end in one of {sorted(BATCH_CONTENT_TYPES)}")
        return BATCH_CONTENT_TYPES[suffix]


class PackageConfig(BaseModel):
    """Everything ``CreateModelPackage`` needs; see package.example.json."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    description: str = Field(max_length=1024)
    kind: Kind = Field("embedding", description="the model baked into the image: embedding model, reranker, "
                       "multi-vector (late-interaction) model, classifier or sparse (SPLADE) model")
    image: str = Field(description="ECR image URI in the seller account and the package's region")
    image_digest: str | None = Field(None, pattern=r"^sha256:[0-9a-f]{64}$")
    environment: dict[str, str] = Field(default_factory=dict)
    hardware: dict[Literal["cpu", "gpu"], HardwareClass] = Field(min_length=1)
    validation: ValidationConfig
    certify_for_marketplace: bool = True
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("image")
    @classmethod
    def _ecr(cls, value: str) -> str:
        if not ECR_IMAGE.match(value):
            raise ValueError(f"{value!r} is not an ECR image URI (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG)")
        return value

    @model_validator(mode="before")
    @classmethod
    def _validation_input_by_kind(cls, data: Any) -> Any:
        """The validation job defaults to the kind's sample records."""
        if not isinstance(data, Mapping) or not isinstance(data.get("validation"), Mapping):
            return data
        kind, validation = data.get("kind"), data["validation"]
        if isinstance(kind, str) and kind in VALIDATION_INPUT_BY_KIND and "input_file" not in validation:
            data = {**data, "validation": {**validation, "input_file": VALIDATION_INPUT_BY_KIND[kind]}}
        return data

    @model_validator(mode="after")
    def _validation_instance_is_offered(self) -> PackageConfig:
        if self.validation.instance_type not in self.transform_instance_types:
            raise ValueError(f"validation.instance_type {self.validation.instance_type} is not a transform type")
        if self.validation.content_type not in self.content_types:
            raise ValueError(
                f"validation.input_file: a {self.kind} model does not take {self.validation.content_type}"
                f" ({RECORDS_BY_KIND.get(self.kind, 'see CONTENT_TYPES_BY_KIND')})"
            )
        return self

    @property
    def content_types(self) -> tuple[str, ...]:
        """What the container accepts with this kind of model loaded."""
        return CONTENT_TYPES_BY_KIND[self.kind]

    @property
    def samples(self) -> Path:
        """The sample folder of this kind (``validation.input_file`` is relative to it)."""
        return SAMPLES_BY_KIND[self.kind]

    @property
    def region(self) -> str:
        return self.image.split(".")[3]

    @property
    def realtime_instance_types(self) -> list[str]:
        return list(dict.fromkeys(t for hw in self.hardware.values() for t in hw.realtime))

    @property
    def transform_instance_types(self) -> list[str]:
        return list(dict.fromkeys(t for hw in self.hardware.values() for t in hw.transform))

    @property
    def validation_input_key(self) -> tuple[str, str]:
        """(bucket, key) the sample input is uploaded to."""
        bucket, _, prefix = self.validation.input_s3.removeprefix("s3://").partition("/")
        return bucket, prefix + Path(self.validation.input_file).name


def load_config(path: Path, model_dir: Path | None = None) -> PackageConfig:
    """The config at ``path``; with ``model_dir`` (the folder baked into the image) its kind is the folder's, and a
    config that names another kind is an error."""
    if model_dir is None:
        return PackageConfig.model_validate_json(path.read_text(encoding="utf-8"))
    raw = json.loads(path.read_text(encoding="utf-8"))
    detected = model_kind(model_dir)
    if isinstance(raw, dict) and raw.get("kind", detected) != detected:
        raise ValueError(f"{path} says kind {raw['kind']!r}, but {model_dir} holds a {detected} model")
    return PackageConfig.model_validate({**raw, "kind": detected} if isinstance(raw, dict) else raw)


def build_request(cfg: PackageConfig) -> dict[str, Any]:
    """The ``CreateModelPackage`` request for ``cfg`` (not yet validated against the API model)."""
    container: dict[str, Any] = {"Image": cfg.image}
    if cfg.image_digest:
        container["ImageDigest"] = cfg.image_digest
    if cfg.environment:
        container["Environment"] = dict(cfg.environment)
    v = cfg.validation
    transform_job = {
        "MaxPayloadInMB": v.max_payload_mb,
        "BatchStrategy": v.batch_strategy,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": v.input_s3}},
            "ContentType": v.content_type,
            "CompressionType": "None",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": v.output_s3, "Accept": v.accept, "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": v.instance_type, "InstanceCount": 1},
    }
    request: dict[str, Any] = {
        "ModelPackageName": cfg.name,
        "ModelPackageDescription": cfg.description,
        "InferenceSpecification": {
            "Containers": [container],
            "SupportedTransformInstanceTypes": cfg.transform_instance_types,
            "SupportedRealtimeInferenceInstanceTypes": cfg.realtime_instance_types,
            "SupportedContentTypes": list(cfg.content_types),
            "SupportedResponseMIMETypes": list(RESPONSE_TYPES),
        },
        "ValidationSpecification": {
            "ValidationRole": v.role_arn,
            "ValidationProfiles": [{"ProfileName": "batch-transform-sample", "TransformJobDefinition": transform_job}],
        },
        "CertifyForMarketplace": cfg.certify_for_marketplace,
    }
    if cfg.tags:
        request["Tags"] = [{"Key": key, "Value": value} for key, value in cfg.tags.items()]
    return request


# -- AWS calls -------------------------------------------------------------------------------------------------
class PackageFailed(RuntimeError):
    """Validation or the image scan failed, or the wait timed out."""


def upload_validation_input(s3: Any, cfg: PackageConfig, samples: Path | None = None) -> str:
    bucket, key = cfg.validation_input_key
    folder = samples if samples is not None else cfg.samples
    s3.put_object(Bucket=bucket, Key=key, Body=(folder / cfg.validation.input_file).read_bytes())
    return f"s3://{bucket}/{key}"


def _statuses(details: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [*details.get("ValidationStatuses", []), *details.get("ImageScanStatuses", [])]


def wait_for_validation(
    sagemaker: Any,
    name: str,
    *,
    timeout_s: float = 3 * 3600,
    interval_s: float = 60,
    report: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll until the package is ``Completed`` (returned) or ``Failed`` (raises with every failure reason)."""
    start = clock()
    previous = None
    while True:
        package = sagemaker.describe_model_package(ModelPackageName=name)
        status = package["ModelPackageStatus"]
        steps = ", ".join(f"{s['Name'].rsplit('/', 1)[-1]}={s['Status']}" for s in _statuses(package.get(
            "ModelPackageStatusDetails", {})))  # fmt: skip
        line = f"{name}: {status}" + (f" ({steps})" if steps else "")
        if line != previous:
            report(f"{line} after {clock() - start:.0f}s")
            previous = line
        if status == "Completed":
            return package
        if status == "Failed":
            reasons = [
                f"{s['Name']}: {s.get('FailureReason', s['Status'])}"
                for s in _statuses(package.get("ModelPackageStatusDetails", {}))
                if s["Status"] == "Failed"
            ]
            raise PackageFailed(f"model package {name} failed: " + ("; ".join(reasons) or "no reason given"))
        if clock() - start >= timeout_s:
            raise PackageFailed(f"model package {name} still {status} after {timeout_s:.0f}s")
        sleep(interval_s)


def create(sagemaker: Any, request: Mapping[str, Any], *, wait: bool = True, **wait_options: Any) -> dict[str, Any]:
    """Validate and send the request; with ``wait``, return the finished ``DescribeModelPackage``."""
    validate_request(request)
    arn = sagemaker.create_model_package(**request)["ModelPackageArn"]
    if not wait:
        return {"ModelPackageArn": arn, "ModelPackageStatus": "Pending"}
    return wait_for_validation(sagemaker, request["ModelPackageName"], **wait_options)


def _summary(package: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "ModelPackageArn": package["ModelPackageArn"],
        "ModelPackageStatus": package["ModelPackageStatus"],
        "Statuses": _statuses(package.get("ModelPackageStatusDetails", {})),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m marketplace.model_package", description="Create the Marketplace model package and wait."
    )
    parser.add_argument("--config", type=Path, required=True, help="package config (see package.example.json)")
    parser.add_argument("--dry-run", action="store_true", help="print the checked request; call nothing")
    parser.add_argument("--model-dir", type=Path, help="the model folder baked into the image: sets the kind")
    parser.add_argument("--region", help="default: the image's region")
    parser.add_argument("--endpoint-url", help="SageMaker endpoint override (tests: moto)")
    parser.add_argument("--s3-endpoint-url", help="S3 endpoint override (tests: moto)")
    parser.add_argument("--upload-validation-input", action="store_true", help="put the sample batch file in S3")
    parser.add_argument("--no-wait", action="store_true", help="return after CreateModelPackage")
    parser.add_argument("--timeout-s", type=float, default=3 * 3600)
    parser.add_argument("--interval-s", type=float, default=60)
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config, args.model_dir)
        request = build_request(cfg)
        validate_request(request)
    except (ValidationError, RequestInvalid, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(json.dumps(request, indent=2))
        return 0
    import boto3

    region = args.region or cfg.region
    if args.upload_validation_input:
        s3 = boto3.client("s3", region_name=region, endpoint_url=args.s3_endpoint_url)
        print(f"uploaded {upload_validation_input(s3, cfg)}", file=sys.stderr)
    sagemaker = boto3.client("sagemaker", region_name=region, endpoint_url=args.endpoint_url)
    try:
        package = create(
            sagemaker, request, wait=not args.no_wait, timeout_s=args.timeout_s, interval_s=args.interval_s
        )
    except PackageFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(_summary(package) if "ModelPackageName" in package else package, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
