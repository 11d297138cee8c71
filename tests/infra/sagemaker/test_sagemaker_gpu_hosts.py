"""GPU hosts: the InferenceAmiVersion / TransformAmiVersion settings reach the requests (plan, CLI on moto,
CloudFormation), and ``gpu_hosts.check_gpu_host`` refuses instance / AMI / image combinations that cannot start while
passing every instance type this repository offers.

The facts table is held against botocore's SageMaker API model (the AMI values and the drivers its documentation
names), so a botocore upgrade that adds an AMI fails here until the table knows it.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from cfnlint.decode import decode_str
from pydantic import ValidationError
from sagemaker_testing import IMAGE, ROLE

from infra.sagemaker import cli as sagemaker_cli
from infra.sagemaker import gpu_hosts, plan, transform
from infra.sagemaker.config import DeployConfig, load_config
from infra.sagemaker.gpu_hosts import GpuHostError, GpuHostWarning, check_gpu_host

REPO_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = REPO_ROOT / "infra" / "sagemaker" / "cloudformation.yaml"
SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")
AMI = "al2-ami-sagemaker-inference-gpu-3-1"
BASE = ["--image-uri", IMAGE, "--role-arn", ROLE, "--poll-interval", "0"]


def config(**overrides: object) -> DeployConfig:
    return DeployConfig.model_validate({"endpoint_name": "emb", "image_uri": IMAGE, "role_arn": ROLE, **overrides})


def assert_valid(operation: str, params: dict[str, Any]) -> None:
    report = ParamValidator().validate(params, SAGEMAKER.operation_model(operation).input_shape)
    assert not report.has_errors(), report.generate_report()


# --- the facts table against the API model ----------------------------------------------------------------------------


def documented_drivers(documentation: str) -> dict[str, int | None]:
    """``<dt>ami</dt> <dd> ... NVIDIA driver version: 535 ...</dd>`` -> {ami: 535} (None: no NVIDIA driver)."""
    entries = re.findall(r"<dt>([\w.-]+)</dt>\s*<dd>(.*?)</dd>", documentation, flags=re.S)
    drivers: dict[str, int | None] = {}
    for name, body in entries:
        driver = re.search(r"NVIDIA driver version: (\d+)", body)
        drivers[name] = int(driver.group(1)) if driver else None
    return drivers


def test_endpoint_ami_values_and_drivers_match_botocore() -> None:
    variant = SAGEMAKER.shape_for("ProductionVariant").members["InferenceAmiVersion"]
    table = {a.name: a.driver_branch for a in gpu_hosts.amis("realtime")}
    assert set(table) == set(variant.enum)  # a new AWS value fails here until gpu_hosts.AMIS has it
    assert documented_drivers(variant.documentation) == table


def test_transform_ami_values_and_drivers_match_botocore() -> None:
    field = SAGEMAKER.shape_for("TransformResources").members["TransformAmiVersion"]
    table = {a.name: a.driver_branch for a in gpu_hosts.amis("transform")}
    assert documented_drivers(field.documentation) == table
    for name in table:
        assert_valid("CreateTransformJob", transform.transform_job_call(transform_config(name)).params)


# --- the check: what it refuses ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instance", "ami", "kwargs", "expected"),
    [
        # a host AMI of the wrong kind
        ("ml.m5.xlarge", "al2-ami-sagemaker-inference-gpu-2", {}, ["no accelerator", "leave InferenceAmiVersion"]),
        ("ml.c6i.xlarge", "al2-ami-sagemaker-inference-neuron-2", {}, ["no accelerator", "Neuron"]),
        ("ml.inf2.xlarge", AMI, {}, ["Inferentia", "driver 550", "al2-ami-sagemaker-inference-neuron-2"]),
        ("ml.g5.xlarge", "al2-ami-sagemaker-inference-neuron-2", {}, ["(Neuron) host image", "choose InferenceAmi"]),
        # values the API does not have (an endpoint AMI is not a transform AMI)
        ("ml.g5.xlarge", "al2-ami-sagemaker-inference-gpu-9", {}, ["unknown InferenceAmiVersion", AMI]),
        ("ml.g5.xlarge", AMI, {"service": "transform"}, ["unknown TransformAmiVersion", "batch-gpu-535"]),
        # a CUDA 13 image (compat driver 580): NVIDIA's forward compatibility does not cover the 470 hosts
        ("ml.g5.xlarge", None, {"image_cuda": "13.0", "compat_driver": 580},
         ["NVIDIA driver 470 (CUDA 11.4)", "needs CUDA 13.0", "driver >= 580", "gpu-4-1 (driver 580, native)"]),
        ("ml.g4dn.xlarge", None, {"image_cuda": "13.0", "compat_driver": 580, "service": "transform"},
         ["batch transform runs NVIDIA driver 470", "choose TransformAmiVersion al2-ami-sagemaker-batch-gpu-535"]),
        ("ml.p4d.24xlarge", "al2-ami-sagemaker-batch-gpu-470", {"image_cuda": "13.0", "compat_driver": 580,
                                                                 "service": "transform"},
         ["TransformAmiVersion al2-ami-sagemaker-batch-gpu-470", "branch 535, 550, 570"]),
        # no published default driver, and not every host branch runs a CUDA 13 image
        ("ml.g6.xlarge", None, {"image_cuda": "13.0", "compat_driver": 580, "service": "transform"},
         ["publishes no default NVIDIA driver", "on driver 470", "pin the host driver"]),
        # an image without forward-compatibility libraries on a 470 host
        ("ml.g5.xlarge", None, {"compat_driver": None}, ["driver >= 525", "no usable forward-compatibility driver"]),
        # compat libraries older than the image's runtime do not help
        ("ml.g4dn.xlarge", None, {"image_cuda": "13.0", "compat_driver": 570}, ["NVIDIA driver 470"]),
        # GPUs the CUDA major no longer targets
        ("ml.p2.xlarge", None, {}, ["compute capability 3.7", "CUDA 12.x targets 5.0"]),
        ("ml.p3.2xlarge", "al2023-ami-sagemaker-inference-gpu-4-1", {"image_cuda": "13.0", "compat_driver": 580},
         ["compute capability 7.0", "CUDA 13.x targets 7.5"]),
    ],
)  # fmt: skip
def test_combinations_that_cannot_start_are_refused(
    instance: str, ami: str | None, kwargs: dict[str, Any], expected: list[str]
) -> None:
    with pytest.raises(GpuHostError) as refused:
        check_gpu_host(instance, ami, **kwargs)
    for text in expected:
        assert text in str(refused.value)


def test_the_refusal_reaches_the_config_before_any_call() -> None:
    with pytest.raises(ValidationError, match="no accelerator"):
        config(instance_type="ml.m5.xlarge", inference_ami_version=AMI)
    with pytest.raises(ValidationError, match="driver 470"):
        config(instance_type="ml.g5.xlarge", image_cuda="13.0", cuda_compat_driver=580)
    with pytest.raises(ValidationError, match="unknown TransformAmiVersion"):
        transform_config("al2-ami-sagemaker-inference-gpu-2")
    assert config(instance_type="ml.g5.xlarge", image_cuda="13.0", cuda_compat_driver=580,
                  inference_ami_version="al2023-ami-sagemaker-inference-gpu-4-1").inference_ami_version  # fmt: skip


# --- the check: what it passes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instance", "ami", "kwargs", "driver", "mode"),
    [
        ("ml.g4dn.xlarge", None, {}, 470, "forward-compat"),
        ("ml.g5.xlarge", None, {}, 470, "forward-compat"),
        ("ml.g5.xlarge", None, {"service": "transform"}, 470, "forward-compat"),
        ("ml.g6.xlarge", None, {}, 535, "native"),
        ("ml.p5.48xlarge", None, {}, 535, "native"),
        ("ml.p5e.48xlarge", None, {}, 550, "native"),
        ("ml.g5.xlarge", "al2-ami-sagemaker-inference-gpu-2", {}, 535, "native"),
        ("ml.g5.xlarge", "al2023-ami-sagemaker-inference-gpu-4-1", {"image_cuda": "13.0", "compat_driver": 580}, 580,
         "native"),
        ("ml.g5.xlarge", AMI, {"image_cuda": "13.0", "compat_driver": 580}, 550, "forward-compat"),
        ("ml.g6.xlarge", "al2-ami-sagemaker-batch-gpu-535", {"image_cuda": "13.0", "compat_driver": 580,
                                                              "service": "transform"}, 535, "forward-compat"),
        ("ml.m5.xlarge", None, {}, None, "cpu"),
    ],
)  # fmt: skip
def test_combinations_that_start_pass_with_their_driver_and_mode(
    instance: str, ami: str | None, kwargs: dict[str, Any], driver: int | None, mode: str
) -> None:
    result = check_gpu_host(instance, ami, **kwargs)
    assert (result.driver_branch, result.mode, result.warnings) == (driver, mode, ())


@pytest.mark.parametrize("family", [f for f in gpu_hosts.FAMILIES if f.compute_capability >= 7.5])
def test_every_datacenter_gpu_family_starts_the_cuda_12_8_image_on_its_default_hosts(family: Any) -> None:
    for service in ("realtime", "transform"):
        result = check_gpu_host(f"ml.{family.family}.xlarge", service=service)  # type: ignore[arg-type]
        assert result.gpu == family.gpu and result.mode in ("native", "forward-compat", "unknown")


def test_unknown_families_and_unpublished_drivers_warn_but_pass() -> None:
    unknown = check_gpu_host("ml.g7e.2xlarge")
    assert unknown.mode == "unknown" and "not in infra/sagemaker/gpu_hosts.py" in unknown.warnings[0]
    unknown_with_ami = check_gpu_host("ml.g7e.2xlarge", "al2023-ami-sagemaker-inference-gpu-4-1", "13.0", 580)
    assert unknown_with_ami.warnings and unknown_with_ami.driver_branch == 580
    g6e = check_gpu_host("ml.g6e.xlarge")
    assert g6e.mode == "unknown" and "publishes no default NVIDIA driver" in g6e.warnings[0]
    with pytest.warns(GpuHostWarning, match="not in infra/sagemaker/gpu_hosts.py"):
        config(instance_type="ml.g7e.2xlarge")


# --- every instance type the repository offers passes -----------------------------------------------------------------


def offered_instance_types() -> list[tuple[str, str, str]]:
    """(where, service, instance type) for the Marketplace package, the buyer notebook and the infra defaults."""
    offered: list[tuple[str, str, str]] = []
    package = json.loads((REPO_ROOT / "marketplace" / "package.example.json").read_text())
    for hardware in package["hardware"].values():
        offered += [("package.example.json", "realtime", t) for t in hardware["realtime"]]
        offered += [("package.example.json", "transform", t) for t in hardware["transform"]]
    offered.append(("package.example.json validation", "transform", package["validation"]["instance_type"]))
    notebook = json.loads((REPO_ROOT / "marketplace" / "buyer_notebook.ipynb").read_text())
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        for service, name in re.findall(r"(realtime|transform)_instance_type\s*=\s*\"(ml\.[\w.-]+)\"", source):
            offered.append(("buyer_notebook.ipynb", service, name))
    example = load_config(REPO_ROOT / "infra" / "sagemaker" / "deploy.example.json", {})
    offered.append(("deploy.example.json", "realtime", example.instance_type))
    offered.append(("DeployConfig default", "realtime", DeployConfig.model_fields["instance_type"].default))
    transform_default = transform.TransformConfig.model_fields["instance_type"].default
    offered.append(("TransformConfig default", "transform", transform_default))
    batch = sagemaker_cli.build_parser().parse_args(["batch-transform", "--input", "s3://i/", "--output", "s3://o/"])
    offered.append(("batch-transform --instance-type default", "transform", batch.instance_type))
    template, _ = decode_str(TEMPLATE.read_text())
    offered.append(("cloudformation.yaml InstanceType", "realtime", template["Parameters"]["InstanceType"]["Default"]))
    return offered


def test_every_offered_instance_type_passes_the_check() -> None:
    offered = offered_instance_types()
    assert {"ml.g4dn.xlarge", "ml.g5.xlarge", "ml.g6.xlarge", "ml.c6i.xlarge"} <= {t for _, _, t in offered}
    assert any(where == "buyer_notebook.ipynb" for where, _, _ in offered)
    for where, service, instance in offered:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GpuHostWarning)
            result = check_gpu_host(instance, service=service)  # type: ignore[arg-type]
        assert result.mode != "unknown" or result.gpu, f"{where}: {instance} is not in the facts table"


# --- the setting reaches the requests ---------------------------------------------------------------------------------


def transform_config(ami: str | None, instance_type: str = "ml.g5.xlarge") -> transform.TransformConfig:
    return transform.TransformConfig(job_name="j", model_name="m", input_s3="s3://in/", output_s3="s3://out/",
                                     instance_type=instance_type, transform_ami_version=ami)  # fmt: skip


def test_the_ami_is_in_the_endpoint_config_request_and_omitted_when_empty() -> None:
    call = plan.create_endpoint_config(config(inference_ami_version=AMI), "emb-v1", "emb-v1")
    assert call.params["ProductionVariants"][0]["InferenceAmiVersion"] == AMI
    assert_valid("CreateEndpointConfig", call.params)
    for empty in (None, ""):
        variant = plan.production_variant(config(inference_ami_version=empty), "emb-v1")
        assert "InferenceAmiVersion" not in variant
    async_call = plan.create_endpoint_config(
        config(inference_ami_version=AMI, async_inference={"output_s3": "s3://out/a"}), "emb-v1", "emb-v1"
    )
    assert async_call.params["ProductionVariants"][0]["InferenceAmiVersion"] == AMI  # async: the real-time hosts


def test_the_transform_ami_is_in_the_transform_request_and_omitted_when_empty() -> None:
    resources = transform.transform_job_call(transform_config("al2-ami-sagemaker-batch-gpu-535")).params
    assert resources["TransformResources"]["TransformAmiVersion"] == "al2-ami-sagemaker-batch-gpu-535"
    for empty in (None, ""):
        assert "TransformAmiVersion" not in transform.transform_job_call(transform_config(empty)).params[
            "TransformResources"
        ]


def test_cli_flag_reaches_create_endpoint_config_on_moto(cli: Any, boto: Any, sm: Any) -> None:
    argv = ["deploy", "--endpoint-name", "emb", *BASE, "--instance-type", "ml.g4dn.xlarge",
            "--model-data", "s3://m/model.tar.gz", "--inference-ami-version", AMI]  # fmt: skip
    code, out, err = cli(argv)
    assert code == 0, err
    (sent,) = boto.calls.bodies("CreateEndpointConfig")
    assert sent["ProductionVariants"][0]["InferenceAmiVersion"] == AMI
    stored = sm.describe_endpoint_config(EndpointConfigName=out["EndpointConfigName"])
    assert stored["ProductionVariants"][0]["InferenceAmiVersion"] == AMI


def test_cli_without_the_flag_or_with_it_empty_sends_no_ami(cli: Any, boto: Any) -> None:
    for extra in ([], ["--inference-ami-version", ""]):
        code, out, err = cli(["deploy", "--endpoint-name", "emb", *BASE, "--instance-type", "ml.g4dn.xlarge",
                              "--dry-run", *extra])  # fmt: skip
        assert code == 0, err
        (variant,) = next(c for c in out if c["operation"] == "create_endpoint_config")["params"]["ProductionVariants"]
        assert "InferenceAmiVersion" not in variant
    assert boto.calls.calls == []


def test_cli_refuses_before_any_call_and_warns_on_stderr(cli: Any, boto: Any) -> None:
    code, _, err = cli(["deploy", "--endpoint-name", "emb", *BASE, "--instance-type", "ml.m5.xlarge",
                        "--inference-ami-version", AMI])  # fmt: skip
    assert code == 2 and "no accelerator" in err and boto.calls.calls == []
    code, _, err = cli(["deploy", "--endpoint-name", "emb", *BASE, "--instance-type", "ml.g5.xlarge",
                        "--image-cuda", "13.0", "--cuda-compat-driver", "580", "--dry-run"])  # fmt: skip
    assert code == 2 and "NVIDIA driver 470" in err and "al2023-ami-sagemaker-inference-gpu-4-1" in err
    batch = ["batch-transform", "--model-name", "emb-v1", "--input", "s3://in/", "--output", "s3://out/", "--dry-run"]
    code, out, err = cli([*batch, "--instance-type", "ml.g6.xlarge"])
    assert code == 0 and "warning: ml.g6.xlarge (NVIDIA L4) on SageMaker batch transform" in err
    code, out, err = cli([*batch, "--instance-type", "ml.g6.xlarge", "--transform-ami-version",
                          "al2-ami-sagemaker-batch-gpu-535"])  # fmt: skip
    assert code == 0 and "warning" not in err
    assert out[0]["params"]["TransformResources"]["TransformAmiVersion"] == "al2-ami-sagemaker-batch-gpu-535"
    assert boto.calls.calls == []


# --- CloudFormation ---------------------------------------------------------------------------------------------------


def test_template_parameter_is_optional_and_lists_exactly_the_api_values() -> None:
    template, errors = decode_str(TEMPLATE.read_text())
    assert not errors
    parameter = template["Parameters"]["InferenceAmiVersion"]
    assert parameter["Default"] == "" and parameter["AllowedValues"][0] == ""
    assert set(parameter["AllowedValues"][1:]) == {a.name for a in gpu_hosts.amis("realtime")}
    assert template["Conditions"]["HasInferenceAmiVersion"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "InferenceAmiVersion"}, ""]}]
    }
    (variant,) = template["Resources"]["EndpointConfig"]["Properties"]["ProductionVariants"]
    assert variant["InferenceAmiVersion"] == {
        "Fn::If": ["HasInferenceAmiVersion", {"Ref": "InferenceAmiVersion"}, {"Ref": "AWS::NoValue"}]
    }


@pytest.mark.parametrize("ami", [AMI, ""])
def test_stack_passes_the_ami_or_omits_it_on_moto(boto: Any, ami: str) -> None:
    cloudformation, sm = boto.client("cloudformation"), boto.client("sagemaker")
    parameters = {"EndpointName": "emb-cfn", "ImageUri": IMAGE, "ExecutionRoleArn": ROLE,
                  "InstanceType": "ml.m5.xlarge" if not ami else "ml.g4dn.xlarge", "InferenceAmiVersion": ami}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        cloudformation.create_stack(
            StackName="emb", TemplateBody=TEMPLATE.read_text(),
            Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
        )  # fmt: skip
    stack = cloudformation.describe_stacks(StackName="emb")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    try:
        (variant,) = sm.describe_endpoint_config(EndpointConfigName=outputs["EndpointConfigName"])["ProductionVariants"]
        assert variant.get("InferenceAmiVersion") == (ami or None)
    finally:  # moto's state is shared by every moto server in this process: leave nothing behind
        cloudformation.delete_stack(StackName="emb")
    assert sm.list_endpoints()["Endpoints"] == []
