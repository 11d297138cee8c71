"""A reranker on Azure ML: deployed like any model folder, invoked with ``--query`` (a rerank body) against the
fake ARM and scoring endpoint; the embedding invoke is unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.ai.ml", reason="azure-ai-ml is not installed (pip install -e .[infra])")

from azureml_fakes import RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE, FakeArm, FakeCredential  # noqa: E402

from infra.azureml import apply  # noqa: E402
from infra.azureml.__main__ import invoke_payload, main  # noqa: E402
from infra.azureml.config import AzureMLConfig  # noqa: E402
from infra.azureml.plan import build_plan, rest_bodies  # noqa: E402
from tests.tiny_rerankers import build_tiny_bert_reranker  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = REPO_ROOT / "infra" / "azureml" / "deploy.example.json"
WHERE = ["--subscription-id", SUBSCRIPTION, "--resource-group", RESOURCE_GROUP, "--workspace", WORKSPACE]

pytestmark = pytest.mark.filterwarnings("ignore:The `context` parameter is deprecated")


@pytest.fixture
def fake_client(monkeypatch: pytest.MonkeyPatch, fake_arm: FakeArm) -> FakeArm:
    real = apply.make_client
    monkeypatch.setattr(apply, "make_client", lambda target: real(target, credential=FakeCredential()))
    return fake_arm


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_invoke_payload_is_an_embeddings_body_or_with_a_query_a_rerank_body() -> None:
    assert invoke_payload(["a", "b"]) == {"input": ["a", "b"]}
    assert invoke_payload([]) == {"input": ["Hello from Azure ML"]}  # unchanged default
    assert invoke_payload(["d1", "d2"], "q") == {"query": "q", "documents": ["d1", "d2"]}
    assert invoke_payload(["d1", "d2"], "q", 1) == {"query": "q", "documents": ["d1", "d2"], "top_n": 1}
    for texts, query, top_n, message in [([], "q", None, "needs documents"), (["d"], " ", None, "empty"),
                                         (["d"], None, 2, "--top-n needs --query")]:  # fmt: skip
        with pytest.raises(ValueError, match=message):
            invoke_payload(texts, query, top_n)


def test_deploy_a_reranker_folder_and_invoke_it_with_a_query(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_client: FakeArm
) -> None:
    config = json.loads(EXAMPLE.read_text())
    config.update(endpoint_name="jina-rerank", model_path="azureml://datastores/workspaceblobstore/paths/reranker",
                  model_name="tiny-reranker")  # fmt: skip
    path = tmp_path / "deploy.json"
    path.write_text(json.dumps(config))
    code, out, err = run_cli(capsys, "deploy", "--config", str(path), *WHERE)
    assert code == 0, err
    assert out["endpoint_name"] == "jina-rerank" and out["traffic"] == {"blue": 100}
    deployment = fake_client.put_body("/onlineEndpoints/jina-rerank/deployments/blue")["properties"]
    assert deployment["readinessProbe"] and deployment["model"].endswith("/models/tiny-reranker/versions/1")

    documents = ["--text", "paris is the capital of france", "--text", "the river"]
    code, out, _ = run_cli(capsys, "invoke", "--config", str(path), *WHERE, "--query", "paris capital", *documents,
                           "--top-n", "1")  # fmt: skip
    assert code == 0
    assert fake_client.scoring_requests[-1].body == {
        "query": "paris capital", "documents": ["paris is the capital of france", "the river"], "top_n": 1,
    }  # fmt: skip
    assert out == {"model": "fake-reranker", "results": 1, "ranking": [{"index": 0, "relevance_score": 0.9}],
                   "usage": {"total_tokens": 7}}  # fmt: skip
    code, out, _ = run_cli(capsys, "invoke", "--config", str(path), *WHERE, "--query", "q", "--text", "d", "--raw")
    assert code == 0 and out["results"][0]["document"] == {"text": "d"}


def test_a_local_reranker_folder_plans_like_any_model_folder(tmp_path: Path) -> None:
    folder = build_tiny_bert_reranker(tmp_path / "tiny-reranker")
    cfg = AzureMLConfig.model_validate({**json.loads(EXAMPLE.read_text()), "model_path": str(folder)})
    bodies = rest_bodies(build_plan(cfg), "westeurope")
    env = bodies["environment"]["properties"]["inferenceConfig"]
    assert env["scoringRoute"]["path"] == "/invocations" and env["readinessRoute"]["path"] == "/ping"
    assert bodies["deployment"]["properties"]["model"].endswith("/models/all-minilm-l6-v2/versions/1")


def test_invoke_errors_are_bad_input(capsys: pytest.CaptureFixture[str], fake_client: FakeArm) -> None:
    code, _, err = run_cli(capsys, "invoke", "--config", str(EXAMPLE), *WHERE, "--query", "q")
    assert code == 2 and "--query needs documents" in err
    assert fake_client.scoring_requests == []
