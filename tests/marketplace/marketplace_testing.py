"""Marketplace test helpers. moto's CreateTransformJob only records the job; this makes it run the job.

moto runs in this process (``ThreadedMotoServer``), so patching its backend makes every CreateTransformJob,
whoever sends it (a notebook kernel included), read its input from moto's S3, push it through the local
container with ``marketplace.local_transform`` (SplitType=Line, the job's strategy and payload limit,
AssembleWith=Line) and write ``<output prefix>/<input file>.out`` back to moto's S3. A failed request marks
the job ``Failed`` with the container's answer as ``FailureReason``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from marketplace.local_transform import MB, TransformError, execution_parameters, http_invoker, transform

REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
MARKETPLACE = Path(__file__).resolve().parents[2] / "marketplace"


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def run_job(job: Any, s3: Any, container_url: str) -> None:
    source = job.transform_input
    bucket, prefix = _split(source["DataSource"]["S3DataSource"]["S3Uri"])
    out_bucket, out_prefix = _split(job.transform_output["S3OutputPath"])
    out_prefix = out_prefix if not out_prefix or out_prefix.endswith("/") else out_prefix + "/"
    advertised_strategy, advertised_payload = execution_parameters(container_url)
    strategy = job.batch_strategy or advertised_strategy
    max_payload = int(job.max_payload_in_mb) * MB if job.max_payload_in_mb else advertised_payload
    invoke = http_invoker(
        container_url, source.get("ContentType", "application/json"), job.transform_output.get("Accept", "")
    )
    if source.get("SplitType", "None") != "Line":
        raise TransformError("this stand-in only splits by Line")
    keys = [obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    base = prefix[: prefix.rfind("/") + 1]  # outputs keep the input's path below the prefix's folder
    for key in keys:
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        output = transform(data, invoke, strategy, max_payload)
        s3.put_object(Bucket=out_bucket, Key=out_prefix + key[len(base) :] + ".out", Body=output)


def install_transform_runner(*, s3_url: str, container_url: str) -> Callable[[], None]:
    """Patch moto's backend; returns the undo function."""
    from moto.sagemaker.models import SageMakerModelBackend

    original = SageMakerModelBackend.create_transform_job
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=s3_url)

    def create_transform_job(self: Any, *args: Any, **kwargs: Any) -> Any:
        job = original(self, *args, **kwargs)
        try:
            run_job(job, s3, container_url)
        except TransformError as err:
            job.transform_job_status, job.failure_reason = "Failed", str(err)
        return job

    SageMakerModelBackend.create_transform_job = create_transform_job  # type: ignore[method-assign]

    def undo() -> None:
        SageMakerModelBackend.create_transform_job = original  # type: ignore[method-assign]

    return undo
