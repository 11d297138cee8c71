"""Every CLI command against moto in server mode (real HTTP; boto3 finds moto through AWS_ENDPOINT_URL).

Where moto drops a field (``EnableNetworkIsolation``) or rejects a value (``ml.g5.*``), the requests are
checked as botocore serialised them (``capture``); UpdateEndpoint, which moto lacks, is checked as moto
received it (see conftest).
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import requests
from sagemaker_testing import BROKEN_REASON, IMAGE, REGION, ROLE

REPO_ROOT = Path(__file__).resolve().parents[3]
BASE = ["--image-uri", IMAGE, "--role-arn", ROLE, "--poll-interval", "0"]
DEPLOY = ["deploy", "--endpoint-name", "emb", *BASE, "--instance-type", "ml.g4dn.xlarge"]
TARGET = {
    "ServiceNamespace": "sagemaker",
    "ResourceIds": ["endpoint/emb/variant/AllTraffic"],
    "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
}


def deploy(cli: Callable[..., Any], *extra: str) -> dict[str, Any]:
    code, out, err = cli([*DEPLOY, "--model-data", "s3://models/emb/v1/model.tar.gz", *extra])
    assert code == 0, err
    return out


def test_deploy_uploads_model_creates_endpoint_and_autoscaling(cli, boto, sm, scaling, model_folder) -> None:
    calls = boto.calls
    s3 = boto.client("s3")
    s3.create_bucket(Bucket="models")
    calls.calls.clear()
    argv = [*DEPLOY, "--model-source", str(model_folder), "--upload-s3", "s3://models/emb",
            "--env", "EMB_LOG_LEVEL=DEBUG", "--min-instances", "1", "--max-instances", "3"]  # fmt: skip
    code, out, err = cli(argv)
    sent = calls.operations()
    assert code == 0, err
    assert "endpoint emb: InService" in err and out["EndpointStatus"] == "InService"
    config = sm.describe_endpoint_config(
        EndpointConfigName=sm.describe_endpoint(EndpointName="emb")["EndpointConfigName"]
    )
    variant = config["ProductionVariants"][0]
    assert (variant["InstanceType"], variant["InitialInstanceCount"], variant["ModelName"]) == (
        "ml.g4dn.xlarge", 1, out["ModelName"],
    )  # fmt: skip
    assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == 600
    assert variant["RoutingConfig"] == {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}
    container = sm.describe_model(ModelName=out["ModelName"])["PrimaryContainer"]
    key = f"emb/emb/{out['ModelName'].removeprefix('emb-')}/model.tar.gz"
    assert container == {"Image": IMAGE, "Mode": "SingleModel", "ModelDataUrl": f"s3://models/{key}",
                         "Environment": {"EMB_LOG_LEVEL": "DEBUG"}}  # fmt: skip
    archive = tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket="models", Key=key)["Body"].read()))
    assert archive.getnames() == [
        "1_Pooling",
        "1_Pooling/config.json",
        "config.json",
        "model.safetensors",
        "modules.json",
    ]
    assert {m.mode for m in archive.getmembers() if m.isfile()} == {0o644}  # readable by the non-root server
    assert calls.bodies("CreateModel")[0]["EnableNetworkIsolation"] is True  # moto drops this field
    target = scaling.describe_scalable_targets(**TARGET)["ScalableTargets"][0]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)
    assert sent == [
        "DescribeEndpoint", "PutObject", "CreateModel", "CreateEndpointConfig", "CreateEndpoint",
        "DescribeEndpoint", "RegisterScalableTarget", "PutScalingPolicy",
    ]  # fmt: skip


def test_a_folder_that_is_not_a_servable_model_is_refused_before_anything_is_created(cli, sm, model_folder) -> None:
    (model_folder / "model.safetensors").unlink()
    code, _, err = cli([*DEPLOY, "--model-source", str(model_folder), "--upload-s3", "s3://models/emb"])
    assert code == 2 and "no *.safetensors weights" in err
    assert sm.list_models()["Models"] == []


def test_an_upload_to_a_missing_bucket_fails_cleanly(cli, sm, model_folder) -> None:
    code, _, err = cli([*DEPLOY, "--model-source", str(model_folder), "--upload-s3", "s3://no-such-bucket/emb"])
    assert code == 1 and "NoSuchBucket" in err and "Traceback" not in err
    assert sm.list_models()["Models"] == []


def test_g5_request_is_exact_and_a_rejected_config_undoes_the_model(cli, boto, sm) -> None:
    calls = boto.calls
    code, _, err = cli(["deploy", "--endpoint-name", "emb", *BASE, "--model-data", "s3://m/model.tar.gz"])
    assert code == 1 and "ml.g5.xlarge" in err  # moto's instance-type list predates g5
    variant = calls.bodies("CreateEndpointConfig")[0]["ProductionVariants"][0]
    assert variant["InstanceType"] == "ml.g5.xlarge" and variant["ModelDataDownloadTimeoutInSeconds"] == 600
    assert calls.operations()[-1] == "DeleteModel"
    assert sm.list_models()["Models"] == []


def test_deploy_refuses_an_existing_endpoint(cli, aws) -> None:
    deploy(cli)
    code, _, err = cli([*DEPLOY, "--model-data", "s3://models/emb/v2/model.tar.gz"])
    assert code == 1 and "already exists (InService); use `update`" in err


def test_a_failed_endpoint_reports_sagemakers_failure_reason(cli, aws) -> None:
    code, _, err = cli(["deploy", "--endpoint-name", "broken-emb", *BASE, "--instance-type", "ml.m5.large"])
    assert code == 1
    assert f"endpoint broken-emb is Failed: {BROKEN_REASON}" in err
    assert "/aws/sagemaker/Endpoints/broken-emb" in err


def test_deploy_dry_run_prints_the_plan_and_calls_nothing(cli, boto) -> None:
    calls = boto.calls
    code, out, _ = cli([*DEPLOY, "--dry-run", "--max-instances", "2"])
    assert code == 0 and calls.calls == []
    assert [c["operation"] for c in out] == [
        "create_model", "create_endpoint_config", "create_endpoint", "register_scalable_target", "put_scaling_policy",
    ]  # fmt: skip


def test_bad_input_exits_2_before_any_call(cli, boto) -> None:
    calls = boto.calls
    code, _, err = cli(["deploy", "--endpoint-name", "emb", "--image-uri", IMAGE])
    assert code == 2 and "role_arn" in err and calls.calls == []


def test_status_reports_variants_and_autoscaling(cli, aws) -> None:
    deploy(cli, "--max-instances", "4")
    code, out, _ = cli(["status", "--endpoint-name", "emb"])
    assert code == 0
    assert out["EndpointStatus"] == "InService" and out["FailureReason"] is None and out["Async"] is False
    (variant,) = out["Variants"]
    assert variant["InstanceType"] == "ml.g4dn.xlarge" and variant["CurrentInstanceCount"] == 1
    assert variant["Autoscaling"] == {"ResourceId": "endpoint/emb/variant/AllTraffic", "MinCapacity": 1,
                                      "MaxCapacity": 4, "Policies": ["emb-target-tracking"]}  # fmt: skip
    code, _, err = cli(["status", "--endpoint-name", "nope"])
    assert code == 1 and "does not exist" in err


UPDATE = ["update", "--endpoint-name", "emb", *BASE, "--model-data", "s3://models/emb/v2/model.tar.gz"]


def test_blue_green_update_switches_config_then_deletes_the_old_one(cli, aws, boto, sm, scaling) -> None:
    first = deploy(cli, "--max-instances", "2")
    calls = boto.calls
    calls.calls.clear()  # only what the command under test sends
    argv = [*UPDATE, "--instance-type", "ml.g4dn.xlarge", "--max-instances", "5", "--traffic", "CANARY",
            "--step-percent", "20", "--wait-interval", "120", "--rollback-alarm", "emb-5xx"]  # fmt: skip
    code, out, err = cli(argv)
    assert code == 0, err
    new = out["EndpointConfigName"]
    assert out["Replaced"] == first["EndpointConfigName"] and new != first["EndpointConfigName"]
    assert aws.update.requests == [{
        "EndpointName": "emb",
        "EndpointConfigName": new,
        "DeploymentConfig": {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {"Type": "CANARY", "WaitIntervalInSeconds": 120,
                                                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 20}},
                "TerminationWaitInSeconds": 300,
            },
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "emb-5xx"}]},
        },
        "RetainAllVariantProperties": True,  # autoscaled: the fleet keeps its current size
    }]  # fmt: skip
    assert sm.describe_endpoint(EndpointName="emb")["EndpointConfigName"] == new
    assert [m["ModelName"] for m in sm.list_models()["Models"]] == [new]
    assert [c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]] == [new]
    assert sm.describe_model(ModelName=new)["PrimaryContainer"]["ModelDataUrl"] == "s3://models/emb/v2/model.tar.gz"
    assert scaling.describe_scalable_targets(**TARGET)["ScalableTargets"][0]["MaxCapacity"] == 5
    assert "DeregisterScalableTarget" not in calls.operations()  # same instance type: autoscaling may stay


def test_changing_the_instance_type_deregisters_autoscaling_around_the_update(cli, aws, boto, scaling) -> None:
    deploy(cli, "--max-instances", "2")
    calls = boto.calls
    calls.calls.clear()  # only what the command under test sends
    code, _, err = cli([*UPDATE, "--instance-type", "ml.g4dn.2xlarge", "--max-instances", "3"])
    assert code == 0, err
    ops = calls.operations()
    assert ops.index("DeleteScalingPolicy") < ops.index("DeregisterScalableTarget") < ops.index("UpdateEndpoint")
    assert ops.index("UpdateEndpoint") < ops.index("RegisterScalableTarget") < ops.index("PutScalingPolicy")
    assert scaling.describe_scalable_targets(**TARGET)["ScalableTargets"][0]["MaxCapacity"] == 3


def test_a_rolled_back_update_fails_with_the_reason_and_removes_the_new_resources(cli, aws, sm, scaling) -> None:
    first = deploy(cli, "--max-instances", "2")
    aws.update.rollback_reason = "Alarm emb-5xx went into ALARM; rolled back"
    code, _, err = cli([*UPDATE, "--instance-type", "ml.g4dn.2xlarge"])  # type change: autoscaling goes first
    assert code == 1
    assert f"rolled back to {first['EndpointConfigName']}: Alarm emb-5xx went into ALARM" in err
    assert sm.describe_endpoint(EndpointName="emb")["EndpointConfigName"] == first["EndpointConfigName"]
    assert [m["ModelName"] for m in sm.list_models()["Models"]] == [first["ModelName"]]
    assert scaling.describe_scalable_targets(**TARGET)["ScalableTargets"][0]["MaxCapacity"] == 2  # restored
    policies = scaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=TARGET["ResourceIds"][0])
    assert [p["PolicyName"] for p in policies["ScalingPolicies"]] == ["emb-target-tracking"]


def test_update_dry_run_reads_only_and_update_needs_a_live_endpoint(cli, aws, boto) -> None:
    deploy(cli)
    calls = boto.calls
    calls.calls.clear()  # only what the command under test sends
    code, out, _ = cli([*UPDATE, "--instance-type", "ml.g4dn.xlarge", "--dry-run"])
    assert code == 0
    assert [c["operation"] for c in out] == [
        "create_model", "create_endpoint_config", "update_endpoint", "delete_endpoint_config", "delete_model",
    ]  # fmt: skip
    assert all(op.startswith("Describe") for op in calls.operations())
    code, _, err = cli([*UPDATE[:2], "other", *UPDATE[3:]])
    assert code == 1 and "does not exist; use `deploy`" in err


def test_delete_removes_autoscaling_endpoint_config_and_model(cli, aws, boto, sm, scaling) -> None:
    deploy(cli, "--max-instances", "2")
    calls = boto.calls
    calls.calls.clear()  # only what the command under test sends
    code, out, _ = cli(["delete", "--endpoint-name", "emb", "--dry-run"])
    assert code == 0 and [c["operation"] for c in out] == [
        "delete_scaling_policy", "deregister_scalable_target", "delete_endpoint", "delete_endpoint_config",
        "delete_model",
    ]  # fmt: skip
    assert sm.list_endpoints()["Endpoints"]  # dry run changed nothing
    code, out, err = cli(["delete", "--endpoint-name", "emb", "--poll-interval", "0"])
    assert code == 0, err
    assert "endpoint emb: Deleted" in err and len(out["Done"]) == 5
    assert sm.list_endpoints()["Endpoints"] == sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert sm.list_models()["Models"] == []
    assert scaling.describe_scalable_targets(**TARGET)["ScalableTargets"] == []


def test_delete_can_keep_the_model(cli, aws, sm) -> None:
    first = deploy(cli)
    code, _, _ = cli(["delete", "--endpoint-name", "emb", "--keep-models", "--poll-interval", "0"])
    assert code == 0
    assert [m["ModelName"] for m in sm.list_models()["Models"]] == [first["ModelName"]]


def test_invoke_decodes_the_endpoints_answer(cli, aws) -> None:
    vectors = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.25]], dtype=np.float32)
    body = {"object": "list", "data": [
        {"object": "embedding", "index": i, "embedding": {"base64": base64.b64encode(v.tobytes()).decode()}}
        for i, v in enumerate(vectors)
    ]}  # fmt: skip
    results = {"region": REGION, "results": [{"Body": json.dumps(body), "ContentType": "application/json"}]}
    requests.post(f"{aws.url}/moto-api/static/sagemaker/endpoint-results", json=results, timeout=10).raise_for_status()
    code, out, err = cli(["invoke", "--endpoint-name", "emb", "--text", "first", "--text", "second"])
    assert code == 0, err
    assert out["shape"] == [2, 3] and out["dtype"] == "float32"
    np.testing.assert_array_equal(np.array(out["embeddings"], dtype=np.float32), vectors)


def test_batch_transform_runs_the_endpoints_model(cli, aws, boto, sm) -> None:
    first = deploy(cli)
    calls = boto.calls
    calls.calls.clear()  # only what the command under test sends
    argv = ["batch-transform", "--endpoint-name", "emb", "--input", "s3://in/docs/", "--output", "s3://out/emb/",
            "--job-name", "emb-batch-1", "--instance-type", "ml.g4dn.xlarge", "--env", "EMB_MAX_INPUTS=4096",
            "--record-options", '{"task": "passage", "dimensions": 256}', "--poll-interval", "0"]  # fmt: skip
    code, out, err = cli(argv)
    assert code == 0, err
    assert out == {"TransformJobName": "emb-batch-1", "TransformJobStatus": "Completed", "Output": "s3://out/emb/"}
    (request,) = calls.bodies("CreateTransformJob")
    assert request["ModelName"] == first["ModelName"] and request["BatchStrategy"] == "MultiRecord"
    assert request["TransformInput"]["SplitType"] == "Line"
    assert request["TransformInput"]["ContentType"] == request["TransformOutput"]["Accept"] == "application/jsonlines"
    assert request["Environment"] == {
        "EMB_REQUEST_DEADLINE_S": "450",  # 75% of the job's 600 s invocation timeout
        "EMB_MAX_INPUTS": "4096",
        "EMB_RECORD_OPTIONS": '{"dimensions":256,"task":"passage"}',
    }
    assert sm.describe_transform_job(TransformJobName="emb-batch-1")["TransformJobStatus"] == "Completed"


def test_batch_transform_dry_run_and_explicit_model(cli, boto) -> None:
    calls = boto.calls
    argv = ["batch-transform", "--model-name", "emb-v1", "--input", "s3://in/", "--output", "s3://out/", "--dry-run"]
    code, out, _ = cli(argv)
    assert code == 0 and calls.calls == []
    assert out[0]["params"]["ModelName"] == "emb-v1" and out[0]["params"]["TransformJobName"].startswith("emb-v1-")
    code, _, err = cli(["batch-transform", "--input", "s3://in/", "--output", "s3://out/"])
    assert code == 2 and "--model-name or --endpoint-name" in err


def test_the_module_entry_point_runs_as_a_process(cli, aws) -> None:
    deploy(cli)
    env = {**os.environ}
    env.pop("AWS_ENDPOINT_URL")  # the flag, not the environment, points this process at moto
    done = subprocess.run(
        [sys.executable, "-m", "infra.sagemaker", "status", "--endpoint-name", "emb", "--endpoint-url", aws.url],
        capture_output=True, text=True, env=env, timeout=60, cwd=REPO_ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["EndpointStatus"] == "InService"
