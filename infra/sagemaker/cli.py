"""CLI: ``python -m infra.sagemaker {deploy,update,status,delete,invoke,batch-transform} [options]``.

Endpoint settings come from ``--config`` (JSON, see ``deploy.example.json``) with flags winning. Results
are JSON on stdout; progress goes to stderr. ``--dry-run`` prints the exact boto3 requests: for ``deploy``
and ``batch-transform`` without any AWS call, for ``update`` / ``delete`` after reading the live endpoint.
``--endpoint-url`` (or ``AWS_ENDPOINT_URL``) sends every call elsewhere (moto, a local container).
Before any call, ``gpu_hosts.check_gpu_host`` refuses an instance type / host AMI (``--inference-ami-version``,
``--transform-ami-version``) whose NVIDIA driver cannot start the image's CUDA (``--image-cuda``), and warns where
the facts run out (``warning: ...`` on stderr).
``deploy --serverless`` (``--memory-mb``, ``--max-concurrency``, ``--provisioned-concurrency``) makes a serverless
endpoint (CPU only: use the CPU image, ``container/build.sh --flavour cpu``; the memory must hold the model), whose
provisioned concurrency ``--max-provisioned-concurrency`` autoscales (``--min-provisioned-concurrency``,
``--target-utilization``);
``deploy --async --async-output-s3 s3://...`` an asynchronous one (``--async-failure-s3``, SNS topics, KMS for the
results, and with ``--min-instances 0`` scale to zero behind the ``HasBacklogWithoutCapacity`` alarm). ``update``
keeps an autoscaled fleet's size (``RetainAllVariantProperties``); canary / linear steps are checked against
SageMaker's bounds (canary <= 50%, linear 10-50%) before any call.
``invoke --async-input-s3`` sends ``InvocationTimeoutSeconds`` 3600, the container's async deadline
(``--invocation-timeout``; ``--request-ttl`` for ``RequestTTLSeconds``).
``deploy --model-source`` also takes a model set's root (several model folders, or a ``models.json`` manifest:
docs/models/model-sets.md), packed into one model.tar.gz; ``invoke --model NAME`` asks one model of such an endpoint
(the JSON body's ``model``; InvokeEndpoint sends no ``X-Model`` header, so TEI bodies, such as ``--kind sparse``'s,
and Batch Transform records go to the set's first model).
Every kind of model the image serves (``embedding``, ``rerank``, ``multivector``, ``classify``, ``sparse``: the kind
of the folder, ``container/pack_model.py``'s rule) deploys the same way; ``invoke`` sends the body of the endpoint's
kind to ``/invocations``: ``--text ...`` embeds, ``--query Q --text DOC ...`` ranks the texts against the query (a
reranker, or a multi-vector model by MaxSim), ``--kind multivector`` returns each text's token vectors
(``--input-type query|document``), ``--kind classify`` each text's labels and ``--kind sparse`` each text's sparse
vector (TEI's ``{"inputs"}``). ``batch-transform --kind`` checks the job's records for that kind before it is sent
(a reranker's and a classifier's are JSON Lines requests: no CSV, no ``--record-options``; a sparse model's are
texts, each with its own options: no ``--record-options``).
A ``--config`` with ``components`` (``deploy.components.example.json``) deploys one endpoint of inference components
(an embedder and a reranker on one instance, each with its own share, copies and autoscaling; ``components``);
``update`` then changes its components only, and ``status`` / ``delete`` handle their components first.
Exit codes: 0 ok, 1 AWS error or failed deployment, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import boto3
import numpy as np
from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from embedding_client import EmbeddingClient, EmbeddingServiceError, runtime_client
from embedding_client.asynchronous import DEFAULT_ASYNC_TIMEOUT_S, DEFAULT_INVOCATION_TIMEOUT_S

from . import apply, components, components_apply, components_plan, modes, plan, transform
from .config import DeployConfig, ModeWarning, load_config
from .gpu_hosts import IMAGE_COMPAT_DRIVER, IMAGE_CUDA, GpuHostWarning, amis
from .waiters import DeploymentError, Poller


def _pairs(values: list[str] | None) -> dict[str, str] | None:
    """``["K=V", ...]`` -> dict (None when the flag was not given)."""
    if not values:
        return None
    pairs = [value.partition("=") for value in values]
    bad = [key for key, sep, _ in pairs if not sep or not key]
    if bad:
        raise ValueError(f"expected KEY=VALUE, got {bad}")
    return {key: value for key, _, value in pairs}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", help="AWS region (else AWS_REGION / AWS_DEFAULT_REGION / profile)")
    parser.add_argument("--profile", help="AWS profile")
    parser.add_argument("--endpoint-url", help="send all AWS calls here (moto, localhost); else AWS_ENDPOINT_URL")
    parser.add_argument("--poll-interval", type=float, default=15.0, help="seconds between status polls")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for a status")


def _deploy_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--config", type=Path, help="JSON DeployConfig; flags override its fields")
    add("--endpoint-name")
    add("--image-uri", help="ECR URI of the serving image")
    add("--role-arn", help="SageMaker execution role ARN")
    add("--model-data", help="s3://.../model.tar.gz (already uploaded)")
    add("--model-source", type=Path, help="local model folder or .tar.gz, uploaded to --upload-s3")
    add("--upload-s3", help="s3://bucket/prefix for --model-source")
    add("--instance-type")
    add("--instance-count", type=int)
    add("--inference-ami-version", metavar="AMI", help="host AMI (NVIDIA driver) of the variant; empty: SageMaker's "
        f"default. One of: {', '.join(a.name for a in amis('realtime'))}")
    _image_flags(parser, None)
    add("--variant-name")
    add("--env", action="append", metavar="KEY=VALUE", help="container environment (repeat)")
    add("--network-isolation", action=argparse.BooleanOptionalAction, default=None)
    add("--startup-timeout", type=int, dest="startup_health_check_timeout_s")
    add("--download-timeout", type=int, dest="model_download_timeout_s")
    add("--volume-size", type=int, dest="volume_size_gb", help="EBS volume (GB); not for instance types with NVMe")
    add("--volume-kms-key", dest="volume_kms_key_id", help="KMS key of the instances' EBS volume (endpoint config "
        "KmsKeyId; refused on instance types with local NVMe storage, e.g. ml.g5)")
    add("--routing", choices=["LEAST_OUTSTANDING_REQUESTS", "RANDOM"], dest="routing_strategy")
    add("--serverless", action="store_true", help="a serverless endpoint (CPU only, no instance settings); "
        "the --memory-mb / --max-concurrency / --provisioned-concurrency flags imply it")
    add("--memory-mb", type=int, choices=modes.SERVERLESS_MEMORY_MB, help="serverless memory (default 2048); "
        "must hold the model: about 2 x its weights + 1 GiB")
    add("--max-concurrency", type=int, help="serverless concurrent invocations, 1-200 (default 5)")
    add("--provisioned-concurrency", type=int, help="serverless warm copies, <= --max-concurrency (0: none)")
    add("--async", action="store_true", dest="async_mode", help="an async endpoint (needs --async-output-s3)")
    add("--async-output-s3", help="async inference: results written here (enables async)")
    add("--async-failure-s3", help="async inference: error responses written here")
    add("--async-success-topic", help="SNS topic ARN notified of each result")
    add("--async-error-topic", help="SNS topic ARN notified of each failure")
    add("--async-output-kms-key", dest="async_output_kms_key_id", help="KMS key for the async results in S3")
    add("--async-max-concurrent", type=int, help="async: concurrent requests per instance")
    add("--min-instances", type=int, help="autoscaling minimum (enables autoscaling); 0: scale to zero (async)")
    add("--max-instances", type=int, help="autoscaling maximum")
    add("--target-invocations", type=float, help="autoscaling target per instance per minute (real-time)")
    add("--target-backlog", type=float, help="autoscaling target: queued requests per instance (async)")
    add("--min-provisioned-concurrency", type=int, help="serverless autoscaling: least provisioned concurrency "
        "(default 1)")
    add("--max-provisioned-concurrency", type=int, help="serverless autoscaling of --provisioned-concurrency "
        "(enables it): most provisioned concurrency, <= --max-concurrency")
    add("--target-utilization", type=float, help="serverless autoscaling target: provisioned concurrency in use / "
        "provisioned, 0-1 (default 0.5)")
    add("--traffic", choices=["ALL_AT_ONCE", "CANARY", "LINEAR"], help="blue/green traffic shifting")
    add("--step-percent", type=int, help="canary size (1-50) / linear step (10-50), in %% of the fleet")
    add("--wait-interval", type=int, help="blue/green baking time between shifts (s)")
    add("--termination-wait", type=int, help="keep the old fleet this long after shifting (s)")
    add("--rollback-alarm", action="append", help="CloudWatch alarm that rolls an update back (repeat)")
    add("--tag", action="append", metavar="KEY=VALUE")
    add("--dry-run", action="store_true", help="print the plan, change nothing")


def _image_flags(parser: argparse.ArgumentParser, default_cuda: str | None, default_compat: int | None = None) -> None:
    """What the image needs from the host driver: its labels embed-serving.cuda and embed-serving.cuda-compat-driver."""
    parser.add_argument("--image-cuda", default=default_cuda, help=f"CUDA version of the image (default {IMAGE_CUDA})")
    parser.add_argument("--cuda-compat-driver", type=int, default=default_compat, metavar="BRANCH",
                        help=f"forward-compatibility driver in the image (default {IMAGE_COMPAT_DRIVER}; 0: none)")


def _config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Flags -> DeployConfig fields (None: not given; nested dicts are merged into the file's)."""
    a = args
    if a.async_mode and not a.async_output_s3 and not _file_has(a.config, "async_inference"):
        raise ValueError("--async needs --async-output-s3 s3://... (where the results go)")
    if a.target_invocations is not None and a.target_backlog is not None:
        raise ValueError("give --target-invocations (real-time) or --target-backlog (async), not both")
    serverless: dict[str, Any] = {
        "memory_mb": a.memory_mb, "max_concurrency": a.max_concurrency,
        "provisioned_concurrency": a.provisioned_concurrency,
    }  # fmt: skip
    if a.serverless and all(value is None for value in serverless.values()):
        serverless = {}  # the section with its defaults (an empty dict given on purpose is kept by `merge`)
    return {
        "endpoint_name": a.endpoint_name, "image_uri": a.image_uri, "role_arn": a.role_arn,
        "model_data": a.model_data, "model_source": a.model_source, "upload_s3": a.upload_s3,
        "instance_type": a.instance_type, "instance_count": a.instance_count, "variant_name": a.variant_name,
        "inference_ami_version": a.inference_ami_version, "image_cuda": a.image_cuda,
        "cuda_compat_driver": a.cuda_compat_driver,
        "environment": _pairs(a.env), "enable_network_isolation": a.network_isolation,
        "startup_health_check_timeout_s": a.startup_health_check_timeout_s,
        "model_download_timeout_s": a.model_download_timeout_s, "volume_size_gb": a.volume_size_gb,
        "volume_kms_key_id": a.volume_kms_key_id, "async_output_kms_key_id": a.async_output_kms_key_id,
        "routing_strategy": a.routing_strategy, "tags": _pairs(a.tag), "serverless": serverless,
        "async_inference": {"output_s3": a.async_output_s3, "failure_s3": a.async_failure_s3,
                            "max_concurrent_per_instance": a.async_max_concurrent,
                            "success_topic_arn": a.async_success_topic, "error_topic_arn": a.async_error_topic},
        "autoscaling": {"min_instances": a.min_instances, "max_instances": a.max_instances,
                        "target_value": a.target_invocations if a.target_backlog is None else a.target_backlog,
                        "min_provisioned_concurrency": a.min_provisioned_concurrency,
                        "max_provisioned_concurrency": a.max_provisioned_concurrency,
                        "target_utilization": a.target_utilization},
        "blue_green": {"traffic": a.traffic, "step_percent": a.step_percent, "wait_interval_s": a.wait_interval,
                       "termination_wait_s": a.termination_wait,
                       "rollback_alarms": tuple(a.rollback_alarm) if a.rollback_alarm else None},
    }  # fmt: skip


def _file_has(path: Path | None, key: str) -> bool:
    """Whether the JSON config file at ``path`` sets ``key``."""
    return path is not None and path.is_file() and bool(json.loads(path.read_text()).get(key))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra.sagemaker", description=(__doc__ or "").split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("deploy", "create model, endpoint config, endpoint (+ autoscaling)"),
                       ("update", "blue/green update of a live endpoint to a new model/config")):  # fmt: skip
        _deploy_flags(commands.add_parser(name, help=text))
    commands.choices["update"].add_argument("--keep-old", action="store_true", help="keep old config and models")
    status = commands.add_parser("status", help="endpoint status, failure reason, variants, autoscaling")
    delete = commands.add_parser("delete", help="autoscaling, endpoint, endpoint config, models")
    delete.add_argument("--keep-models", action="store_true")
    delete.add_argument("--no-wait", action="store_true", help="do not wait for the endpoint to be gone")
    delete.add_argument("--dry-run", action="store_true")
    invoke = commands.add_parser("invoke", help="embed texts through the endpoint (EmbeddingClient), rank, "
                                 "classify them, or get their token vectors")
    invoke.add_argument("--text", action="append", default=[], help="a text to embed, or a document to rank (repeat)")
    invoke.add_argument("--input-file", type=Path, help="one text per line")
    invoke.add_argument("--kind", choices=transform.KINDS, help="the endpoint's kind, which picks the request "
                        "(default: rerank with --query, else embedding); multivector: token vectors of the texts "
                        "(with --query: a MaxSim ranking); classify: the labels of the texts; sparse: their sparse "
                        "vectors")
    invoke.add_argument("--query", help="a reranker or multi-vector endpoint: rank the texts against this query")
    invoke.add_argument("--model", help="an endpoint serving a model set: the model to ask, sent as the JSON body's "
                        "\"model\" (default: the set's first model, or its first reranker with --query)")
    invoke.add_argument("--top-n", type=int, help="with --query: only the best N results")
    invoke.add_argument("--input-type", choices=["query", "document"],
                        help="--kind multivector: encode the texts as queries or as documents (default)")
    invoke.add_argument("--task")
    invoke.add_argument("--dimensions", type=int)
    invoke.add_argument("--embedding-type", default="float", choices=["float", "base64", "binary", "ubinary"])
    invoke.add_argument("--serverless", action="store_true",
                        help="a serverless endpoint: requests of at most 4 MB (real-time: 6 MB)")
    invoke.add_argument("--async-input-s3", metavar="S3_URI",
                        help="an async endpoint: upload the request under this s3://bucket/prefix, call "
                             "InvokeEndpointAsync and wait for the output (or failure) object")
    invoke.add_argument("--async-timeout", type=float, default=DEFAULT_ASYNC_TIMEOUT_S,
                        help="with --async-input-s3: seconds to wait for the answer (default "
                             f"{DEFAULT_ASYNC_TIMEOUT_S:g}; queueing comes on top of processing)")
    invoke.add_argument("--invocation-timeout", type=int, default=DEFAULT_INVOCATION_TIMEOUT_S,
                        help="with --async-input-s3: InvocationTimeoutSeconds, 1-3600 (default "
                             f"{DEFAULT_INVOCATION_TIMEOUT_S}, the container's async deadline; SageMaker's own is 900)")
    invoke.add_argument("--request-ttl", type=int, help="with --async-input-s3: RequestTTLSeconds, how long the "
                        "request may wait in the queue, 60-21600 (default: SageMaker's 21600)")
    batch = commands.add_parser("batch-transform", help="embed a JSON Lines dataset in S3 (batch transform)")
    _transform_flags(batch)
    for sub in (status, delete, invoke, batch):
        sub.add_argument("--endpoint-name", required=sub is not batch)
    for sub in commands.choices.values():
        _common(sub)
    return parser


def _transform_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--model-name", help="model to run (default: the one --endpoint-name serves)")
    add("--input", required=True, dest="input_s3", help="s3:// prefix of .jsonl files")
    add("--output", required=True, dest="output_s3", help="s3:// prefix for the .out files")
    add("--job-name", help="default: <model>-<timestamp>")
    add("--instance-type", default="ml.g5.xlarge")
    add("--instance-count", type=int, default=1)
    add("--transform-ami-version", metavar="AMI", help="host AMI (NVIDIA driver) of the job; empty: SageMaker's "
        f"default. One of: {', '.join(a.name for a in amis('transform'))}")
    _image_flags(parser, IMAGE_CUDA, IMAGE_COMPAT_DRIVER)
    add("--max-payload-mb", type=int, default=6)
    add("--max-concurrent-transforms", type=int)
    add("--env", action="append", metavar="KEY=VALUE")
    add("--content-type", default="application/jsonlines", choices=["application/jsonlines", "text/csv"])
    add("--kind", default="embedding", choices=transform.KINDS, dest="model_kind",
        help="the model's kind: a reranker's and a classifier's records are JSON Lines requests (no CSV, no "
        "--record-options); a multi-vector model's are texts, like an embedding model's; a sparse model's are "
        "texts with their own options (no --record-options)")
    add("--record-options", type=json.loads, help="options for every record, e.g. '{\"dimensions\": 256}'")
    add("--join-input", action="store_true", help="join each output line with its input record")
    add("--no-wait", action="store_true")
    add("--dry-run", action="store_true")


def _print(payload: Any) -> None:
    print(json.dumps(payload, indent=2, default=str))


def _plan_json(calls: Sequence[plan.Call]) -> list[dict[str, Any]]:
    return [call.to_json() for call in calls]


def _deploy(args: argparse.Namespace, clients: Callable[[], apply.Clients], poller: Poller, version: str) -> Any:
    if components.is_components_config(args.config):
        return _deploy_components(args, clients, poller, version)
    cfg: DeployConfig = load_config(args.config, _config_overrides(args))
    if args.command == "deploy":
        if args.dry_run:
            return _plan_json(apply.deploy_plan(cfg, version))
        return apply.deploy(clients(), cfg, version, poller)
    if args.dry_run:
        return _plan_json(apply.plan_update(clients(), cfg, version, args.keep_old).calls())
    return apply.update(clients(), cfg, version, poller, args.keep_old)


def _deploy_components(args: argparse.Namespace, clients: Callable[[], apply.Clients], poller: Poller,
                       version: str) -> Any:  # fmt: skip
    """A config with ``components``: an endpoint of inference components (``components_apply``)."""
    cfg = components.load_components(args.config, _config_overrides(args))
    if args.command == "deploy":
        if args.dry_run:
            return _plan_json(components_plan.deploy_calls(cfg, version))
        return components_apply.deploy(clients(), cfg, version, poller)
    if args.dry_run:
        return _plan_json(components_apply.plan_update(clients(), cfg, version, args.keep_old))
    return components_apply.update(clients(), cfg, version, poller, args.keep_old)


def _delete(args: argparse.Namespace, clients: Callable[[], apply.Clients], poller: Poller) -> Any:
    """``apply``'s delete; an endpoint with inference components loses them first (``components_apply``)."""
    live = clients()
    calls = components_apply.plan_delete(live, args.endpoint_name, args.keep_models)
    if args.dry_run:
        return _plan_json(calls)
    done = components_apply.delete(live, calls, poller, wait=not args.no_wait)
    return {"EndpointName": args.endpoint_name, "Done": done}


def _invoke(args: argparse.Namespace, session: boto3.Session | None) -> Any:
    texts = list(args.text) + (args.input_file.read_text().splitlines() if args.input_file else [])
    texts = [text for text in texts if text.strip()]
    if not texts:
        raise ValueError("give --text and/or --input-file")
    kind = invoke_kind(args)
    session = session or boto3.Session(profile_name=args.profile, region_name=args.region)
    runtime = runtime_client(args.region, args.endpoint_url, session)
    if args.query is not None:
        return _rerank(runtime, args.endpoint_name, args.query, texts, args.top_n, args.model)
    if kind == "multivector":
        body = multivector_body(texts, args.input_type, args.task, args.dimensions, args.embedding_type, args.model)
        return _multivector(runtime, args.endpoint_name, body)
    if kind == "classify":
        return _classify(runtime, args.endpoint_name, classify_body(texts, args.model))
    if kind == "sparse":
        return _sparse(runtime, args.endpoint_name, sparse_body(texts))
    if args.serverless and args.async_input_s3:
        raise ValueError("--serverless and --async-input-s3 name different endpoint kinds: give one")
    if args.request_ttl is not None and not args.async_input_s3:
        raise ValueError("--request-ttl is for async endpoints: give --async-input-s3 too")
    embedding_type: str = args.embedding_type  # one type: the result is one array
    options = {"task": args.task, "dimensions": args.dimensions, "embedding_type": embedding_type}
    if args.async_input_s3:
        client = EmbeddingClient(args.endpoint_name, boto_client=runtime, mode="async", model=args.model,
                                 s3_input_uri=args.async_input_s3, s3_client=session.client("s3"),
                                 invocation_timeout_s=args.invocation_timeout,
                                 request_ttl_s=args.request_ttl)  # fmt: skip
        vectors = cast(np.ndarray, client.embed_async(texts, timeout_s=args.async_timeout, **options))
    else:
        limit = {"max_body_bytes": modes.SERVERLESS_BODY_BYTES} if args.serverless else {}
        client = EmbeddingClient(args.endpoint_name, boto_client=runtime, model=args.model, **limit)
        vectors = cast(np.ndarray, client.embed(texts, **options))
    return {"shape": list(vectors.shape), "dtype": str(vectors.dtype), "embeddings": vectors.tolist()}


def invoke_kind(args: argparse.Namespace) -> str:
    """The kind ``invoke`` sends a request for (``--kind``, else rerank with ``--query``), its flags checked."""
    kind: str = args.kind or ("rerank" if args.query is not None else "embedding")
    if args.query is not None and kind not in ("rerank", "multivector"):
        raise ValueError(f"--query ranks documents: a reranker or a multi-vector endpoint, not --kind {kind}")
    if kind == "rerank" and args.query is None:
        raise ValueError("--kind rerank needs --query (the documents are the --text texts)")
    if args.top_n is not None and args.query is None:
        raise ValueError("--top-n needs --query (a reranker endpoint)")
    if args.input_type is not None and (kind != "multivector" or args.query is not None):
        raise ValueError("--input-type is for --kind multivector without --query (token vectors)")
    if kind != "embedding" and args.async_input_s3:
        raise ValueError(f"--async-input-s3 sends embedding requests; a {kind} endpoint is invoked in real time")
    if kind == "sparse" and args.model is not None:
        raise ValueError("--model cannot reach a sparse model: TEI's sparse body has no \"model\" field and "
                         "InvokeEndpoint sends no X-Model header; /invocations gives such a body to the set's first "
                         "model, so put the sparse model first in models.json (or deploy it on its own)")
    if kind in ("classify", "sparse") and (args.task or args.dimensions is not None or args.embedding_type != "float"):
        raise ValueError(f"--kind {kind} takes only texts (no --task, --dimensions or --embedding-type)")
    return kind


def multivector_body(texts: list[str], input_type: str | None = None, task: str | None = None,
                     dimensions: int | None = None, embedding_type: str = "float",
                     model: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The Jina multi-vector request the container answers on ``/invocations`` with a late-interaction model
    (``model``: the one of a model set to ask)."""
    body: dict[str, Any] = {"input": texts}
    options = {"input_type": input_type, "task": task, "dimensions": dimensions, "model": model}
    body.update({key: value for key, value in options.items() if value is not None})
    if embedding_type != "float":
        body["embedding_type"] = embedding_type
    return body


def classify_body(texts: list[str], model: str | None = None) -> dict[str, Any]:
    """The Jina classify request the container answers on ``/invocations`` with a classifier (all its labels)."""
    return {"input": texts, **({"model": model} if model else {})}


def sparse_body(texts: list[str]) -> dict[str, Any]:
    """TEI's ``/embed_sparse`` request the container answers on ``/invocations`` with a sparse (SPLADE) model."""
    return {"inputs": texts}


def _invoke_json(runtime: Any, endpoint_name: str, body: dict[str, Any]) -> Any:
    response = runtime.invoke_endpoint(EndpointName=endpoint_name, ContentType="application/json",
                                       Accept="application/json", Body=json.dumps(body).encode())  # fmt: skip
    return json.loads(response["Body"].read())


def _multivector(runtime: Any, endpoint_name: str, body: dict[str, Any]) -> Any:
    """InvokeEndpoint with a multi-vector body; per text its token count and width, and its token vectors."""
    answer = _invoke_json(runtime, endpoint_name, body)
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list) or not all(isinstance(item, dict) and "embeddings" in item for item in data):
        raise ValueError(f"{endpoint_name} did not answer token vectors (is it a multi-vector model?): "
                         f"{str(answer)[:300]}")  # fmt: skip
    shapes = []
    for item in data:
        vectors = item["embeddings"]
        first = vectors[0] if isinstance(vectors, list) and vectors else None
        shapes.append({"index": item.get("index"), "tokens": len(vectors) if isinstance(vectors, list) else None,
                       "dimensions": len(first) if isinstance(first, list) else None})  # fmt: skip
    return {"model": answer.get("model"), "usage": answer.get("usage"), "inputs": shapes,
            "embeddings": [item["embeddings"] for item in data]}  # fmt: skip


def _classify(runtime: Any, endpoint_name: str, body: dict[str, Any]) -> Any:
    """InvokeEndpoint with a classify body; per text the best label, its score and every label's score."""
    answer = _invoke_json(runtime, endpoint_name, body)
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list) or not all(isinstance(item, dict) and "prediction" in item for item in data):
        raise ValueError(f"{endpoint_name} did not answer a classification (is it a classifier?): {str(answer)[:300]}")
    return {"usage": answer.get("usage"), "data": data}


def _sparse(runtime: Any, endpoint_name: str, body: dict[str, Any]) -> Any:
    """InvokeEndpoint with a sparse body; per text its count of nonzero entries, and its ``{index, value}`` entries."""
    answer = _invoke_json(runtime, endpoint_name, body)
    if not isinstance(answer, list) or not all(
        isinstance(entries, list) and all(isinstance(e, dict) and {"index", "value"} <= e.keys() for e in entries)
        for entries in answer
    ):
        raise ValueError(f"{endpoint_name} did not answer sparse vectors (is it a sparse model?): {str(answer)[:300]}")
    return {"inputs": [{"index": index, "nonzero": len(entries)} for index, entries in enumerate(answer)],
            "embeddings": answer}  # fmt: skip


def rerank_body(query: str, documents: list[str], top_n: int | None = None, model: str | None = None) -> dict[str, Any]:
    """The Jina/Cohere rerank request the container answers on ``/invocations`` when it serves a reranker."""
    if not query.strip():
        raise ValueError("--query is empty")
    body: dict[str, Any] = {"query": query, "documents": documents}
    if top_n is not None:
        body["top_n"] = top_n
    if model:
        body["model"] = model
    return body


def _rerank(runtime: Any, endpoint_name: str, query: str, documents: list[str], top_n: int | None,
            model: str | None = None) -> Any:  # fmt: skip
    """InvokeEndpoint with a rerank body; the results best first, as the container sorts them."""
    answer = _invoke_json(runtime, endpoint_name, rerank_body(query, documents, top_n, model))
    if not isinstance(answer, dict) or "results" not in answer:
        raise ValueError(f"{endpoint_name} did not answer a rerank response (is it a reranker?): {str(answer)[:300]}")
    return {"model": answer.get("model"), "usage": answer.get("usage"), "results": answer["results"]}


def _batch(args: argparse.Namespace, clients: Callable[[], apply.Clients], poller: Poller, version: str) -> Any:
    if not args.model_name and not args.endpoint_name:
        raise ValueError("give --model-name or --endpoint-name")
    model = args.model_name or transform.model_of_endpoint(clients().sagemaker, args.endpoint_name)
    cfg = transform.TransformConfig(
        job_name=args.job_name or plan.versioned_name(model, version), model_name=model,
        input_s3=args.input_s3, output_s3=args.output_s3, instance_type=args.instance_type,
        instance_count=args.instance_count, transform_ami_version=args.transform_ami_version,
        image_cuda=args.image_cuda, cuda_compat_driver=args.cuda_compat_driver, max_payload_mb=args.max_payload_mb,
        max_concurrent_transforms=args.max_concurrent_transforms, environment=_pairs(args.env) or {},
        content_type=args.content_type, record_options=args.record_options or {}, join_input=args.join_input,
        model_kind=args.model_kind,
    )  # fmt: skip
    if args.dry_run:
        return _plan_json([transform.transform_job_call(cfg)])
    return transform.run(clients().sagemaker, cfg, poller, wait=not args.no_wait)


def run(
    args: argparse.Namespace,
    poller: Poller | None = None,
    now: datetime | None = None,
    session: boto3.Session | None = None,
) -> Any:
    """Execute a parsed command and return its JSON-able result. AWS clients are made only when needed,
    from ``session`` when given (its event handlers then see every request)."""
    poller = poller or Poller(interval_s=args.poll_interval, timeout_s=args.timeout)
    version = plan.stamp(now or datetime.now(UTC))

    def clients() -> apply.Clients:
        return apply.Clients.create(args.region, args.profile, args.endpoint_url, session)

    if args.command in ("deploy", "update"):
        return _deploy(args, clients, poller, version)
    if args.command == "status":
        return components_apply.status(clients(), args.endpoint_name)
    if args.command == "delete":
        return _delete(args, clients, poller)
    if args.command == "invoke":
        return _invoke(args, session)
    return _batch(args, clients, poller, version)


@contextmanager
def _host_warnings() -> Iterator[None]:
    """``GpuHostWarning``s and ``ModeWarning``s of the block as ``warning: ...`` lines on stderr (other warnings as
    usual)."""
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", GpuHostWarning)
            warnings.simplefilter("always", ModeWarning)
            yield
    finally:
        for item in caught:
            if issubclass(item.category, (GpuHostWarning, ModeWarning)):
                print(f"warning: {item.message}", file=sys.stderr)
            else:
                warnings.showwarning(item.message, item.category, item.filename, item.lineno)


def main(argv: Sequence[str] | None = None, session: boto3.Session | None = None) -> int:
    """Parse, run, print the JSON result; returns the exit code (``session``: see ``run``)."""
    args = build_parser().parse_args(argv)
    try:
        with _host_warnings():
            result = run(args, session=session)
        _print(result)
    except (ValidationError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (DeploymentError, ClientError, BotoCoreError, Boto3Error, EmbeddingServiceError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0
