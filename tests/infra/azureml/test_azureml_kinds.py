"""A multi-vector (late-interaction) model, a classifier and a sparse (SPLADE) model on Azure ML: ``invoke --kind
multivector|classify|sparse`` sends the body of that kind (what the container answers on its scoring route with such
a model loaded) and summarises the answer; ``--query`` also ranks with a multi-vector model (MaxSim)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.ai.ml", reason="azure-ai-ml is not installed (pip install -e .[infra])")

from azureml_fakes import RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE, FakeArm, FakeCredential  # noqa: E402

from infra.azureml import apply  # noqa: E402
from infra.azureml.__main__ import _summarise, invoke_payload, main  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = REPO_ROOT / "infra" / "azureml" / "deploy.example.json"
WHERE = ["--subscription-id", SUBSCRIPTION, "--resource-group", RESOURCE_GROUP, "--workspace", WORKSPACE]

pytestmark = pytest.mark.filterwarnings("ignore:The `context` parameter is deprecated")


def test_invoke_payload_of_each_kind() -> None:
    assert invoke_payload(["a"], kind="multivector") == {"input": ["a"]}
    assert invoke_payload(["a"], kind="multivector", input_type="query") == {"input": ["a"], "input_type": "query"}
    assert invoke_payload(["d1", "d2"], "q", 1, kind="multivector") == {"query": "q", "documents": ["d1", "d2"],
                                                                        "top_n": 1}  # fmt: skip
    assert invoke_payload(["a", "b"], kind="classify") == {"input": ["a", "b"]}
    assert invoke_payload(["a", "b"], kind="sparse") == {"inputs": ["a", "b"]}  # TEI's /embed_sparse body
    assert invoke_payload(["a"], kind="embedding") == invoke_payload(["a"]) == {"input": ["a"]}
    for kwargs, message in [
        ({"query": "q", "kind": "classify"}, "--query ranks documents"),
        ({"kind": "rerank"}, "--kind rerank needs --query"),
        ({"input_type": "query"}, "--input-type is for --kind multivector"),
        ({"query": "q", "kind": "multivector", "input_type": "query"}, "--input-type is for --kind multivector"),
        ({"query": "q", "kind": "sparse"}, "--query ranks documents"),
        ({"kind": "sparse", "input_type": "query"}, "--input-type is for --kind multivector"),
        ({"kind": "sparse", "top_n": 1}, "--top-n needs --query"),
    ]:  # fmt: skip
        with pytest.raises(ValueError, match=message):
            invoke_payload(["d"], **kwargs)


def test_summaries_of_each_kind() -> None:
    multivector = {"object": "list", "model": "colbert", "usage": {"total_tokens": 9},
                   "data": [{"object": "embeddings", "index": 0, "embeddings": [[0.6, 0.8], [1.0, 0.0]]},
                            {"object": "embeddings", "index": 1, "embeddings": [[0.0, 1.0]]}]}  # fmt: skip
    assert _summarise(multivector) == {"model": "colbert", "usage": {"total_tokens": 9}, "multi_vector": [
        {"index": 0, "tokens": 2, "dimensions": 2}, {"index": 1, "tokens": 1, "dimensions": 2}]}  # fmt: skip
    classify = {"usage": {"total_tokens": 4}, "data": [
        {"object": "classification", "index": 0, "prediction": "pos", "score": 0.9,
         "predictions": [{"label": "neg", "score": 0.1}, {"label": "pos", "score": 0.9}]}]}  # fmt: skip
    assert _summarise(classify) == {"classifications": [{"index": 0, "prediction": "pos", "score": 0.9}],
                                    "usage": {"total_tokens": 4}}  # fmt: skip
    embeddings = {"object": "list", "model": "m", "data": [{"object": "embedding", "index": 0, "embedding": [0.1]}],
                  "usage": {"total_tokens": 1}}  # fmt: skip
    assert _summarise(embeddings) == {"model": "m", "embeddings": 1, "dimensions": 1, "usage": {"total_tokens": 1}}
    sparse = [[{"index": 2003, "value": 0.5}, {"index": 7592, "value": 1.25}], []]
    assert _summarise(sparse) == {"sparse": [{"index": 0, "nonzero": 2, "top": {"index": 7592, "value": 1.25}},
                                             {"index": 1, "nonzero": 0, "top": None}]}  # fmt: skip
    tei_labels = [[{"label": "pos", "score": 0.9}]]  # a TEI classification is no sparse answer
    assert "sparse" not in _summarise(tei_labels)


@pytest.fixture
def fake_client(monkeypatch: pytest.MonkeyPatch, fake_arm: FakeArm) -> FakeArm:
    real = apply.make_client
    monkeypatch.setattr(apply, "make_client", lambda target: real(target, credential=FakeCredential()))
    return fake_arm


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_invoke_sends_the_kinds_bodies(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       fake_client: FakeArm) -> None:  # fmt: skip
    config = tmp_path / "deploy.json"
    config.write_text(json.dumps({**json.loads(EXAMPLE.read_text()), "endpoint_name": "colbert"}))
    code, _, err = _run(capsys, "deploy", "--config", str(config), *WHERE)
    assert code == 0, err
    base = ["invoke", "--config", str(config), *WHERE, "--text", "first", "--text", "second"]
    code, _, err = _run(capsys, *base, "--kind", "multivector", "--input-type", "query")
    assert code == 0, err
    assert fake_client.scoring_requests[-1].body == {"input": ["first", "second"], "input_type": "query"}
    code, _, err = _run(capsys, *base, "--kind", "multivector", "--query", "q")
    assert code == 0, err
    assert fake_client.scoring_requests[-1].body == {"query": "q", "documents": ["first", "second"]}
    code, _, err = _run(capsys, *base, "--kind", "classify")
    assert code == 0, err
    assert fake_client.scoring_requests[-1].body == {"input": ["first", "second"]}
    code, out, err = _run(capsys, *base, "--kind", "sparse")
    assert code == 0, err
    assert fake_client.scoring_requests[-1].body == {"inputs": ["first", "second"]}
    assert out == {"sparse": [{"index": 0, "nonzero": 1, "top": {"index": 7, "value": 0.5}},
                              {"index": 1, "nonzero": 1, "top": {"index": 8, "value": 0.5}}]}  # fmt: skip
    sent = len(fake_client.scoring_requests)
    code, _, err = _run(capsys, *base, "--kind", "classify", "--query", "q")
    assert code == 2 and "--query ranks documents" in err and len(fake_client.scoring_requests) == sent
    code, _, err = _run(capsys, *base, "--kind", "sparse", "--input-type", "query")
    assert code == 2 and "--input-type is for --kind multivector" in err and len(fake_client.scoring_requests) == sent
