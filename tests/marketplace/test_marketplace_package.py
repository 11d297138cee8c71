"""The model package request: botocore's service model, config checks, moto create/describe, the CLI, waiting."""

from __future__ import annotations

import copy
import json

import pytest
from marketplace_testing import MARKETPLACE, REGION
from pydantic import ValidationError

from inference.mime import ACCEPTED_CONTENT_TYPES, RESPONSE_TYPES
from marketplace import model_package as mp

EXAMPLE = MARKETPLACE / "package.example.json"


@pytest.fixture
def config() -> mp.PackageConfig:
    return mp.load_config(EXAMPLE)


def raw_config() -> dict:
    return json.loads(EXAMPLE.read_text())


def test_example_request_satisfies_botocores_model(config):
    request = mp.build_request(config)
    mp.validate_request(request)
    spec = request["InferenceSpecification"]
    assert spec["Containers"] == [{"Image": config.image, "Environment": {"EMB_LOG_LEVEL": "INFO"}}]
    assert "ml.g5.xlarge" in spec["SupportedRealtimeInferenceInstanceTypes"]
    assert "ml.m5.xlarge" in spec["SupportedTransformInstanceTypes"]
    assert request["CertifyForMarketplace"] is True
    job = request["ValidationSpecification"]["ValidationProfiles"][0]["TransformJobDefinition"]
    assert job["TransformInput"]["ContentType"] == "application/jsonlines"
    assert job["TransformInput"]["SplitType"] == "Line"
    assert job["TransformOutput"] == {
        "S3OutputPath": config.validation.output_s3,
        "Accept": "application/jsonlines",
        "AssembleWith": "Line",
    }


def test_declared_content_types_are_exactly_what_the_container_speaks(config):
    spec = mp.build_request(config)["InferenceSpecification"]
    assert tuple(spec["SupportedContentTypes"]) == ACCEPTED_CONTENT_TYPES
    assert tuple(spec["SupportedResponseMIMETypes"]) == RESPONSE_TYPES


@pytest.mark.parametrize(
    ("mutate", "finding"),
    [
        (lambda r: r["InferenceSpecification"]["SupportedRealtimeInferenceInstanceTypes"].append("ml.x9.huge"),
         "SupportedRealtimeInferenceInstanceTypes[11]: 'ml.x9.huge' is not one of"),
        (lambda r: r.update(ModelPackageName="bad_name"), "ModelPackageName: 'bad_name' does not match"),
        (lambda r: r.update(ModelPackageDescription="x" * 1025), "1025 characters, at most 1024"),
        (lambda r: r["ValidationSpecification"]["ValidationProfiles"].append(
            r["ValidationSpecification"]["ValidationProfiles"][0]), "2 items, at most 1"),
        (lambda r: r["InferenceSpecification"].pop("Containers"), "Missing required parameter"),
        (lambda r: r.update(CertifyForMarketplace="yes"), "Invalid type for parameter CertifyForMarketplace"),
        (lambda r: r["ValidationSpecification"].update(ValidationRole="role"), "ValidationRole"),
        (lambda r: r["ValidationSpecification"]["ValidationProfiles"][0]["TransformJobDefinition"].update(
            BatchStrategy="Everything"), "BatchStrategy: 'Everything' is not one of"),
        (lambda r: r.update(Unknown=1), "Unknown parameter"),
    ],
)  # fmt: skip
def test_invalid_requests_are_caught_before_sending(config, mutate, finding):
    request = copy.deepcopy(mp.build_request(config))
    mutate(request)
    with pytest.raises(mp.RequestInvalid) as caught:
        mp.validate_request(request)
    assert any(finding in problem for problem in caught.value.problems), caught.value.problems


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["hardware"]["gpu"]["realtime"].append("ml.g99.xlarge"), "does not offer: ml.g99.xlarge"),
        (lambda c: c["hardware"]["cpu"]["transform"].append("ml.t2.medium"), "does not offer: ml.t2.medium"),
        (lambda c: c.update(image="docker.io/me/embed:1"), "not an ECR image URI"),
        (lambda c: c["validation"].update(instance_type="ml.c5.xlarge"), "is not a transform type"),
        (lambda c: c["validation"].update(input_file="input/batch/texts.parquet"), "input_file must end in"),
        (lambda c: c["validation"].update(output_s3="bucket/out"), "not an s3://bucket/prefix URI"),
        (lambda c: c["hardware"].update(tpu={"realtime": ["ml.m5.xlarge"], "transform": ["ml.m5.xlarge"]}), "tpu"),
        (lambda c: c.update(name="x" * 64), "name"),
    ],
)
def test_config_mistakes_are_reported(change, message):
    raw = raw_config()
    change(raw)
    with pytest.raises(ValidationError, match=message):
        mp.PackageConfig.model_validate(raw)


def test_csv_validation_input_sets_the_content_type():
    raw = raw_config()
    raw["validation"]["input_file"] = "input/batch/texts.csv"
    request = mp.build_request(mp.PackageConfig.model_validate(raw))
    job = request["ValidationSpecification"]["ValidationProfiles"][0]["TransformJobDefinition"]
    assert job["TransformInput"]["ContentType"] == "text/csv"


def test_sample_files_named_by_the_config_exist(config):
    assert (mp.SAMPLES / config.validation.input_file).is_file()


def test_dry_run_prints_the_request_and_calls_nothing(capsys):
    assert mp.main(["--config", str(EXAMPLE), "--dry-run", "--endpoint-url", "http://127.0.0.1:9"]) == 0
    assert json.loads(capsys.readouterr().out) == mp.build_request(mp.load_config(EXAMPLE))


def test_invalid_config_exits_2(tmp_path, capsys):
    raw = raw_config()
    raw["image"] = "nope"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(raw))
    assert mp.main(["--config", str(bad), "--dry-run"]) == 2
    assert "not an ECR image URI" in capsys.readouterr().err


def test_cli_creates_the_package_in_moto_uploads_the_sample_and_waits(aws, moto_url, capsys, config):
    aws.s3.create_bucket(Bucket="my-seller-bucket")
    code = mp.main([
        "--config", str(EXAMPLE), "--region", REGION, "--endpoint-url", moto_url, "--s3-endpoint-url", moto_url,
        "--upload-validation-input", "--interval-s", "0",
    ])  # fmt: skip
    out = capsys.readouterr()
    assert code == 0, out.err
    summary = json.loads(out.out)
    assert summary["ModelPackageStatus"] == "Completed"
    assert summary["ModelPackageArn"].endswith(f":model-package/{config.name}")
    described = aws.sagemaker.describe_model_package(ModelPackageName=config.name)
    request = mp.build_request(config)
    assert described["InferenceSpecification"] == request["InferenceSpecification"]
    assert described["ValidationSpecification"] == request["ValidationSpecification"]
    assert described["CertifyForMarketplace"] is True
    bucket, key = config.validation_input_key
    uploaded = aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert uploaded == (mp.SAMPLES / config.validation.input_file).read_bytes()
    assert key == "marketplace/validation/input/texts.jsonl"


class ScriptedSageMaker:
    """describe_model_package answers from a script, one state per call."""

    def __init__(self, *states):
        self.states = list(states)
        self.calls = 0

    def describe_model_package(self, ModelPackageName):  # noqa: N803 - boto3's parameter name
        state = self.states[min(self.calls, len(self.states) - 1)]
        self.calls += 1
        return {"ModelPackageArn": f"arn:{ModelPackageName}", "ModelPackageName": ModelPackageName, **state}


def _details(status, reason=None):
    entry = {"Name": "arn:aws:sagemaker:us-east-1:1:model-package/p", "Status": status}
    if reason:
        entry["FailureReason"] = reason
    return {"ModelPackageStatusDetails": {"ValidationStatuses": [entry], "ImageScanStatuses": []}}


def test_wait_reports_progress_and_returns_when_completed():
    client = ScriptedSageMaker(
        {"ModelPackageStatus": "Pending"},
        {"ModelPackageStatus": "InProgress", **_details("InProgress")},
        {"ModelPackageStatus": "Completed", **_details("Completed")},
    )
    lines: list[str] = []
    package = mp.wait_for_validation(client, "p", interval_s=5, report=lines.append, sleep=lambda s: None)
    assert package["ModelPackageStatus"] == "Completed" and client.calls == 3
    assert lines[0].startswith("p: Pending") and "p=InProgress" in lines[1] and "p=Completed" in lines[2]


def test_wait_raises_with_sagemakers_failure_reason():
    client = ScriptedSageMaker({"ModelPackageStatus": "Failed", **_details("Failed", "ClientError: /ping was 503")})
    with pytest.raises(mp.PackageFailed, match="ClientError: /ping was 503"):
        mp.wait_for_validation(client, "p", report=lambda _: None, sleep=lambda s: None)


def test_wait_gives_up_at_the_deadline():
    now = iter(range(0, 10_000, 100))
    client = ScriptedSageMaker({"ModelPackageStatus": "InProgress"})
    with pytest.raises(mp.PackageFailed, match="still InProgress after 300s"):
        mp.wait_for_validation(
            client, "p", timeout_s=300, report=lambda _: None, sleep=lambda s: None, clock=lambda: next(now)
        )
