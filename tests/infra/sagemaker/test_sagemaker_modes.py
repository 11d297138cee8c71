"""``deploy --serverless`` and ``deploy --async`` end to end, and the checks SageMaker would otherwise make later.

Against moto in server mode where moto has the call (serverless endpoint configs, async configs, Application Auto
Scaling step policies, CloudWatch alarms); every request goes through a real botocore client, which validates it
against the SageMaker / autoscaling / CloudWatch API models before sending, and the plans are also validated with
botocore's ``ParamValidator`` (``assert_valid_request``). UpdateEndpoint, which moto lacks, is recorded by the
conftest's extension and validated the same way.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.stub import Stubber
from botocore.validate import ParamValidator
from pydantic import ValidationError
from sagemaker_testing import IMAGE, ROLE

from inference import model_set
from inference.runtime import worker_plan
from infra.sagemaker import apply, artifacts, autoscaling, modes, plan
from infra.sagemaker import cli as cli_module
from infra.sagemaker.config import DeployConfig, load_config
from infra.sagemaker.plan import Call

SERVICE_MODELS = {name: boto3.session.Session().client(name, region_name="us-east-1").meta.service_model
                  for name in ("sagemaker", "application-autoscaling", "cloudwatch")}  # fmt: skip
BASE = ["--image-uri", IMAGE, "--role-arn", ROLE, "--poll-interval", "0"]
SERVERLESS = ["deploy", "--endpoint-name", "emb", *BASE, "--serverless"]
ASYNC = ["deploy", "--endpoint-name", "emb", *BASE, "--instance-type", "ml.m5.xlarge", "--async",
         "--async-output-s3", "s3://out/ok", "--model-data", "s3://models/emb/model.tar.gz"]  # fmt: skip
TOPIC = "arn:aws:sns:us-east-1:123456789012:emb-results"
ERRORS = "arn:aws:sns:us-east-1:123456789012:emb-errors"
MiB = 1024**2


def assert_valid_request(service: str, operation: str, params: dict[str, Any]) -> None:
    """``params`` pass botocore's own validation for the real API operation (moto checks less)."""
    name = "".join(part.title() for part in operation.split("_")) if "_" in operation else operation
    shape = SERVICE_MODELS[service].operation_model(name).input_shape
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()


def assert_valid_plan(calls: list[dict[str, Any]]) -> None:
    for call in calls:
        if call["service"] != "s3":
            assert_valid_request(call["service"], call["operation"], call["params"])


def config(**overrides: Any) -> DeployConfig:
    return DeployConfig.model_validate({"endpoint_name": "emb", "image_uri": IMAGE, "role_arn": ROLE, **overrides})


def big_model(folder: Path, weight_bytes: int) -> Path:
    """``folder`` with a sparse ``model.safetensors`` of ``weight_bytes`` (no disk used)."""
    with (folder / "model.safetensors").open("r+b") as weights:
        weights.truncate(weight_bytes)
    return folder


# --- serverless ----------------------------------------------------------------------------------------------------


def test_deploy_serverless_creates_a_serverless_variant_on_moto(cli, boto, sm, model_folder) -> None:
    boto.client("s3").create_bucket(Bucket="models")
    boto.calls.calls.clear()
    argv = [*SERVERLESS, "--memory-mb", "3072", "--max-concurrency", "8", "--provisioned-concurrency", "2",
            "--model-source", str(model_folder), "--upload-s3", "s3://models/emb"]  # fmt: skip
    code, out, err = cli(argv)
    assert code == 0, err
    assert boto.calls.operations() == [
        "DescribeEndpoint", "PutObject", "CreateModel", "CreateEndpointConfig", "CreateEndpoint", "DescribeEndpoint",
    ]  # fmt: skip
    (request,) = boto.calls.bodies("CreateEndpointConfig")
    assert request["ProductionVariants"] == [{
        "VariantName": "AllTraffic", "ModelName": out["ModelName"],
        "ServerlessConfig": {"MemorySizeInMB": 3072, "MaxConcurrency": 8, "ProvisionedConcurrency": 2},
    }]  # fmt: skip
    assert "KmsKeyId" not in request and "AsyncInferenceConfig" not in request
    (model,) = boto.calls.bodies("CreateModel")
    assert model["EnableNetworkIsolation"] is False and "VpcConfig" not in model  # serverless supports neither
    assert model["PrimaryContainer"]["Environment"] == {
        "EMB_SAGEMAKER_MODE": "serverless", "EMB_MAX_BODY_MB": "4", "EMB_REQUEST_DEADLINE_S": "45", "EMB_WORKERS": "1",
    }  # fmt: skip
    live = sm.describe_endpoint_config(EndpointConfigName=out["EndpointConfigName"])["ProductionVariants"][0]
    assert live["ServerlessConfig"]["MemorySizeInMB"] == 3072
    code, status, _ = cli(["status", "--endpoint-name", "emb"])
    assert code == 0 and status["Variants"][0]["Serverless"]["MaxConcurrency"] == 8


def test_serverless_dry_run_is_valid_botocore_and_the_config_file_works(cli, boto, tmp_path) -> None:
    path = tmp_path / "serverless.json"
    body = {"endpoint_name": "emb", "image_uri": IMAGE, "role_arn": ROLE, "serverless": {"memory_mb": 4096},
            "environment": {"EMB_LOG_LEVEL": "DEBUG"}}  # fmt: skip
    path.write_text(json.dumps(body))
    code, out, err = cli(["deploy", "--config", str(path), "--dry-run"])
    assert code == 0, err
    assert boto.calls.calls == []
    assert_valid_plan(out)
    variant = out[1]["params"]["ProductionVariants"][0]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 4096, "MaxConcurrency": 5}
    assert out[0]["params"]["PrimaryContainer"]["Environment"]["EMB_LOG_LEVEL"] == "DEBUG"
    code, out, _ = cli(["deploy", "--config", str(path), "--dry-run", "--memory-mb", "1024"])  # flags win
    assert code == 0 and out[1]["params"]["ProductionVariants"][0]["ServerlessConfig"]["MemorySizeInMB"] == 1024


def test_a_memory_size_the_model_cannot_load_in_is_refused_before_any_call(cli, boto, model_folder) -> None:
    big_model(model_folder, 1600 * MiB)  # fp16 weights of a ~0.8 B-parameter model: 4224 MB needed
    argv = [*SERVERLESS, "--model-source", str(model_folder), "--upload-s3", "s3://models/emb"]
    code, _, err = cli([*argv, "--memory-mb", "4096"])
    assert code == 2 and "serverless memory 4096 MB" in err and "use --memory-mb 5120 or more" in err
    assert boto.calls.calls == []
    code, out, err = cli([*argv, "--memory-mb", "5120", "--dry-run"])
    assert code == 0, err
    big_model(model_folder, 3 * 1024 * MiB)  # needs ~7 GB: more than serverless has
    code, _, err = cli([*argv, "--memory-mb", "6144"])
    assert code == 2 and "more than serverless's largest size (6144 MB)" in err and "instance" in err
    code, _, err = cli([*argv, "--memory-mb", "6144", "--env", "EMB_WORKERS=0"])
    assert code == 2 and "EMB_WORKERS=0" in err
    big_model(model_folder, 600 * MiB)  # one worker needs 2224 MB, two 3936 MB
    code, _, err = cli([*argv, "--memory-mb", "3072", "--env", "SAGEMAKER_MODEL_SERVER_WORKERS=2"])
    assert code == 2 and "2 CPU worker(s)" in err and "use --memory-mb 4096" in err
    assert boto.calls.calls == []


def test_the_memory_estimate_is_the_servers_per_worker_estimate_plus_the_container() -> None:
    for weights in (0, 90 * MiB, 1100 * MiB):
        needed = modes.serverless_memory_needed(weights, workers=2)
        assert needed == 2 * worker_plan.per_worker_bytes(weights) + modes.CONTAINER_OVERHEAD_BYTES
    assert modes.serverless_memory_needed(1024 * MiB) == 3 * 1024 * MiB  # 2 x weights + 1 GiB
    assert artifacts.WEIGHT_SUFFIXES == model_set.WEIGHT_SUFFIXES
    modes.check_serverless_memory(3072, 1024 * MiB)
    with pytest.raises(ValueError, match="use --memory-mb 4096"):
        modes.check_serverless_memory(3072, 1024 * MiB + 1)


def test_weights_are_measured_in_a_folder_and_in_an_archive(model_folder, tmp_path) -> None:
    big_model(model_folder, 300 * MiB)
    (model_folder / "tokenizer.json").write_bytes(b"{}" * 1000)
    assert artifacts.weight_bytes(model_folder) == 300 * MiB
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(model_folder / "config.json", arcname="config.json")
        small = tmp_path / "w.safetensors"
        small.write_bytes(b"\1" * 4096)
        tar.add(small, arcname="model.safetensors")
    assert artifacts.weight_bytes(archive) == 4096
    cfg = config(serverless={"memory_mb": 2048}, model_source=str(archive), upload_s3="s3://m/e")
    apply.check_serverless_fit(cfg)  # 4 KiB of weights fit in 2 GB
    with pytest.raises(ValueError, match="use --memory-mb 2048"):  # the runtime alone is about 1 GiB
        apply.check_serverless_fit(cfg.model_copy(update={"serverless": cfg.serverless.model_copy(  # type: ignore
            update={"memory_mb": 1024})}))


def test_a_model_in_s3_is_sized_by_its_archive_and_an_unreadable_one_only_warns() -> None:
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    cfg = config(serverless={"memory_mb": 2048}, model_data="s3://models/emb/model.tar.gz")
    head = {"Bucket": "models", "Key": "emb/model.tar.gz"}
    with Stubber(s3) as stub:
        stub.add_response("head_object", {"ContentLength": 1200 * MiB}, head)
        with pytest.raises(ValueError, match=r"s3://models/emb/model.tar.gz \(archive size\).*--memory-mb 4096"):
            apply.check_serverless_fit(cfg, s3)
        stub.add_client_error("head_object", "403", "Forbidden", 403, expected_params=head)
        lines: list[str] = []
        apply.check_serverless_fit(cfg, s3, lines.append)
        assert lines == ["warning: could not read the size of s3://models/emb/model.tar.gz; serverless memory "
                         "not checked"]  # fmt: skip
        stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("extra", "refused"),
    [
        (["--inference-ami-version", "al2-ami-sagemaker-inference-gpu-3-1"], "inference_ami_version"),
        (["--instance-type", "ml.g5.xlarge"], "instance_type / instance_count"),
        (["--network-isolation"], "enable_network_isolation"),
        (["--max-instances", "3"], "autoscaling"),
        (["--async-output-s3", "s3://out/"], "async_inference"),
        (["--traffic", "CANARY"], "CANARY / LINEAR"),
        (["--max-concurrency", "201"], "max_concurrency"),
        (["--max-concurrency", "2", "--provisioned-concurrency", "3"], "provisioned_concurrency 3 must be <="),
        (["--env", "EMB_MAX_BODY_MB=6"], "EMB_MAX_BODY_MB=6: serverless endpoints accept request bodies up to 4 MB"),
        (["--env", "EMB_REQUEST_DEADLINE_S=60"], "must be below that"),
    ],
)
def test_serverless_refuses_what_serverless_inference_cannot_do(cli, boto, extra, refused) -> None:
    code, _, err = cli([*SERVERLESS, *extra, "--dry-run"])
    assert code == 2 and refused in err, err
    assert boto.calls.calls == []


def test_serverless_refuses_a_vpc_and_warns_about_the_gpu_image(cli, tmp_path) -> None:
    path = tmp_path / "vpc.json"
    path.write_text(json.dumps({"subnets": ["subnet-1"], "security_group_ids": ["sg-1"]}))
    code, _, err = cli([*SERVERLESS, "--config", str(path), "--dry-run"])
    assert code == 2 and "subnets / security_group_ids (VPC)" in err
    gpu_image = IMAGE.replace(":0.1.0", ":0.1.0-gpu")
    code, _, err = cli(["deploy", "--endpoint-name", "emb", "--image-uri", gpu_image, "--role-arn", ROLE,
                        "--serverless", "--dry-run"])  # fmt: skip
    assert code == 0 and "warning: serverless endpoints run on CPU only" in err
    assert "container/build.sh --flavour cpu" in err
    code, _, err = cli([*SERVERLESS, "--dry-run"])
    assert code == 0 and "warning" not in err


def test_invoke_serverless_keeps_requests_within_4_mb(cli, monkeypatch) -> None:
    seen: list[dict[str, Any]] = []

    class Client:  # stands in for EmbeddingClient: records how the CLI builds it
        def __init__(self, name: str, **kwargs: Any) -> None:
            seen.append(kwargs)

        def embed(self, texts: list[str], **_: Any) -> Any:
            return np.zeros((len(texts), 2), dtype=np.float32)

    monkeypatch.setattr(cli_module, "EmbeddingClient", Client)
    invoke = ["invoke", "--endpoint-name", "emb", "--text", "a", "--region", "us-east-1"]
    code, out, err = cli([*invoke, "--serverless"])
    assert code == 0 and out["shape"] == [1, 2], err
    code, _, err = cli(invoke)
    assert code == 0, err
    assert [kwargs.get("max_body_bytes") for kwargs in seen] == [4_000_000, None]  # real-time: the client's 6 MB


def test_a_serverless_update_sends_no_traffic_shifting_and_an_instance_endpoint_cannot_become_one(
    cli, aws, boto
) -> None:
    code, _, err = cli([*SERVERLESS, "--memory-mb", "2048"])
    assert code == 0, err
    code, out, err = cli(["update", "--endpoint-name", "emb", *BASE, "--serverless", "--memory-mb", "3072"])
    assert code == 0, err
    (request,) = aws.update.requests
    assert request == {"EndpointName": "emb", "EndpointConfigName": out["EndpointConfigName"]}
    assert_valid_request("sagemaker", "UpdateEndpoint", request)
    code, _, err = cli(["deploy", "--endpoint-name", "inst", *BASE, "--instance-type", "ml.m5.xlarge"])
    assert code == 0, err
    code, _, err = cli(["update", "--endpoint-name", "inst", *BASE, "--serverless"])
    assert code == 1 and "cannot update an instance-based endpoint to serverless" in err
    assert len(aws.update.requests) == 1


# --- async ---------------------------------------------------------------------------------------------------------


def scaling_state(boto: Any, endpoint: str = "emb") -> tuple[dict[str, Any], list[dict[str, Any]], list[Any]]:
    scaling, cloudwatch = boto.client("application-autoscaling"), boto.client("cloudwatch")
    resource = f"endpoint/{endpoint}/variant/AllTraffic"
    targets = scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource])
    policies = scaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=resource)
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=endpoint)["MetricAlarms"]
    target = targets["ScalableTargets"][0] if targets["ScalableTargets"] else {}
    return target, policies["ScalingPolicies"], alarms


def test_deploy_async_scales_on_the_backlog_and_to_zero_on_moto(cli, boto, sm) -> None:
    argv = [*ASYNC, "--async-failure-s3", "s3://out/err", "--async-success-topic", TOPIC, "--async-error-topic",
            ERRORS, "--async-output-kms-key", "alias/results", "--async-max-concurrent", "4",
            "--min-instances", "0", "--max-instances", "3", "--target-backlog", "2"]  # fmt: skip
    code, out, err = cli(argv)
    assert code == 0, err
    (request,) = boto.calls.bodies("CreateEndpointConfig")
    assert request["AsyncInferenceConfig"] == {
        "OutputConfig": {"S3OutputPath": "s3://out/ok", "S3FailurePath": "s3://out/err",
                         "NotificationConfig": {"SuccessTopic": TOPIC, "ErrorTopic": ERRORS},
                         "KmsKeyId": "alias/results"},
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 4},
    }  # fmt: skip
    assert "KmsKeyId" not in request  # the volume key is separate (volume_kms_key_id)
    (model,) = boto.calls.bodies("CreateModel")
    assert model["PrimaryContainer"]["Environment"] == {"EMB_SAGEMAKER_MODE": "async", "EMB_MAX_BODY_MB": "1024"}
    live = sm.describe_endpoint_config(EndpointConfigName=out["EndpointConfigName"])
    assert live["AsyncInferenceConfig"]["OutputConfig"]["S3FailurePath"] == "s3://out/err"
    target, policies, alarms = scaling_state(boto)
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 3)
    by_name = {p["PolicyName"]: p for p in policies}
    tracking = by_name["emb-target-tracking"]["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 2.0
    assert tracking["CustomizedMetricSpecification"]["MetricName"] == "ApproximateBacklogSizePerInstance"
    step = by_name["emb-scale-from-zero"]
    assert step["StepScalingPolicyConfiguration"]["StepAdjustments"] == [
        {"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}
    ]
    (alarm,) = alarms
    assert alarm["AlarmName"] == "emb-has-backlog-without-capacity"
    assert (alarm["MetricName"], alarm["Namespace"], alarm["Threshold"]) == ("HasBacklogWithoutCapacity",
                                                                            "AWS/SageMaker", 1.0)  # fmt: skip
    assert alarm["Dimensions"] == [{"Name": "EndpointName", "Value": "emb"}]
    assert alarm["AlarmActions"] == [step["PolicyARN"]]  # the placeholder was replaced by the real ARN
    for operation in ("PutScalingPolicy", "PutMetricAlarm", "RegisterScalableTarget"):
        service = "cloudwatch" if operation == "PutMetricAlarm" else "application-autoscaling"
        for body in boto.calls.bodies(operation):
            assert_valid_request(service, operation, body)
    code, done, err = cli(["delete", "--endpoint-name", "emb", "--poll-interval", "0"])
    assert code == 0, err
    assert "delete_alarms emb-has-backlog-without-capacity" in done["Done"]
    assert scaling_state(boto) == ({}, [], [])


def test_async_dry_run_is_valid_botocore_and_keeps_the_alarm_action_symbolic(cli, boto) -> None:
    code, out, err = cli([*ASYNC, "--min-instances", "0", "--max-instances", "2", "--dry-run"])
    assert code == 0, err
    assert boto.calls.calls == []
    assert_valid_plan(out)
    assert [c["operation"] for c in out][-4:] == [
        "register_scalable_target", "put_scaling_policy", "put_scaling_policy", "put_metric_alarm",
    ]  # fmt: skip
    assert out[-1]["params"]["AlarmActions"] == [autoscaling.policy_arn_ref("emb-scale-from-zero")]


def test_async_endpoints_keep_the_network_their_s3_requests_need(cli, boto) -> None:
    """AWS Marketplace's ML restrictions: endpoints configured for asynchronous inference require models to have
    network connectivity. So an async model has no network isolation unless asked (then with a warning); a
    real-time one keeps it on."""
    def create_model(argv: list[str]) -> tuple[dict[str, Any], str]:
        code, out, err = cli([*argv, "--dry-run"])
        assert code == 0, err
        (call,) = [call for call in out if call["operation"] == "create_model"]
        assert_valid_request("sagemaker", "create_model", call["params"])
        return call["params"], err

    model, err = create_model(ASYNC)
    assert model["EnableNetworkIsolation"] is False and "warning" not in err
    model, err = create_model([*ASYNC, "--network-isolation"])
    assert model["EnableNetworkIsolation"] is True
    assert "warning: enable_network_isolation on an async endpoint: AWS Marketplace's ML restrictions" in err
    model, _ = create_model(["deploy", "--endpoint-name", "emb", *BASE, "--instance-type", "ml.m5.xlarge"])
    assert model["EnableNetworkIsolation"] is True
    assert boto.calls.calls == []


@pytest.mark.parametrize(
    ("argv", "refused"),
    [
        (["deploy", "--endpoint-name", "emb", *BASE, "--async"], "--async needs --async-output-s3"),
        ([*ASYNC, "--env", "EMB_REQUEST_DEADLINE_S=7200"], "an async invocation times out after at most 3600 s"),
        (["deploy", "--endpoint-name", "emb", *BASE, "--instance-type", "ml.m5.xlarge", "--min-instances", "0"],
         "scale to zero) is for async endpoints only"),
        (["deploy", "--endpoint-name", "emb", *BASE, "--async-output-kms-key", "alias/k"], "needs async_inference"),
        ([*ASYNC, "--async-success-topic", "not-an-arn"], "success_topic_arn"),
        ([*ASYNC, "--env", "EMB_MAX_BODY_MB=2048"], "async endpoints accept request bodies up to 1024 MB"),
        ([*ASYNC, "--target-invocations", "5", "--target-backlog", "5"], "not both"),
        ([*ASYNC, "--env", "EMB_SAGEMAKER_MODE=realtime"], "this deployment is async"),
    ],
)
def test_async_refusals_come_before_any_call(cli, boto, argv, refused) -> None:
    code, _, err = cli([*argv, "--dry-run"])
    assert code == 2 and refused in err, err
    assert boto.calls.calls == []


# --- updates, guardrails, KMS ---------------------------------------------------------------------------------------

UPDATE = ["update", "--endpoint-name", "emb", *BASE, "--model-data", "s3://models/emb/v2/model.tar.gz"]
M5 = ["--instance-type", "ml.m5.xlarge"]


def deploy(cli: Callable[..., Any], *extra: str) -> dict[str, Any]:
    code, out, err = cli(["deploy", "--endpoint-name", "emb", *BASE, *M5, *extra])
    assert code == 0, err
    return out


def test_updates_of_an_autoscaled_fleet_retain_its_size(cli, aws) -> None:
    deploy(cli, "--max-instances", "4")
    code, _, err = cli([*UPDATE, *M5, "--max-instances", "4", "--traffic", "LINEAR", "--step-percent", "25"])
    assert code == 0, err
    code, _, err = cli([*UPDATE, "--instance-type", "ml.m5.2xlarge", "--max-instances", "4"])  # type change
    assert code == 0, err
    code, _, err = cli([*UPDATE, "--instance-type", "ml.m5.2xlarge"])  # autoscaling switched off: new count
    assert code == 0, err
    retained = [request.get("RetainAllVariantProperties") for request in aws.update.requests]
    assert retained == [True, True, None]
    for request in aws.update.requests:
        assert_valid_request("sagemaker", "UpdateEndpoint", request)
    assert aws.update.requests[0]["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"][
        "LinearStepSize"] == {"Type": "CAPACITY_PERCENT", "Value": 25}  # fmt: skip


def test_an_update_without_autoscaling_uses_the_new_instance_count(cli, aws) -> None:
    deploy(cli)
    code, _, err = cli([*UPDATE, *M5, "--instance-count", "2"])
    assert code == 0, err
    (request,) = aws.update.requests
    assert "RetainAllVariantProperties" not in request


def test_a_rolled_back_type_change_restores_scale_to_zero_with_its_alarm_pointing_at_the_new_policy(
    cli, aws, boto
) -> None:
    deploy(cli, "--async", "--async-output-s3", "s3://out/ok", "--min-instances", "0", "--max-instances", "2")
    _, before, _ = scaling_state(boto)
    aws.update.rollback_reason = "Alarm emb-5xx went into ALARM; rolled back"
    code, _, err = cli([*UPDATE, "--instance-type", "ml.m5.2xlarge", "--async", "--async-output-s3",
                        "s3://out/ok", "--min-instances", "0", "--max-instances", "2"])  # fmt: skip
    assert code == 1 and "rolled back" in err
    target, policies, (alarm,) = scaling_state(boto)
    assert target["MinCapacity"] == 0
    step = next(p for p in policies if p["PolicyType"] == "StepScaling")
    assert alarm["AlarmActions"] == [step["PolicyARN"]]
    assert sorted(p["PolicyName"] for p in policies) == sorted(p["PolicyName"] for p in before)


def test_an_update_that_stops_scaling_to_zero_removes_the_alarm(cli, aws, boto) -> None:
    deploy(cli, "--async", "--async-output-s3", "s3://out/ok", "--min-instances", "0", "--max-instances", "2")
    code, _, err = cli([*UPDATE, *M5, "--async", "--async-output-s3", "s3://out/ok", "--min-instances", "1",
                        "--max-instances", "2"])  # fmt: skip
    assert code == 0, err
    target, policies, alarms = scaling_state(boto)
    assert target["MinCapacity"] == 1 and [p["PolicyName"] for p in policies] == ["emb-target-tracking"]
    assert alarms == []


@pytest.mark.parametrize(
    ("traffic", "step", "ok"),
    [("CANARY", 50, True), ("CANARY", 51, False), ("CANARY", 1, True), ("LINEAR", 9, False), ("LINEAR", 10, True),
     ("LINEAR", 50, True), ("LINEAR", 60, False), ("ALL_AT_ONCE", 100, True)],
)  # fmt: skip
def test_guardrail_bounds_are_checked_before_any_call(cli, boto, traffic, step, ok) -> None:
    code, _, err = cli([*UPDATE, *M5, "--traffic", traffic, "--step-percent", str(step)])
    if ok:
        assert code == 1 and "does not exist" in err  # got past validation to the first read
        call = plan.update_endpoint(config(blue_green={"traffic": traffic, "step_percent": step}), "emb-v2")
        assert_valid_request("sagemaker", "UpdateEndpoint", call.params)
    else:
        assert code == 2 and "step_percent" in err and boto.calls.calls == []


@pytest.mark.parametrize("instance_type", ["ml.g5.xlarge", "ml.g4dn.xlarge", "ml.g6.2xlarge", "ml.p4d.24xlarge",
                                           "ml.m5d.large", "ml.c5d.xlarge", "ml.r5d.large"])  # fmt: skip
def test_a_volume_key_on_instance_types_with_local_nvme_is_refused(instance_type: str) -> None:
    with pytest.raises(ValidationError, match="local NVMe instance storage"):
        config(instance_type=instance_type, volume_kms_key_id="alias/volume")
    with pytest.raises(ValidationError, match="no EBS volume to size"):
        config(instance_type=instance_type, volume_size_gb=100)


def test_volume_and_async_output_keys_go_to_their_own_fields() -> None:
    for instance_type in ("ml.m5.xlarge", "ml.c6i.xlarge", "ml.p3.2xlarge", "ml.inf2.xlarge"):
        assert not modes.has_local_nvme(instance_type)
    cfg = config(instance_type="ml.c6i.xlarge", volume_kms_key_id="alias/volume", async_output_kms_key_id="alias/out",
                 async_inference={"output_s3": "s3://out/ok"})  # fmt: skip
    call = plan.create_endpoint_config(cfg, "emb-v1", "emb-v1")
    assert call.params["KmsKeyId"] == "alias/volume"
    assert call.params["AsyncInferenceConfig"]["OutputConfig"]["KmsKeyId"] == "alias/out"
    assert_valid_request("sagemaker", "CreateEndpointConfig", call.params)
    serverless = plan.create_endpoint_config(config(serverless={}, volume_kms_key_id="alias/image"), "e", "m")
    assert serverless.params["KmsKeyId"] == "alias/image"  # serverless: encrypts the image; no NVMe rule


def test_the_old_single_kms_key_field_is_refused_with_the_split_named(cli, tmp_path) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"kms_key_id": "alias/k"}))
    code, _, err = cli(["deploy", "--endpoint-name", "emb", *BASE, *M5, "--config", str(path), "--dry-run"])
    assert code == 2 and "volume_kms_key_id" in err and "async_output_kms_key_id" in err
    code, out, err = cli(["deploy", "--endpoint-name", "emb", *BASE, *M5, "--volume-kms-key", "alias/v", "--dry-run"])
    assert code == 0 and out[1]["params"]["KmsKeyId"] == "alias/v"
    code, _, err = cli(["deploy", "--endpoint-name", "emb", *BASE, "--volume-kms-key", "alias/v", "--dry-run"])
    assert code == 2 and "ml.g5.xlarge has local NVMe" in err  # the default instance type


def test_scale_from_zero_alarm_waits_for_its_policy() -> None:
    ref = autoscaling.policy_arn_ref("emb-scale-from-zero")
    params = {"AlarmName": "a", "AlarmActions": [ref, "arn:aws:sns:us-east-1:1:x"]}
    resolved = autoscaling.resolve_policy_arns(params, {"emb-scale-from-zero": "arn:policy"})
    assert resolved["AlarmActions"] == ["arn:policy", "arn:aws:sns:us-east-1:1:x"]
    with pytest.raises(ValueError, match="has not been created"):
        autoscaling.resolve_policy_arns(params, {})
    clients = apply.Clients(sagemaker=None, autoscaling=None, s3=None)
    with pytest.raises(ValueError, match="has not been created"):
        clients.execute(Call("cloudwatch", "put_metric_alarm", params))


@pytest.mark.parametrize("name", ["deploy.serverless.example.json", "deploy.async.example.json"])
def test_the_example_configs_are_valid_and_their_plans_too(name: str) -> None:
    cfg = load_config(Path(apply.__file__).with_name(name), {})
    assert cfg.mode == name.split(".")[1]
    assert_valid_plan([call.to_json() for call in apply.deploy_plan(cfg, "20260102-030405-000")])


@pytest.mark.parametrize("command", ["deploy", "update", "invoke", "status", "delete", "batch-transform"])
def test_every_command_prints_its_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli_module.build_parser().parse_args([command, "--help"])
    assert done.value.code == 0 and "--endpoint-name" in capsys.readouterr().out
