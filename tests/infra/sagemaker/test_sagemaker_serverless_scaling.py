"""Serverless endpoints: autoscaling of provisioned concurrency, and the refusals AWS documents.

AWS scales a serverless variant's provisioned concurrency with Application Auto Scaling (dimension
``sagemaker:variant:DesiredProvisionedConcurrency``, metric ``SageMakerVariantProvisionedConcurrencyUtilization``).
The CLI's requests go to moto in server mode (the conftest adds that dimension to moto's list) through real
botocore clients, and every one is checked against the application-autoscaling / SageMaker models
(``sagemaker_shapes.assert_valid``: botocore's validation plus the model's enums and maximums). The CloudFormation
template is evaluated for the same settings and compared with the CLI's requests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str
from sagemaker_cfn_eval import Template
from sagemaker_shapes import assert_valid
from sagemaker_testing import IMAGE, ROLE

from infra.sagemaker import autoscaling, plan
from infra.sagemaker.config import DeployConfig

BASE = ["--image-uri", IMAGE, "--role-arn", ROLE, "--poll-interval", "0"]
SERVERLESS = ["deploy", "--endpoint-name", "emb", *BASE, "--serverless", "--max-concurrency", "10"]
SCALED = [*SERVERLESS, "--provisioned-concurrency", "2", "--max-provisioned-concurrency", "6",
          "--target-utilization", "0.7"]  # fmt: skip
RESOURCE = "endpoint/emb/variant/AllTraffic"
TARGET = {"ServiceNamespace": "sagemaker", "ResourceId": RESOURCE,
          "ScalableDimension": "sagemaker:variant:DesiredProvisionedConcurrency"}  # fmt: skip
TEMPLATE = Path(plan.__file__).with_name("cloudformation.yaml")


def test_deploy_scales_provisioned_concurrency_and_delete_removes_it(cli, boto, scaling) -> None:
    code, out, err = cli(SCALED)
    assert code == 0, err
    (register,) = boto.calls.bodies("RegisterScalableTarget")
    assert register == {**TARGET, "MinCapacity": 1, "MaxCapacity": 6}
    (policy,) = boto.calls.bodies("PutScalingPolicy")
    metric = {"PredefinedMetricType": "SageMakerVariantProvisionedConcurrencyUtilization"}
    assert policy == {
        "PolicyName": "emb-target-tracking", **TARGET, "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 0.7, "PredefinedMetricSpecification": metric, "ScaleInCooldown": 300, "ScaleOutCooldown": 60,
        },
    }  # fmt: skip
    (config,) = boto.calls.bodies("CreateEndpointConfig")
    assert config["ProductionVariants"][0]["ServerlessConfig"] == {
        "MemorySizeInMB": 2048, "MaxConcurrency": 10, "ProvisionedConcurrency": 2,
    }  # fmt: skip
    for operation in ("RegisterScalableTarget", "PutScalingPolicy"):
        assert_valid("application-autoscaling", operation, boto.calls.bodies(operation)[0])
    live = scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[RESOURCE])["ScalableTargets"]
    assert [(t["ScalableDimension"], t["MinCapacity"], t["MaxCapacity"]) for t in live] == [
        (TARGET["ScalableDimension"], 1, 6)
    ]
    code, status, err = cli(["status", "--endpoint-name", "emb"])
    assert code == 0, err
    assert status["Variants"][0]["Autoscaling"] == {"ResourceId": RESOURCE, "MinCapacity": 1, "MaxCapacity": 6,
                                                    "Policies": ["emb-target-tracking"],
                                                    "ScalableDimension": TARGET["ScalableDimension"]}  # fmt: skip
    code, done, err = cli(["delete", "--endpoint-name", "emb", "--poll-interval", "0"])
    assert code == 0, err
    assert done["Done"][:2] == ["delete_scaling_policy emb-target-tracking", "deregister_scalable_target sagemaker"]
    (deregister,) = boto.calls.bodies("DeregisterScalableTarget")
    assert deregister == TARGET
    assert scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[RESOURCE])[
        "ScalableTargets"] == []  # fmt: skip


def test_an_update_keeps_the_variant_registered_and_sets_the_new_bounds(cli, aws, boto, scaling) -> None:
    code, _, err = cli(SCALED)
    assert code == 0, err
    boto.calls.calls.clear()
    update = ["update", "--endpoint-name", "emb", *BASE, "--serverless", "--max-concurrency", "10",
              "--provisioned-concurrency", "3", "--min-provisioned-concurrency", "2",
              "--max-provisioned-concurrency", "8"]  # fmt: skip
    code, _, err = cli(update)
    assert code == 0, err
    operations = boto.calls.operations()
    assert "DeregisterScalableTarget" not in operations and "DeleteScalingPolicy" not in operations
    assert operations.index("UpdateEndpoint") < operations.index("RegisterScalableTarget")
    (request,) = aws.update.requests
    assert "RetainAllVariantProperties" not in request  # the new ServerlessConfig (memory, concurrency) applies
    live = scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[RESOURCE])["ScalableTargets"]
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in live] == [(2, 8)]
    (policy,) = boto.calls.bodies("PutScalingPolicy")
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 0.5  # the default target


def test_the_dry_run_is_valid_against_the_models(cli, boto) -> None:
    code, out, err = cli([*SCALED, "--dry-run"])
    assert code == 0, err
    assert boto.calls.calls == []
    assert [call["operation"] for call in out][-2:] == ["register_scalable_target", "put_scaling_policy"]
    for call in out:
        assert_valid(call["service"], call["operation"], call["params"])


@pytest.mark.parametrize(
    ("argv", "refused"),
    [
        ([*SERVERLESS, "--max-provisioned-concurrency", "4"], "set provisioned_concurrency"),
        ([*SERVERLESS, "--provisioned-concurrency", "2", "--max-provisioned-concurrency", "11"],
         "must be <= serverless max_concurrency 10"),
        ([*SERVERLESS, "--provisioned-concurrency", "1", "--min-provisioned-concurrency", "2",
          "--max-provisioned-concurrency", "4"], "provisioned_concurrency 1 must be within"),
        ([*SERVERLESS, "--provisioned-concurrency", "2", "--min-provisioned-concurrency", "2"],
         "needs max_provisioned_concurrency"),
        ([*SERVERLESS, "--provisioned-concurrency", "2", "--max-instances", "3"],
         "a serverless endpoint has no instances"),
        ([*SCALED, "--target-utilization", "1.5"], "target_utilization"),
        (["deploy", "--endpoint-name", "emb", *BASE, "--instance-type", "ml.m5.xlarge", "--max-provisioned-concurrency",
          "4"], "provisioned concurrency is scaled on serverless endpoints only"),
        ([*SERVERLESS, "--traffic", "LINEAR"], "deployment guardrails apply only to real-time and async endpoints"),
        ([*SERVERLESS, "--network-isolation"], "AWS's Serverless Inference feature exclusions"),
    ],
)  # fmt: skip
def test_refusals_come_before_any_call(cli, boto, argv, refused) -> None:
    code, _, err = cli([*argv, "--dry-run"])
    assert code == 2 and refused in err, err
    assert boto.calls.calls == []


# --- CloudFormation --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    data, errors = decode_str(TEMPLATE.read_text())
    assert not errors
    return data


def evaluate(template: dict[str, Any], **parameters: Any) -> Template:
    return Template(template, {"EndpointName": "emb", "ImageUri": IMAGE, "ExecutionRoleArn": ROLE, **parameters})


def test_the_template_scales_provisioned_concurrency_like_the_cli(template: dict[str, Any]) -> None:
    cfg = DeployConfig(endpoint_name="emb", image_uri=IMAGE, role_arn=ROLE,
                       serverless={"max_concurrency": 10, "provisioned_concurrency": 2},
                       autoscaling={"min_provisioned_concurrency": 2, "max_provisioned_concurrency": 6,
                                    "target_utilization": 0.7})  # fmt: skip
    register, policy = autoscaling.autoscaling_calls(cfg)
    stack = evaluate(template, ServerlessMemoryMB=2048, ServerlessMaxConcurrency=10, ServerlessProvisionedConcurrency=2,
                     ServerlessMinProvisionedConcurrency=2, ServerlessMaxProvisionedConcurrency=6,
                     ServerlessTargetUtilization=0.7)  # fmt: skip
    assert stack.broken_rules() == []
    resources = stack.resources()
    assert "ScalableTarget" not in resources and "ScalingPolicy" not in resources  # the instance ones
    target = resources["ProvisionedConcurrencyScalableTarget"]
    assert target["ScalableDimension"] == register.params["ScalableDimension"] == autoscaling.PROVISIONED_DIMENSION
    assert (int(target["MinCapacity"]), int(target["MaxCapacity"])) == (register.params["MinCapacity"],
                                                                        register.params["MaxCapacity"])  # fmt: skip
    tracking = resources["ProvisionedConcurrencyScalingPolicy"]["TargetTrackingScalingPolicyConfiguration"]
    expected = policy.params["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"] == expected["PredefinedMetricSpecification"]
    assert float(tracking["TargetValue"]) == expected["TargetValue"]
    assert (tracking["ScaleInCooldown"], tracking["ScaleOutCooldown"]) == (expected["ScaleInCooldown"],
                                                                           expected["ScaleOutCooldown"])  # fmt: skip
    assert resources["Endpoint"]["RetainAllVariantProperties"] is False  # the update applies the new ServerlessConfig
    unscaled = evaluate(template, ServerlessMemoryMB=2048, ServerlessProvisionedConcurrency=2).resources()
    assert "ProvisionedConcurrencyScalableTarget" not in unscaled


def test_the_template_refuses_what_the_cli_refuses(template: dict[str, Any]) -> None:
    (no_serverless,) = evaluate(template, ServerlessProvisionedConcurrency=2,
                                ServerlessMaxProvisionedConcurrency=4).broken_rules()  # fmt: skip
    assert "ServerlessMemoryMB" in no_serverless
    (none_provisioned,) = evaluate(template, ServerlessMemoryMB=2048,
                                   ServerlessMaxProvisionedConcurrency=4).broken_rules()  # fmt: skip
    assert "set ServerlessProvisionedConcurrency" in none_provisioned
    (instances,) = evaluate(template, ServerlessMemoryMB=2048, AutoscalingMaxInstances=2).broken_rules()
    assert "ServerlessMaxProvisionedConcurrency" in instances
