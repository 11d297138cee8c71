"""The inference-components template: cfn-lint clean, and for given parameters (``sagemaker_cfn_eval``) the same
models, variant, components and autoscaling as the CLI's requests for the same settings. (moto's CloudFormation has
no ``AWS::SageMaker::InferenceComponent``, so no stack is created on moto here.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from cfnlint.decode import decode_str
from sagemaker_cfn_eval import Template
from sagemaker_testing import IMAGE, ROLE

from infra.sagemaker import components_plan, plan
from infra.sagemaker.components import ComponentsConfig

TEMPLATE = Path(plan.__file__).with_name("cloudformation.components.yaml")
PARAMETERS = {"EndpointName": "search", "ImageUri": IMAGE, "ExecutionRoleArn": ROLE,
              "EmbedderModelDataUrl": "s3://m/emb.tar.gz", "RerankerModelDataUrl": "s3://m/rerank.tar.gz"}  # fmt: skip


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    data, errors = decode_str(TEMPLATE.read_text())
    assert not errors
    return Template(data, PARAMETERS).resources()


def cli_config() -> ComponentsConfig:
    """What the template's defaults mean, as a CLI config."""
    share = {"accelerators": 1, "cpu_cores": 8, "memory_mb": 32768, "copies": 1}
    return ComponentsConfig(endpoint_name="search", image_uri=IMAGE, role_arn=ROLE, instance_type="ml.g5.12xlarge",
                            managed_instance_scaling={"min_instances": 1, "max_instances": 2}, components=[
        {"name": "search-embedder", "model_data": "s3://m/emb.tar.gz", **share,
         "autoscaling": {"min_copies": 1, "max_copies": 3, "target_value": 600}},
        {"name": "search-reranker", "model_data": "s3://m/rerank.tar.gz", **share}])  # fmt: skip


def test_cfn_lint_reports_nothing() -> None:
    assert [str(match) for match in lint(TEMPLATE.read_text(), regions=["us-east-1", "eu-west-1"])] == []


def test_variant_names_no_model_and_matches_the_cli(stack: dict[str, Any]) -> None:
    (variant,) = stack["EndpointConfig"]["ProductionVariants"]
    expected = components_plan.production_variant(cli_config())
    assert "ModelName" not in variant and set(variant) == set(expected)
    assert variant["ManagedInstanceScaling"] == {"Status": "ENABLED", "MinInstanceCount": "1", "MaxInstanceCount": "2"}
    assert stack["EndpointConfig"]["ExecutionRoleArn"] == ROLE


@pytest.mark.parametrize(("resource", "index"), [("Embedder", 0), ("Reranker", 1)])
def test_components_and_their_containers_match_the_cli(stack: dict[str, Any], resource: str, index: int) -> None:
    cfg = cli_config()
    component = cfg.components[index]
    expected = components_plan.create_inference_component(cfg, component, "v").params
    got = stack[resource]
    assert got["InferenceComponentName"] == {"Fn::Sub": "${EndpointName}-" + component.name.split("-")[1]}
    assert got["Specification"]["StartupParameters"] == expected["Specification"]["StartupParameters"]
    compute = {k: float(v) for k, v in got["Specification"]["ComputeResourceRequirements"].items()}
    assert compute == {k: float(v) for k, v in expected["Specification"]["ComputeResourceRequirements"].items()}
    assert int(got["RuntimeConfig"]["CopyCount"]) == expected["RuntimeConfig"]["CopyCount"]
    container = stack[f"{resource}Model"]["PrimaryContainer"]
    model = components_plan.create_model(cfg, component, "v").params["PrimaryContainer"]
    assert container["ModelDataUrl"] == model["ModelDataUrl"]
    assert container["Environment"] == {"EMB_LOG_LEVEL": "INFO", **model["Environment"]}


def test_autoscaling_only_where_max_copies_is_set(stack: dict[str, Any]) -> None:
    register, policy = components_plan.autoscaling_calls(cli_config().components[0])
    target = stack["EmbedderScalableTarget"]
    assert target["ScalableDimension"] == register.params["ScalableDimension"]
    assert target["ResourceId"] == {"Fn::Sub": "inference-component/${EndpointName}-embedder"}
    assert (int(target["MinCapacity"]), int(target["MaxCapacity"])) == (1, 3)
    tracking = stack["EmbedderScalingPolicy"]["TargetTrackingScalingPolicyConfiguration"]
    expected = policy.params["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"] == expected["PredefinedMetricSpecification"]
    assert float(tracking["TargetValue"]) == expected["TargetValue"]
    assert "RerankerScalableTarget" not in stack and "RerankerScalingPolicy" not in stack
