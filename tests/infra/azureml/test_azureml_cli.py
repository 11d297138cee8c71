"""``python -m infra.azureml``: plan/dry-run touch nothing; deploy/status/invoke/delete hit only the fake."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.ai.ml", reason="azure-ai-ml is not installed (pip install -e .[infra])")

from azureml_fakes import FAKE_PRINCIPAL_ID, RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE, WS_PATH, FakeArm, FakeCredential  # noqa: E402

from infra.azureml import apply  # noqa: E402
from infra.azureml.__main__ import main  # noqa: E402
from infra.azureml.config import AzureMLConfig  # noqa: E402
from infra.azureml.plan import build_plan, rest_bodies  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = REPO_ROOT / "infra" / "azureml" / "deploy.example.json"
WHERE = ["--subscription-id", SUBSCRIPTION, "--resource-group", RESOURCE_GROUP, "--workspace", WORKSPACE]
EP_PATH = f"{WS_PATH}/onlineEndpoints/jina-embed"

pytestmark = pytest.mark.filterwarnings("ignore:The `context` parameter is deprecated")


@pytest.fixture
def fake_client(monkeypatch: pytest.MonkeyPatch, fake_arm: FakeArm) -> FakeArm:
    """Route the CLI's ``apply.make_client`` to the fake credential (and so the fake ARM)."""
    real = apply.make_client
    monkeypatch.setattr(apply, "make_client", lambda target: real(target, credential=FakeCredential()))
    return fake_arm


@pytest.fixture
def no_client(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(target: Any) -> Any:
        raise AssertionError("this command must not build an MLClient")

    monkeypatch.setattr(apply, "make_client", refuse)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", [["plan"], ["deploy", "--dry-run"]])
def test_plan_and_dry_run_print_the_rest_bodies_and_call_nothing(
    command: list[str], capsys: pytest.CaptureFixture[str], fake_arm: FakeArm, no_client: None
) -> None:
    code, out, _ = run_cli(capsys, *command, "--config", str(EXAMPLE))
    assert code == 0
    steps = json.loads(out)
    assert [s["step"] for s in steps] == ["environment", "model", "endpoint", "deployment", "traffic"]
    assert {s["method"] for s in steps} == {"PUT"}
    cfg = AzureMLConfig.from_file(EXAMPLE)
    expected = rest_bodies(build_plan(cfg), "westeurope")
    assert {s["step"]: s["body"] for s in steps} == {k: v for k, v in expected.items() if v is not None}
    assert steps[3]["path"].endswith("/onlineEndpoints/jina-embed/deployments/blue")
    assert fake_arm.requests == [] and fake_arm.scoring_requests == []


def test_plan_writes_az_ml_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str], no_client: None) -> None:
    code, _, _ = run_cli(capsys, "plan", "--config", str(EXAMPLE), "--yaml-dir", str(tmp_path))
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "deployment.yml",
        "endpoint.yml",
        "environment.yml",
        "model.yml",
    ]


def test_flags_and_environment_variables_fill_the_config(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_client: None
) -> None:
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
    monkeypatch.setenv("AZURE_RESOURCE_GROUP", RESOURCE_GROUP)
    monkeypatch.setenv("AZUREML_WORKSPACE", WORKSPACE)
    code, out, _ = run_cli(
        capsys,
        "plan",
        "--endpoint-name", "emb-cpu",
        "--image", "myacr.azurecr.io/embed:2.0.0",
        "--instance-type", "Standard_DS3_v2",
        "--auth-mode", "aad_token",
        "--env", "EMB_DEVICE=cpu",
        "--env", "EMB_MAX_BATCH_SIZE=16",
    )  # fmt: skip
    assert code == 0
    steps = {s["step"]: s for s in json.loads(out)}
    assert "model" not in steps  # no model: the image's embedded default
    deployment = steps["deployment"]["body"]["properties"]
    assert deployment["instanceType"] == "Standard_DS3_v2"
    assert deployment["environmentVariables"] == {"EMB_DEVICE": "cpu", "EMB_MAX_BATCH_SIZE": "16"}
    assert steps["endpoint"]["body"]["properties"]["authMode"] == "AADToken"
    assert steps["endpoint"]["path"] == f"{WS_PATH}/onlineEndpoints/emb-cpu"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--env", "HF_TOKEN=hf_do_not_print_me"], "looks like a secret"),
        (["--env", "NOEQUALS"], "KEY=VALUE"),
        (["--image", "embed:latest"], "latest"),
        (["--request-timeout-s", "500"], "request_timeout_s"),
    ],
)
def test_bad_input_exits_2_without_echoing_values(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str], no_client: None
) -> None:
    code, out, err = run_cli(capsys, "deploy", "--dry-run", "--config", str(EXAMPLE), *extra)
    assert code == 2 and out == ""
    assert message in err
    assert "hf_do_not_print_me" not in err


def test_deploy_status_invoke_delete_round_trip(capsys: pytest.CaptureFixture[str], fake_client: FakeArm) -> None:
    code, out, err = run_cli(capsys, "deploy", "--config", str(EXAMPLE), *WHERE)
    assert code == 0, err
    assert json.loads(out)["traffic"] == {"blue": 100}
    deployment = fake_client.put_body("/onlineEndpoints/jina-embed/deployments/blue")["properties"]
    assert deployment["instanceType"] == "Standard_NC24ads_A100_v4"
    assert deployment["environmentVariables"]["EMB_TRUST_REMOTE_CODE"] == "false"
    assert "environment jina-embedding-serving:1" in err  # progress goes to stderr

    code, out, _ = run_cli(capsys, "status", "--config", str(EXAMPLE), *WHERE, "--logs", "5")
    assert code == 0
    state = json.loads(out)
    assert state["endpoint"]["scoring_uri"].endswith(".inference.ml.azure.com/score")
    assert [d["name"] for d in state["deployments"]] == ["blue"]
    assert "model loaded" in state["logs"]

    code, out, _ = run_cli(capsys, "invoke", "--config", str(EXAMPLE), *WHERE, "--text", "a", "--text", "b")
    assert code == 0
    assert json.loads(out) == {"model": "fake", "embeddings": 2, "dimensions": 4, "usage": {"total_tokens": 3}}
    assert fake_client.scoring_requests[-1].body == {"input": ["a", "b"]}

    code, out, _ = run_cli(capsys, "delete", "--config", str(EXAMPLE), *WHERE, "--yes")
    assert code == 0 and json.loads(out) == {"deleted": True}
    assert [r.path for r in fake_client.calls("DELETE")] == [EP_PATH]


def test_endpoint_only_creates_just_the_endpoint(capsys: pytest.CaptureFixture[str], fake_client: FakeArm) -> None:
    code, out, _ = run_cli(capsys, "deploy", "--config", str(EXAMPLE), *WHERE, "--endpoint-only")
    assert code == 0
    assert json.loads(out)["principal_id"] == FAKE_PRINCIPAL_ID  # grant AcrPull to this, then deploy
    assert [r.path for r in fake_client.calls("PUT")] == [EP_PATH]


def test_invoke_with_a_request_file_and_raw_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_client: FakeArm
) -> None:
    assert run_cli(capsys, "deploy", "--config", str(EXAMPLE), *WHERE)[0] == 0
    request = tmp_path / "req.json"
    request.write_text(json.dumps({"input": "one", "dimensions": 4}))
    code, out, _ = run_cli(
        capsys, "invoke", "--config", str(EXAMPLE), *WHERE, "--file", str(request), "--deployment", "blue", "--raw"
    )
    assert code == 0
    assert json.loads(out)["data"][0]["embedding"] == [0.1, 0.2, 0.3, 0.4]
    assert fake_client.scoring_requests[-1].headers["azureml-model-deployment"] == "blue"


def test_delete_needs_confirmation_when_not_interactive(
    capsys: pytest.CaptureFixture[str], fake_client: FakeArm
) -> None:
    code, _, err = run_cli(capsys, "delete", "--config", str(EXAMPLE), *WHERE)
    assert code == 2 and "--yes" in err
    assert fake_client.calls("DELETE") == []


def test_delete_deployment_only(capsys: pytest.CaptureFixture[str], fake_client: FakeArm) -> None:
    assert run_cli(capsys, "deploy", "--config", str(EXAMPLE), *WHERE)[0] == 0
    code, out, _ = run_cli(
        capsys, "delete", "--config", str(EXAMPLE), *WHERE, "--deployment-only", "--deployment-name", "blue", "--yes"
    )
    assert code == 0 and json.loads(out) == {"deleted": True}
    assert [r.path for r in fake_client.calls("DELETE")] == [f"{EP_PATH}/deployments/blue"]


def test_azure_errors_exit_1(capsys: pytest.CaptureFixture[str], fake_client: FakeArm) -> None:
    fake_client.fail_put["/deployments/blue"] = (409, "InsufficientQuota")
    code, _, err = run_cli(capsys, "deploy", "--config", str(EXAMPLE), *WHERE)
    assert code == 1
    assert "InsufficientQuota" in err


def test_module_entry_point_runs_in_a_fresh_interpreter() -> None:
    """``python -m infra.azureml plan`` from the repository root, as documented (no Azure calls)."""
    proc = subprocess.run(
        [sys.executable, "-m", "infra.azureml", "plan", "--config", str(EXAMPLE)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["step"] == "environment"


def test_autoscaling_from_the_config_file_plans_and_deploys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_client: FakeArm
) -> None:
    pytest.importorskip("azure.mgmt.monitor", reason="azure-mgmt-monitor not installed (infra extra)")
    data = json.loads(EXAMPLE.read_text())
    data.update(instance_count=2, autoscaling={"min_instances": 2, "max_instances": 4, "target_value": 60})
    config = tmp_path / "azureml.json"
    config.write_text(json.dumps(data))

    code, out, _ = run_cli(capsys, "plan", "--config", str(config))
    assert code == 0
    steps = json.loads(out)
    assert [s["step"] for s in steps][-1] == "autoscale"
    assert steps[-1]["path"].endswith("/providers/Microsoft.Insights/autoscalesettings/jina-embed-blue-autoscale")
    assert steps[-1]["body"]["properties"]["profiles"][0]["capacity"] == {
        "minimum": "2",
        "maximum": "4",
        "default": "2",
    }

    code, _, err = run_cli(capsys, "deploy", "--config", str(config), *WHERE)
    assert code == 0, err
    (put,) = fake_client.calls("PUT", "/autoscalesettings/")
    assert put.body["properties"]["profiles"][0]["rules"][0]["metricTrigger"]["threshold"] == 60
    assert "autoscale jina-embed-blue-autoscale: 2-4 instances on GpuUtilizationPercentage" in err


def test_an_auth_mode_change_is_refused_with_exit_2(capsys: pytest.CaptureFixture[str], fake_client: FakeArm) -> None:
    assert run_cli(capsys, "deploy", "--config", str(EXAMPLE), *WHERE)[0] == 0
    fake_client.requests.clear()
    code, _, err = run_cli(capsys, "deploy", "--config", str(EXAMPLE), *WHERE, "--auth-mode", "aad_token")
    assert code == 2
    assert "re-create" in err
    assert fake_client.calls("PUT") == []
