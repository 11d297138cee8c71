"""Waiting and the full ml.g5 deploy with botocore's Stubber: exact requests in order, no network, no sleeping."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from sagemaker_testing import IMAGE, ROLE

from infra.sagemaker import apply, waiters
from infra.sagemaker.config import DeployConfig
from infra.sagemaker.waiters import DeploymentError, Poller

NAME = "emb"
TAGS = [{"Key": "ManagedBy", "Value": "infra.sagemaker"}, {"Key": "EmbeddingEndpoint", "Value": NAME}]
NOT_FOUND = "Could not find endpoint 'arn:aws:sagemaker:us-east-1:123456789012:endpoint/emb'."


class FakeClock:
    """``clock`` advances only when the poller sleeps: timeouts are tested without waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_poller(timeout_s: float = 600) -> tuple[Poller, FakeClock, list[str]]:
    clock, lines = FakeClock(), []
    poller = Poller(interval_s=30, timeout_s=timeout_s, heartbeat_s=60, report=lines.append, sleep=clock.sleep,
                    clock=clock)  # fmt: skip
    return poller, clock, lines


@pytest.fixture
def sagemaker() -> Any:
    return boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")


def describe(status: str, **extra: Any) -> dict[str, Any]:
    return {"EndpointName": NAME, "EndpointArn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{NAME}",
            "EndpointConfigName": "emb-v1", "EndpointStatus": status, "CreationTime": datetime(2026, 1, 1),
            "LastModifiedTime": datetime(2026, 1, 1), **extra}  # fmt: skip


def test_progress_lines_on_change_and_heartbeat_then_in_service(sagemaker: Any) -> None:
    poller, clock, lines = make_poller()
    with Stubber(sagemaker) as stub:
        for status in ("Creating", "Creating", "Creating", "InService"):
            stub.add_response("describe_endpoint", describe(status), {"EndpointName": NAME})
        state = waiters.endpoint_in_service(sagemaker, NAME, poller)
        stub.assert_no_pending_responses()
    assert state["EndpointStatus"] == "InService"
    assert lines == ["endpoint emb: Creating (0s)", "endpoint emb: Creating (60s)", "endpoint emb: InService (90s)"]
    assert clock.sleeps == [30, 30, 30]


def test_failure_reason_and_log_group_are_in_the_error(sagemaker: Any) -> None:
    poller, _, _ = make_poller()
    reason = "The primary container for production variant AllTraffic did not pass the ping health check."
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_endpoint", describe("Creating"), {"EndpointName": NAME})
        stub.add_response("describe_endpoint", describe("Failed", FailureReason=reason), {"EndpointName": NAME})
        with pytest.raises(DeploymentError) as raised:
            waiters.endpoint_in_service(sagemaker, NAME, poller)
    assert str(raised.value) == f"endpoint emb is Failed: {reason}{waiters.logs_hint(NAME)}"


def test_timeout_names_the_last_status(sagemaker: Any) -> None:
    poller, clock, _ = make_poller(timeout_s=60)
    with Stubber(sagemaker) as stub:
        for _ in range(3):
            stub.add_response("describe_endpoint", describe("Updating"), {"EndpointName": NAME})
        with pytest.raises(DeploymentError, match="still Updating after 60s"):
            waiters.endpoint_in_service(sagemaker, NAME, poller)
    assert clock.now == 60


def test_deleted_is_a_not_found_answer_and_other_errors_propagate(sagemaker: Any) -> None:
    poller, _, lines = make_poller()
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_endpoint", describe("Deleting"), {"EndpointName": NAME})
        stub.add_client_error("describe_endpoint", "ValidationException", NOT_FOUND)
        waiters.endpoint_deleted(sagemaker, NAME, poller)
        stub.add_client_error("describe_endpoint", "AccessDeniedException", "not authorized")
        with pytest.raises(Exception, match="not authorized"):
            waiters.endpoint_deleted(sagemaker, NAME, poller)
    assert lines[-1].startswith("endpoint emb: Deleted")


def test_transform_job_failure_reason(sagemaker: Any) -> None:
    poller, _, _ = make_poller()
    job = {"TransformJobName": "job", "TransformJobArn": "arn:aws:sagemaker:us-east-1:1:transform-job/job",
           "ModelName": "m", "CreationTime": datetime(2026, 1, 1), "TransformJobStatus": "Failed",
           "FailureReason": "ClientError: 413 from the container",
           "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://in/"}}},
           "TransformResources": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1}}  # fmt: skip
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_transform_job", job, {"TransformJobName": "job"})
        with pytest.raises(DeploymentError, match="transform job job is Failed: ClientError: 413"):
            waiters.transform_job_done(sagemaker, "job", poller)


def test_full_g5_deploy_sends_exactly_these_requests(sagemaker: Any) -> None:
    """moto rejects ml.g5 instance types; the Stubber checks the whole request sequence instead."""
    cfg = DeployConfig(endpoint_name=NAME, image_uri=IMAGE, role_arn=ROLE, model_data="s3://m/emb/model.tar.gz")
    name = "emb-20260102-030405-000"
    clients = apply.Clients(sagemaker=sagemaker, autoscaling=None, s3=None)
    poller, _, _ = make_poller()
    with Stubber(sagemaker) as stub:
        stub.add_client_error(
            "describe_endpoint", "ValidationException", NOT_FOUND, expected_params={"EndpointName": NAME}
        )
        stub.add_response("create_model", {"ModelArn": f"arn:aws:sagemaker:us-east-1:1:model/{name}"}, {
            "ModelName": name, "ExecutionRoleArn": ROLE, "EnableNetworkIsolation": True, "Tags": TAGS,
            "PrimaryContainer": {"Image": IMAGE, "Mode": "SingleModel", "Environment": {},
                                 "ModelDataUrl": "s3://m/emb/model.tar.gz"},
        })  # fmt: skip
        config_arn = f"arn:aws:sagemaker:us-east-1:1:endpoint-config/{name}"
        stub.add_response("create_endpoint_config", {"EndpointConfigArn": config_arn}, {
            "EndpointConfigName": name, "Tags": TAGS,
            "ProductionVariants": [{
                "VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.g5.xlarge",
                "InitialInstanceCount": 1, "InitialVariantWeight": 1.0,
                "ContainerStartupHealthCheckTimeoutInSeconds": 600, "ModelDataDownloadTimeoutInSeconds": 600,
                "RoutingConfig": {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"},
            }],
        })  # fmt: skip
        stub.add_response("create_endpoint", {"EndpointArn": f"arn:aws:sagemaker:us-east-1:1:endpoint/{NAME}"},
                          {"EndpointName": NAME, "EndpointConfigName": name, "Tags": TAGS})  # fmt: skip
        stub.add_response("describe_endpoint", describe("InService", EndpointConfigName=name), {"EndpointName": NAME})
        result = apply.deploy(clients, cfg, "20260102-030405-000", poller)
        stub.assert_no_pending_responses()
    assert result == {"EndpointName": NAME, "EndpointStatus": "InService", "EndpointConfigName": name,
                      "ModelName": name}  # fmt: skip
