"""The CloudFormation template: cfn-lint clean, deployable on moto, and in step with the CLI's requests.

moto's CloudFormation creates the SageMaker Model / EndpointConfig / Endpoint but skips the
Application Auto Scaling resources (with a warning) and ignores the ``Rules`` section; those are checked by
cfn-lint and by evaluating the template for given parameters (``sagemaker_cfn_eval``), against the CLI's requests.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from cfnlint.decode import decode_str
from sagemaker_cfn_eval import Template
from sagemaker_testing import IMAGE, ROLE

from infra.sagemaker import autoscaling, modes, plan
from infra.sagemaker.config import DeployConfig

TEMPLATE = Path(plan.__file__).with_name("cloudformation.yaml")
TOPIC = "arn:aws:sns:us-east-1:123456789012:emb-results"
PARAMETERS = {
    "EndpointName": "emb-cfn",
    "ImageUri": IMAGE,
    "ExecutionRoleArn": ROLE,
    "ModelDataUrl": "s3://models/emb/model.tar.gz",
    "InstanceType": "ml.m5.xlarge",  # moto's instance-type list predates ml.g5
    "AutoscalingMaxInstances": "3",
    "TrafficRouting": "CANARY",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    data, errors = decode_str(TEMPLATE.read_text())
    assert not errors
    return data


def test_cfn_lint_reports_nothing() -> None:
    assert [str(match) for match in lint(TEMPLATE.read_text(), regions=["us-east-1", "eu-west-1"])] == []


def test_stack_creates_model_config_and_endpoint_on_moto(boto: Any, cli: Any) -> None:
    cloudformation, sm = boto.client("cloudformation"), boto.client("sagemaker")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # moto skips the autoscaling resources, with a warning
        cloudformation.create_stack(
            StackName="emb",
            TemplateBody=TEMPLATE.read_text(),
            Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in PARAMETERS.items()],
        )
    stack = cloudformation.describe_stacks(StackName="emb")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    config = sm.describe_endpoint_config(EndpointConfigName=outputs["EndpointConfigName"])
    (variant,) = config["ProductionVariants"]
    assert variant["ModelName"] == outputs["ModelName"] and variant["InstanceType"] == "ml.m5.xlarge"
    assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == 600
    assert variant["RoutingConfig"] == {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}
    container = sm.describe_model(ModelName=outputs["ModelName"])["PrimaryContainer"]
    assert container["Image"] == IMAGE and container["ModelDataUrl"] == PARAMETERS["ModelDataUrl"]
    # moto names the endpoint itself (it ignores EndpointName); the CLI's status works on it all the same
    code, status, err = cli(["status", "--endpoint-name", outputs["EndpointName"]])
    assert code == 0, err
    assert status["EndpointStatus"] == "InService" and status["EndpointConfigName"] == outputs["EndpointConfigName"]
    cloudformation.delete_stack(StackName="emb")
    assert sm.list_endpoints()["Endpoints"] == [] and sm.list_models()["Models"] == []


def evaluate(template: dict[str, Any], **parameters: Any) -> Template:
    return Template(template, {**REQUIRED, **parameters})


REQUIRED = {"EndpointName": "emb", "ImageUri": IMAGE, "ExecutionRoleArn": ROLE}


def test_realtime_autoscaling_and_blue_green_resources(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    target, policy = resources["ScalableTarget"], resources["ScalingPolicy"]
    assert target["Condition"] == policy["Condition"] == "HasAutoscaling"
    assert target["Properties"]["ResourceId"] == {"Fn::Sub": "endpoint/${Endpoint.EndpointName}/variant/AllTraffic"}
    assert target["Properties"]["ScalableDimension"] == autoscaling.DIMENSION
    assert policy["Properties"]["PolicyName"] == {"Fn::Sub": autoscaling.policy_name("${EndpointName}")}
    stack = evaluate(template, AutoscalingMaxInstances=4, TrafficRouting="CANARY", TrafficStepPercent=20).resources()
    config = stack["ScalingPolicy"]["TargetTrackingScalingPolicyConfiguration"]
    assert config["PredefinedMetricSpecification"] == {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}
    assert "CustomizedMetricSpecification" not in config and config["TargetValue"] == "100"
    endpoint = stack["Endpoint"]
    routing = endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "CANARY" and routing["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": "20"}
    assert endpoint["RetainAllVariantProperties"] is True  # an update keeps the autoscaled fleet's size
    assert evaluate(template).resources()["Endpoint"]["RetainAllVariantProperties"] is False
    assert {"ScaleFromZeroPolicy", "BacklogWithoutCapacityAlarm"}.isdisjoint(stack)


def test_async_scales_on_the_backlog_like_the_cli_and_can_scale_to_zero(template: dict[str, Any]) -> None:
    cfg = DeployConfig(endpoint_name="emb", image_uri=IMAGE, role_arn=ROLE, instance_type="ml.c6i.xlarge",
                       async_inference={"output_s3": "s3://out/ok"},
                       autoscaling={"min_instances": 0, "max_instances": 3})  # fmt: skip
    cli_register, cli_policy, cli_step, cli_alarm = autoscaling.autoscaling_calls(cfg)
    stack = evaluate(template, AsyncOutputS3="s3://out/ok", AsyncFailureS3="s3://out/err",
                     AsyncSuccessTopicArn=TOPIC, AsyncOutputKmsKeyId="alias/results",
                     AutoscalingMinInstances=0, AutoscalingMaxInstances=3).resources()  # fmt: skip
    tracking = stack["ScalingPolicy"]["TargetTrackingScalingPolicyConfiguration"]
    assert "PredefinedMetricSpecification" not in tracking and tracking["TargetValue"] == "5"
    metric = tracking["CustomizedMetricSpecification"]
    expected = cli_policy.params["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"]
    assert {k: v for k, v in metric.items() if k != "Dimensions"} == {
        k: v for k, v in expected.items() if k != "Dimensions"
    }
    assert metric["Dimensions"] == [{"Name": "EndpointName", "Value": {"Fn::GetAtt": ["Endpoint", "EndpointName"]}}]
    assert stack["ScalableTarget"]["MinCapacity"] == "0"
    step = stack["ScaleFromZeroPolicy"]
    assert step["PolicyType"] == "StepScaling"
    assert step["StepScalingPolicyConfiguration"] == cli_step.params["StepScalingPolicyConfiguration"]
    alarm = stack["BacklogWithoutCapacityAlarm"]
    assert alarm["AlarmActions"] == [{"Ref": "ScaleFromZeroPolicy"}]
    same = ("MetricName", "Namespace", "Statistic", "Period", "EvaluationPeriods", "DatapointsToAlarm",
            "ComparisonOperator", "TreatMissingData")  # fmt: skip
    assert {k: alarm[k] for k in same} == {k: cli_alarm.params[k] for k in same}
    assert alarm["MetricName"] == "HasBacklogWithoutCapacity" and float(alarm["Threshold"]) == 1.0
    output = stack["EndpointConfig"]["AsyncInferenceConfig"]["OutputConfig"]
    assert output == {"S3OutputPath": "s3://out/ok", "S3FailurePath": "s3://out/err", "KmsKeyId": "alias/results",
                      "NotificationConfig": {"SuccessTopic": TOPIC}}  # fmt: skip
    assert "KmsKeyId" not in stack["EndpointConfig"]  # the volume key is a separate parameter
    env = stack["Model"]["PrimaryContainer"]["Environment"]
    assert env == {"EMB_LOG_LEVEL": "INFO", **modes.environment("async")}
    # async needs the network for its S3 requests (AWS Marketplace's ML restrictions): off by default in both
    assert stack["Model"]["EnableNetworkIsolation"] is False is cfg.enable_network_isolation
    isolated = evaluate(template, AsyncOutputS3="s3://o", EnableNetworkIsolation="true").resources()["Model"]
    assert isolated["EnableNetworkIsolation"] is True
    assert cli_register.params["MinCapacity"] == 0
    # min 1: no scale-from-zero resources
    min_one = evaluate(template, AsyncOutputS3="s3://o", AutoscalingMaxInstances=2).resources()
    assert "ScaleFromZeroPolicy" not in min_one and "BacklogWithoutCapacityAlarm" not in min_one


def test_serverless_variant_has_no_instance_fields_and_matches_the_cli(template: dict[str, Any]) -> None:
    cfg = DeployConfig(endpoint_name="emb", image_uri=IMAGE, role_arn=ROLE,
                       serverless={"memory_mb": 3072, "max_concurrency": 8, "provisioned_concurrency": 2})  # fmt: skip
    stack = evaluate(template, ServerlessMemoryMB=3072, ServerlessMaxConcurrency=8,
                     ServerlessProvisionedConcurrency=2).resources()  # fmt: skip
    (variant,) = stack["EndpointConfig"]["ProductionVariants"]
    expected = plan.production_variant(cfg, "m")
    assert set(variant) == set(expected) == {"VariantName", "ModelName", "ServerlessConfig"}
    assert {k: int(v) for k, v in variant["ServerlessConfig"].items()} == expected["ServerlessConfig"]
    assert stack["Model"]["EnableNetworkIsolation"] is False is cfg.enable_network_isolation
    assert stack["Model"]["PrimaryContainer"]["Environment"] == {"EMB_LOG_LEVEL": "INFO", **modes.environment(
        "serverless")}  # fmt: skip
    assert "DeploymentConfig" not in stack["Endpoint"] and "ScalableTarget" not in stack
    on_demand = evaluate(template, ServerlessMemoryMB=1024).resources()["EndpointConfig"]["ProductionVariants"][0]
    assert on_demand["ServerlessConfig"] == {"MemorySizeInMB": "1024", "MaxConcurrency": "5"}


def test_rules_refuse_what_sagemaker_would(template: dict[str, Any]) -> None:
    assert evaluate(template).broken_rules() == []
    assert evaluate(template, TrafficRouting="LINEAR", TrafficStepPercent=10).broken_rules() == []
    assert evaluate(template, TrafficRouting="LINEAR", TrafficStepPercent=50).broken_rules() == []
    (linear,) = evaluate(template, TrafficRouting="LINEAR", TrafficStepPercent=5).broken_rules()
    assert "10-50%" in linear
    assert template["Parameters"]["TrafficStepPercent"]["MaxValue"] == 50  # canary <= 50%, linear <= 50%
    serverless = evaluate(template, ServerlessMemoryMB=2048, EnableNetworkIsolation="true",
                          InferenceAmiVersion="al2-ami-sagemaker-inference-gpu-3-1", AutoscalingMaxInstances=2,
                          AsyncOutputS3="s3://o").broken_rules()  # fmt: skip
    assert len(serverless) == 4 and any("network isolation" in text for text in serverless)
    assert evaluate(template, ServerlessMemoryMB=2048, EnableNetworkIsolation="false").broken_rules() == []
    (zero,) = evaluate(template, AutoscalingMinInstances=0, AutoscalingMaxInstances=2).broken_rules()
    assert "async" in zero
    (orphans,) = evaluate(template, AsyncFailureS3="s3://o/err").broken_rules()
    assert "AsyncOutputS3" in orphans


def test_the_header_documents_the_instance_type_change_path(template: dict[str, Any]) -> None:
    text = " ".join(TEMPLATE.read_text().split())
    assert "Changing InstanceType while autoscaling is on is NOT done by one stack update" in text
    assert "python -m infra.sagemaker update" in text
    assert "changes the image, model data or instance settings" not in text  # the old, wrong promise


def test_stacks_for_serverless_and_async_scale_to_zero_deploy_on_moto(boto: Any, cli: Any) -> None:
    cloudformation, sm = boto.client("cloudformation"), boto.client("sagemaker")
    cases = {
        "serverless": {"ServerlessMemoryMB": "2048", "ServerlessMaxConcurrency": "4"},
        "async": {"InstanceType": "ml.m5.xlarge", "AsyncOutputS3": "s3://out/ok", "AsyncFailureS3": "s3://out/err",
                  "AutoscalingMinInstances": "0", "AutoscalingMaxInstances": "2"},
    }  # fmt: skip
    for name, parameters in cases.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # moto skips the autoscaling resources, with a warning
            cloudformation.create_stack(
                StackName=name,
                TemplateBody=TEMPLATE.read_text(),
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in {**REQUIRED, **parameters}.items()],
            )
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        config = sm.describe_endpoint_config(EndpointConfigName=outputs["EndpointConfigName"])
        (variant,) = config["ProductionVariants"]
        env = sm.describe_model(ModelName=outputs["ModelName"])["PrimaryContainer"]["Environment"]
        if name == "serverless":
            assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 4}
            assert "InstanceType" not in variant and env["EMB_MAX_BODY_MB"] == "4"
        else:
            assert config["AsyncInferenceConfig"]["OutputConfig"] == {"S3OutputPath": "s3://out/ok",
                                                                      "S3FailurePath": "s3://out/err"}  # fmt: skip
            assert env["EMB_MAX_BODY_MB"] == "1024"
        cloudformation.delete_stack(StackName=name)
    assert sm.list_endpoints()["Endpoints"] == []


def test_template_sets_the_same_variant_and_model_fields_as_the_cli(template: dict[str, Any]) -> None:
    cfg = DeployConfig(endpoint_name="emb", image_uri=IMAGE, role_arn=ROLE)
    with_ami = cfg.model_copy(update={"inference_ami_version": "al2-ami-sagemaker-inference-gpu-3-1"})
    stack = evaluate(template, InferenceAmiVersion="al2-ami-sagemaker-inference-gpu-3-1").resources()
    (variant,) = stack["EndpointConfig"]["ProductionVariants"]
    assert set(variant) == set(plan.production_variant(with_ami, "m"))
    assert variant["VariantName"] == cfg.variant_name
    (default,) = evaluate(template).resources()["EndpointConfig"]["ProductionVariants"]
    assert set(default) == set(plan.production_variant(cfg, "m"))  # the template omits the AMI when empty
    model = template["Resources"]["Model"]["Properties"]
    assert set(model) >= set(plan.create_model(cfg, "m", "s3://b/k").params) - {"ModelName"}
    assert set(model["PrimaryContainer"]) == set(plan.create_model(cfg, "m", "s3://b/k").params["PrimaryContainer"])
    assert stack["Model"]["EnableNetworkIsolation"] is True is cfg.enable_network_isolation
    assert stack["Model"]["PrimaryContainer"]["Environment"] == {"EMB_LOG_LEVEL": "INFO"}  # real-time: defaults
    parameters = template["Parameters"]
    assert parameters["InstanceType"]["Default"] == cfg.instance_type
    assert parameters["StartupHealthCheckTimeoutSeconds"]["Default"] == cfg.startup_health_check_timeout_s
    assert parameters["ModelDataDownloadTimeoutSeconds"]["Default"] == cfg.model_download_timeout_s
    assert parameters["ServerlessMemoryMB"]["AllowedValues"] == [0, *modes.SERVERLESS_MEMORY_MB]
