"""Pure builders: exact request dicts, validated against botocore's SageMaker / autoscaling API models."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import botocore.session
import pytest
from botocore.validate import ParamValidator
from pydantic import ValidationError
from sagemaker_testing import IMAGE, ROLE

from infra.sagemaker import apply, autoscaling, plan, transform
from infra.sagemaker.config import DeployConfig, load_config

SERVICE_MODELS = {
    name: botocore.session.get_session().get_service_model(name)
    for name in ("sagemaker", "application-autoscaling", "s3")
}


def assert_valid_request(call: plan.Call) -> None:
    """The request passes botocore's own parameter validation for the real API (moto checks less)."""
    model = SERVICE_MODELS[call.service]
    operation = "".join(part.title() for part in call.operation.split("_"))
    if call.service == "s3":  # upload_file is a boto3 transfer, not an API operation
        return
    report = ParamValidator().validate(call.params, model.operation_model(operation).input_shape)
    assert not report.has_errors(), report.generate_report()


def config(**overrides: object) -> DeployConfig:
    return DeployConfig.model_validate({"endpoint_name": "emb", "image_uri": IMAGE, "role_arn": ROLE, **overrides})


def test_model_request_is_exact_with_network_isolation_and_env() -> None:
    call = plan.create_model(config(environment={"EMB_LOG_LEVEL": "DEBUG"}), "emb-v1", "s3://b/m/model.tar.gz")
    assert call.params == {
        "ModelName": "emb-v1",
        "ExecutionRoleArn": ROLE,
        "PrimaryContainer": {
            "Image": IMAGE,
            "Mode": "SingleModel",
            "Environment": {"EMB_LOG_LEVEL": "DEBUG"},
            "ModelDataUrl": "s3://b/m/model.tar.gz",
        },
        "EnableNetworkIsolation": True,
        "Tags": [{"Key": "ManagedBy", "Value": "infra.sagemaker"}, {"Key": "EmbeddingEndpoint", "Value": "emb"}],
    }
    assert_valid_request(call)


def test_model_without_model_data_serves_the_embedded_model_and_vpc_is_optional() -> None:
    cfg = config(subnets=["subnet-1"], security_group_ids=["sg-1"], enable_network_isolation=False)
    call = plan.create_model(cfg, "emb-v1", None)
    assert "ModelDataUrl" not in call.params["PrimaryContainer"]
    assert call.params["VpcConfig"] == {"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}
    assert call.params["EnableNetworkIsolation"] is False
    assert_valid_request(call)


def test_endpoint_config_request_is_exact() -> None:
    cfg = config(instance_type="ml.c6i.xlarge", instance_count=2, volume_size_gb=50)  # EBS: no local NVMe
    call = plan.create_endpoint_config(cfg, "emb-v1", "emb-v1")
    assert call.params["ProductionVariants"] == [
        {
            "VariantName": "AllTraffic",
            "ModelName": "emb-v1",
            "InstanceType": "ml.c6i.xlarge",
            "InitialInstanceCount": 2,
            "InitialVariantWeight": 1.0,
            "ContainerStartupHealthCheckTimeoutInSeconds": 600,
            "ModelDataDownloadTimeoutInSeconds": 600,
            "RoutingConfig": {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"},
            "VolumeSizeInGB": 50,
        }
    ]
    assert "AsyncInferenceConfig" not in call.params
    assert_valid_request(call)


def test_async_endpoint_config_and_backlog_autoscaling() -> None:
    cfg = config(
        async_inference={"output_s3": "s3://out/ok", "failure_s3": "s3://out/err", "max_concurrent_per_instance": 4,
                         "success_topic_arn": "arn:aws:sns:us-east-1:123456789012:ok"},
        autoscaling={"min_instances": 1, "max_instances": 3, "target_value": 5},
    )  # fmt: skip
    call = plan.create_endpoint_config(cfg, "emb-v1", "emb-v1")
    assert call.params["AsyncInferenceConfig"] == {
        "OutputConfig": {
            "S3OutputPath": "s3://out/ok",
            "S3FailurePath": "s3://out/err",
            "NotificationConfig": {"SuccessTopic": "arn:aws:sns:us-east-1:123456789012:ok"},
        },
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 4},
    }
    assert_valid_request(call)
    policy = autoscaling.autoscaling_calls(cfg)[1].params["TargetTrackingScalingPolicyConfiguration"]
    assert policy["CustomizedMetricSpecification"]["MetricName"] == "ApproximateBacklogSizePerInstance"
    assert policy["TargetValue"] == 5


@pytest.mark.parametrize(
    ("traffic", "step_key"), [("ALL_AT_ONCE", None), ("CANARY", "CanarySize"), ("LINEAR", "LinearStepSize")]
)
def test_blue_green_deployment_config(traffic: str, step_key: str | None) -> None:
    cfg = config(blue_green={"traffic": traffic, "step_percent": 25, "wait_interval_s": 120,
                             "termination_wait_s": 60, "rollback_alarms": ["emb-5xx"]})  # fmt: skip
    call = plan.update_endpoint(cfg, "emb-v2")
    routing = {"Type": traffic, "WaitIntervalInSeconds": 120}
    if step_key:
        routing[step_key] = {"Type": "CAPACITY_PERCENT", "Value": 25}
    assert call.params == {
        "EndpointName": "emb",
        "EndpointConfigName": "emb-v2",
        "DeploymentConfig": {
            "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing, "TerminationWaitInSeconds": 60},
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "emb-5xx"}]},
        },
    }
    assert_valid_request(call)


def test_realtime_autoscaling_requests() -> None:
    register, policy = autoscaling.autoscaling_calls(config(autoscaling={"min_instances": 2, "max_instances": 6}))
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/emb/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    assert register.params == {**target, "MinCapacity": 2, "MaxCapacity": 6}
    assert policy.params == {
        "PolicyName": "emb-target-tracking",
        **target,
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 100.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            "ScaleInCooldown": 300,
            "ScaleOutCooldown": 60,
        },
    }
    assert_valid_request(register)
    assert_valid_request(policy)
    assert autoscaling.autoscaling_calls(config()) == []


def test_transform_job_request_is_exact() -> None:
    cfg = transform.TransformConfig(job_name="emb-batch", model_name="emb-v1", input_s3="s3://in/docs/",
                                    output_s3="s3://out/emb/", instance_count=2, max_concurrent_transforms=4,
                                    environment={"EMB_MAX_BATCH_TOKENS": "65536"})  # fmt: skip
    call = transform.transform_job_call(cfg)
    assert call.params == {
        "TransformJobName": "emb-batch",
        "ModelName": "emb-v1",
        "MaxPayloadInMB": 6,
        "BatchStrategy": "MultiRecord",
        "ModelClientConfig": {"InvocationsTimeoutInSeconds": 600, "InvocationsMaxRetries": 1},
        "Environment": {"EMB_REQUEST_DEADLINE_S": "450", "EMB_MAX_BATCH_TOKENS": "65536"},
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://in/docs/"}},
            "ContentType": "application/jsonlines",
            "CompressionType": "None",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": "s3://out/emb/", "Accept": "application/jsonlines", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 2},
        "DataProcessing": {"JoinSource": "None"},
        "Tags": [{"Key": "ManagedBy", "Value": "infra.sagemaker"}],
        "MaxConcurrentTransforms": 4,
    }
    assert_valid_request(call)


def test_transform_job_deadline_fits_its_invocation_timeout() -> None:
    """The container's request deadline follows the job's invocation timeout, and never exceeds it."""
    base = {"job_name": "j", "model_name": "m", "input_s3": "s3://in/", "output_s3": "s3://out/"}
    derived = transform.TransformConfig(**base, invocation_timeout_s=120)
    assert transform.environment(derived)["EMB_REQUEST_DEADLINE_S"] == "90"
    explicit = transform.TransformConfig(**base, environment={"EMB_REQUEST_DEADLINE_S": "500"})
    assert transform.environment(explicit)["EMB_REQUEST_DEADLINE_S"] == "500"
    for bad in ("601", "0", "soon"):
        with pytest.raises(ValidationError, match="EMB_REQUEST_DEADLINE_S"):
            transform.TransformConfig(**base, environment={"EMB_REQUEST_DEADLINE_S": bad})


def test_deploy_plan_order_and_every_request_is_valid(tmp_path: Path) -> None:
    cfg = config(model_source=str(tmp_path), upload_s3="s3://models/emb", autoscaling={"max_instances": 2})
    calls = apply.deploy_plan(cfg, "20260102-030405")
    assert [c.operation for c in calls] == [
        "upload_file", "create_model", "create_endpoint_config", "create_endpoint",
        "register_scalable_target", "put_scaling_policy",
    ]  # fmt: skip
    assert calls[0].params == {
        "Filename": str(tmp_path),
        "Bucket": "models",
        "Key": "emb/emb/20260102-030405/model.tar.gz",
    }
    assert calls[1].params["PrimaryContainer"]["ModelDataUrl"] == "s3://models/emb/emb/20260102-030405/model.tar.gz"
    assert calls[3].params["EndpointConfigName"] == "emb-20260102-030405"
    for call in calls:
        assert_valid_request(call)


def test_versioned_names_fit_sagemaker_limits() -> None:
    version = plan.stamp(datetime(2026, 1, 2, 3, 4, 5, 678900))
    assert plan.versioned_name("emb", version) == "emb-20260102-030405-678"
    long_name = plan.versioned_name("a-" * 31 + "b", version)
    assert len(long_name) <= 63 and re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", long_name)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"model_data": "s3://b/m.tar.gz", "model_source": "/tmp/x", "upload_s3": "s3://b"}, "not both"),
        ({"model_source": "/tmp/x"}, "upload_s3"),
        ({"role_arn": "not-a-role"}, "role_arn"),
        ({"autoscaling": {"min_instances": 5, "max_instances": 2}}, "min_instances"),
        ({"subnets": ["subnet-1"]}, "security_group_ids"),
        ({"startup_health_check_timeout_s": 30}, "startup_health_check_timeout_s"),
        ({"endpoint_name": "bad_name"}, "endpoint_name"),
    ],
)
def test_config_rejects_bad_values_before_any_call(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        config(**overrides)


def test_load_config_merges_flags_into_the_file(tmp_path: Path) -> None:
    path = tmp_path / "deploy.json"
    body = {"endpoint_name": "emb", "image_uri": "i", "role_arn": ROLE,
            "autoscaling": {"min_instances": 2, "max_instances": 4}}  # fmt: skip
    path.write_text(json.dumps(body))
    cfg = load_config(path, {"instance_count": 3, "autoscaling": {"max_instances": 8, "target_value": None}})
    assert cfg.instance_count == 3
    assert (cfg.autoscaling.min_instances, cfg.autoscaling.max_instances) == (2, 8)  # type: ignore[union-attr]
    example = load_config(Path(apply.__file__).with_name("deploy.example.json"), {})
    assert example.blue_green.traffic == "CANARY" and example.enable_network_isolation
