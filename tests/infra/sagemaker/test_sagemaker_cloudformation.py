"""The CloudFormation template: cfn-lint clean, deployable on moto, and in step with the CLI's requests.

moto's CloudFormation creates the SageMaker Model / EndpointConfig / Endpoint but skips the
Application Auto Scaling resources (with a warning); those are checked by cfn-lint and by structure.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from cfnlint.decode import decode_str
from sagemaker_testing import IMAGE, ROLE

from infra.sagemaker import autoscaling, plan
from infra.sagemaker.config import DeployConfig

TEMPLATE = Path(plan.__file__).with_name("cloudformation.yaml")
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


def test_autoscaling_and_blue_green_resources(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    target, policy = resources["ScalableTarget"], resources["ScalingPolicy"]
    assert target["Condition"] == policy["Condition"] == "HasAutoscaling"
    assert target["Properties"]["ResourceId"] == {"Fn::Sub": "endpoint/${Endpoint.EndpointName}/variant/AllTraffic"}
    assert target["Properties"]["ScalableDimension"] == autoscaling.DIMENSION
    config = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    assert config["PredefinedMetricSpecification"] == {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}
    assert policy["Properties"]["PolicyName"] == {"Fn::Sub": autoscaling.policy_name("${EndpointName}")}
    blue_green = resources["Endpoint"]["Properties"]["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert blue_green["TrafficRoutingConfiguration"]["Type"] == {"Ref": "TrafficRouting"}


def test_template_sets_the_same_variant_and_model_fields_as_the_cli(template: dict[str, Any]) -> None:
    cfg = DeployConfig(endpoint_name="emb", image_uri=IMAGE, role_arn=ROLE)
    with_ami = cfg.model_copy(update={"inference_ami_version": "al2-ami-sagemaker-inference-gpu-3-1"})
    resources = template["Resources"]
    (variant,) = resources["EndpointConfig"]["Properties"]["ProductionVariants"]
    assert set(variant) == set(plan.production_variant(with_ami, "m"))  # the template omits the AMI when empty
    assert variant["VariantName"] == cfg.variant_name
    model = resources["Model"]["Properties"]
    assert set(model) >= set(plan.create_model(cfg, "m", "s3://b/k").params) - {"ModelName"}
    assert set(model["PrimaryContainer"]) == set(plan.create_model(cfg, "m", "s3://b/k").params["PrimaryContainer"])
    parameters = template["Parameters"]
    assert parameters["InstanceType"]["Default"] == cfg.instance_type
    assert parameters["EnableNetworkIsolation"]["Default"] == "true"
    assert parameters["StartupHealthCheckTimeoutSeconds"]["Default"] == cfg.startup_health_check_timeout_s
    assert parameters["ModelDataDownloadTimeoutSeconds"]["Default"] == cfg.model_download_timeout_s
