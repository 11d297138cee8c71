"""Inference components (an embedder and a reranker on one endpoint): config checks, the exact requests (each
checked against botocore's service model, maximums and enums included), and the CLI's deploy / status / update /
delete against moto, extended with the inference-component calls moto 5 lacks (``sagemaker_components_moto``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
import sagemaker_components_moto
from pydantic import ValidationError
from sagemaker_shapes import assert_valid
from sagemaker_testing import BROKEN_REASON, IMAGE, ROLE

from infra.sagemaker import components_plan, plan
from infra.sagemaker.components import ComponentsConfig, load_components
from infra.sagemaker.config import ModeWarning

EXAMPLE = Path(plan.__file__).with_name("deploy.components.example.json")
VERSION = "20250102-030405-006"
EMBEDDER = {"name": "search-embedder", "model_data": "s3://models/emb/model.tar.gz", "accelerators": 1,
            "cpu_cores": 8, "memory_mb": 32768, "copies": 2,
            "autoscaling": {"min_copies": 1, "max_copies": 3, "target_value": 600}}  # fmt: skip
RERANKER = {"name": "search-reranker", "model_data": "s3://models/rerank/model.tar.gz", "accelerators": 1,
            "cpu_cores": 4, "memory_mb": 16384}  # fmt: skip
ON_MOTO = "ml.g4dn.12xlarge"  # 4 GPUs, 48 vCPUs, 192 GiB; moto's instance-type list has no ml.g5


def settings(**overrides: Any) -> dict[str, Any]:
    return {"endpoint_name": "search", "image_uri": IMAGE, "role_arn": ROLE, "instance_type": ON_MOTO,
            "components": [EMBEDDER, RERANKER], **overrides}  # fmt: skip


def config(**overrides: Any) -> ComponentsConfig:
    return ComponentsConfig.model_validate(settings(**overrides))


def valid(call: plan.Call) -> None:
    assert_valid(call.service, call.operation, call.params)


def test_example_config_plans_requests_the_api_accepts() -> None:
    cfg = load_components(EXAMPLE, {})
    calls = components_plan.deploy_calls(cfg, VERSION)
    assert [c.operation for c in calls] == [
        "create_model", "create_model", "create_endpoint_config", "create_endpoint", "create_inference_component",
        "create_inference_component", "register_scalable_target", "put_scaling_policy", "register_scalable_target",
        "put_scaling_policy",
    ]  # fmt: skip
    for call in calls:
        valid(call)


def test_endpoint_config_has_a_role_and_a_variant_without_model() -> None:
    call = components_plan.create_endpoint_config(config(managed_instance_scaling={"max_instances": 3}), "search-v1")
    assert call.params["ExecutionRoleArn"] == ROLE
    assert call.params["ProductionVariants"] == [{
        "VariantName": "AllTraffic", "InstanceType": ON_MOTO, "InitialInstanceCount": 1,
        "RoutingConfig": {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"},
        "ManagedInstanceScaling": {"Status": "ENABLED", "MinInstanceCount": 1, "MaxInstanceCount": 3},
    }]  # fmt: skip
    valid(call)


def test_component_request_and_its_share_in_the_container_environment() -> None:
    cfg = config()
    embedder, reranker = cfg.components
    call = components_plan.create_inference_component(cfg, embedder, VERSION)
    assert call.params["Specification"] == {
        "ModelName": f"search-embedder-{VERSION}",
        "StartupParameters": {"ModelDataDownloadTimeoutInSeconds": 600,
                              "ContainerStartupHealthCheckTimeoutInSeconds": 600},
        "ComputeResourceRequirements": {"MinMemoryRequiredInMb": 32768, "NumberOfAcceleratorDevicesRequired": 1.0,
                                        "NumberOfCpuCoresRequired": 8},
    }  # fmt: skip
    assert call.params["RuntimeConfig"] == {"CopyCount": 2} and call.params["EndpointName"] == "search"
    valid(call)
    model = components_plan.create_model(cfg, reranker, VERSION)
    assert model.params["PrimaryContainer"] == {
        "Image": IMAGE, "Mode": "SingleModel", "ModelDataUrl": "s3://models/rerank/model.tar.gz",
        "Environment": {"EMB_MEMORY_MB": "16384", "EMB_CPU_CORES": "4", "EMB_WORKERS": "1"},
    }  # fmt: skip
    valid(model)
    cpu = config(instance_type="ml.c5.9xlarge", components=[
        {"name": "cpu-embedder", "cpu_cores": 2.5, "memory_mb": 4096, "environment": {"EMB_LOG_LEVEL": "DEBUG"}}])
    env = components_plan.create_model(cpu, cpu.components[0], VERSION).params["PrimaryContainer"]["Environment"]
    assert env == {"EMB_MEMORY_MB": "4096", "EMB_CPU_CORES": "2", "EMB_LOG_LEVEL": "DEBUG"}  # no EMB_WORKERS
    spec = components_plan.create_inference_component(cpu, cpu.components[0], VERSION).params["Specification"]
    assert "NumberOfAcceleratorDevicesRequired" not in spec["ComputeResourceRequirements"]


def test_component_autoscaling_tracks_invocations_per_copy() -> None:
    register, policy = components_plan.autoscaling_calls(config().components[0])
    target = {"ServiceNamespace": "sagemaker", "ResourceId": "inference-component/search-embedder",
              "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount"}  # fmt: skip
    assert register.params == {**target, "MinCapacity": 1, "MaxCapacity": 3}
    tracking = policy.params["TargetTrackingScalingPolicyConfiguration"]
    assert policy.params["ResourceId"] == target["ResourceId"] and tracking["TargetValue"] == 600
    assert tracking["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerInferenceComponentInvocationsPerCopy"}
    valid(register)
    valid(policy)
    assert components_plan.autoscaling_calls(config().components[1]) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"components": [{**EMBEDDER, "copies": 4, "autoscaling": None}, RERANKER]},
         "need 5 accelerators in all; 1 x ml.g4dn.12xlarge"),
        ({"components": [{**RERANKER, "accelerators": 8}]}, "needs 8 accelerators per copy"),
        ({"components": [{**RERANKER, "memory_mb": 300_000}]}, "more than one ml.g4dn.12xlarge"),
        ({"components": [EMBEDDER, RERANKER, {**RERANKER, "name": "other", "accelerators": None,
                                              "memory_mb": 160_000}]}, "MiB of memory in all"),
        ({"instance_type": "ml.c5.9xlarge"}, "needs 1 accelerators per copy; ml.c5.9xlarge (0 GPUs"),
        ({"components": [RERANKER, RERANKER]}, "component names must be unique"),
        ({"components": [{**EMBEDDER, "copies": 5}]}, "copies 5 must be within autoscaling"),
        ({"components": []}, "at least 1 item"),
        ({"instance_count": 3, "managed_instance_scaling": {"max_instances": 2}}, "instance_count 3 must be within"),
        ({"components": [{**RERANKER, "accelerators": 0}]}, "greater than or equal to 1"),
    ],
)
def test_refusals(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        config(**overrides)


def test_warnings_for_what_may_not_be_placed() -> None:
    with pytest.warns(ModeWarning, match="cannot hold them all"):  # 3 + 1 copies fit 4 GPUs; at most 3 + 2 do not
        config(components=[{**EMBEDDER, "copies": 3}, {**RERANKER, "autoscaling": {"max_copies": 2}}])
    with pytest.warns(ModeWarning, match="capacity unknown"):
        config(instance_type="ml.m4.xlarge", components=[{"name": "x", "memory_mb": 1024}])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config()  # 2 + 1 copies of 4 GPUs, at most 3 + 1: no warning


def test_flags_that_belong_to_a_component_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(settings()))
    assert load_components(path, {"instance_count": 1, "autoscaling": {"max_instances": None}}).instance_count == 1
    with pytest.raises(ValueError, match="model_data: not settings of a components endpoint"):
        load_components(path, {"model_data": "s3://b/m.tar.gz"})


# -- the CLI against moto ------------------------------------------------------------------------------------------
@pytest.fixture
def moto_components(aws: Any, monkeypatch: pytest.MonkeyPatch) -> sagemaker_components_moto.Components:
    return sagemaker_components_moto.install(monkeypatch)


def write(tmp_path: Path, **overrides: Any) -> str:
    path = tmp_path / "components.json"
    path.write_text(json.dumps(settings(**overrides)))
    return str(path)


def sent_requests_are_valid(boto: Any) -> None:
    for service, operation, body in boto.calls.calls:
        if service in ("sagemaker", "application-autoscaling") and body is not None:
            assert_valid(service, operation, body)


def test_cli_deploys_status_updates_and_deletes_components(cli, boto, sm, scaling, moto_components,
                                                          tmp_path) -> None:  # fmt: skip
    config_file = write(tmp_path)
    code, out, err = cli(["deploy", "--config", config_file, "--poll-interval", "0"])
    assert code == 0, err
    assert [op for op in boto.calls.operations() if op.startswith("Create")] == [
        "CreateModel", "CreateModel", "CreateEndpointConfig", "CreateEndpoint", "CreateInferenceComponent",
        "CreateInferenceComponent",
    ]  # fmt: skip
    (config_request,) = boto.calls.bodies("CreateEndpointConfig")
    assert config_request["ExecutionRoleArn"] == ROLE and "ModelName" not in config_request["ProductionVariants"][0]
    assert set(moto_components.live) == {"search-embedder", "search-reranker"}
    assert "inference component search-embedder: InService" in err
    targets = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert [t["ResourceId"] for t in targets] == ["inference-component/search-embedder"]
    models = {m["ModelName"] for m in sm.list_models()["Models"]}
    assert models == set(out["InferenceComponents"].values())
    sent_requests_are_valid(boto)

    code, status, err = cli(["status", "--endpoint-name", "search"])
    assert code == 0, err
    assert status["Variants"][0]["ModelName"] is None
    by_name = {c["InferenceComponentName"]: c for c in status["InferenceComponents"]}
    assert by_name["search-embedder"]["Autoscaling"] is True and by_name["search-reranker"]["Status"] == "InService"

    # update: the reranker gets new weights and 2 copies; the embedder (autoscaled) keeps its copy count
    boto.calls.calls.clear()
    updated = write(tmp_path, components=[EMBEDDER, {**RERANKER, "model_data": "s3://models/rerank/v2.tar.gz",
                                                     "copies": 2}])  # fmt: skip
    code, out, err = cli(["update", "--config", updated, "--poll-interval", "0"])
    assert code == 0, err
    embedder_update, reranker_update = boto.calls.bodies("UpdateInferenceComponent")
    assert "RuntimeConfig" not in embedder_update and reranker_update["RuntimeConfig"] == {"CopyCount": 2}
    new_model = moto_components.live["search-reranker"]["Specification"]["ModelName"]
    assert sm.describe_model(ModelName=new_model)["PrimaryContainer"]["ModelDataUrl"].endswith("v2.tar.gz")
    assert {m["ModelName"] for m in sm.list_models()["Models"]} == {
        c["Specification"]["ModelName"] for c in moto_components.live.values()}  # old models deleted
    sent_requests_are_valid(boto)

    # update without the reranker deletes it
    code, out, err = cli(["update", "--config", write(tmp_path, components=[EMBEDDER]), "--poll-interval", "0"])
    assert code == 0, err
    assert set(moto_components.live) == {"search-embedder"}

    boto.calls.calls.clear()
    code, out, err = cli(["delete", "--endpoint-name", "search", "--poll-interval", "0"])
    assert code == 0, err
    operations = boto.calls.operations()
    assert operations.index("DeleteInferenceComponent") < operations.index("DeleteEndpoint")
    assert operations.index("DeregisterScalableTarget") < operations.index("DeleteInferenceComponent")
    assert moto_components.live == {} and sm.list_endpoints()["Endpoints"] == []
    assert sm.list_models()["Models"] == [] and sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    sent_requests_are_valid(boto)


def test_a_failed_component_undoes_the_deployment(cli, sm, moto_components, tmp_path) -> None:
    broken = {**RERANKER, "name": "broken-reranker"}
    code, out, err = cli(["deploy", "--config", write(tmp_path, components=[EMBEDDER, broken]), "--poll-interval",
                          "0"])  # fmt: skip
    assert code == 1 and BROKEN_REASON in err
    assert moto_components.live == {} and sm.list_endpoints()["Endpoints"] == []
    assert sm.list_models()["Models"] == [] and sm.list_endpoint_configs()["EndpointConfigs"] == []


def test_dry_run_makes_no_call_and_update_refuses_an_instance_change(cli, boto, moto_components, tmp_path) -> None:
    code, out, err = cli(["deploy", "--config", write(tmp_path), "--dry-run"])
    assert code == 0, err
    assert boto.calls.calls == [] and out[4]["operation"] == "create_inference_component"
    assert cli(["deploy", "--config", write(tmp_path), "--poll-interval", "0"])[0] == 0
    code, out, err = cli(["update", "--config", write(tmp_path, instance_type="ml.g5.24xlarge"), "--dry-run"])
    assert code == 1 and "changes components only" in err


def test_ordinary_endpoints_are_not_asked_for_components(cli, boto, moto_components) -> None:
    argv = ["deploy", "--endpoint-name", "emb", "--image-uri", IMAGE, "--role-arn", ROLE, "--instance-type",
            "ml.g4dn.xlarge", "--poll-interval", "0"]  # fmt: skip
    assert cli(argv)[0] == 0
    assert cli(["status", "--endpoint-name", "emb"])[0] == 0
    assert cli(["delete", "--endpoint-name", "emb", "--poll-interval", "0"])[0] == 0
    assert "ListInferenceComponents" not in boto.calls.operations()
