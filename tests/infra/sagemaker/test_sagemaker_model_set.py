"""A model set (several model folders, or a models.json manifest) through ``python -m infra.sagemaker``: packed as one
model.tar.gz from its root (each model under its folder, the manifest beside them), its models and kinds read from the
folder and from the archive, deployed from ``--model-source``, and ``invoke --model NAME`` sending the JSON body's
``model`` (against moto's canned answer, and against the real server process serving the extracted archive)."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sagemaker_testing import IMAGE, REGION, ROLE

from infra.sagemaker import artifacts
from infra.sagemaker.cli import classify_body, rerank_body
from marketplace.local_server import local_server
from tests.tiny_classifiers import build_multi_label_classifier
from tests.tiny_models import build_tiny_st_bert
from tests.tiny_rerankers import build_tiny_bert_reranker

DEPLOY = ["deploy", "--endpoint-name", "stack", "--image-uri", IMAGE, "--role-arn", ROLE, "--poll-interval", "0",
          "--instance-type", "ml.g4dn.xlarge"]  # fmt: skip
QUERY = "paris capital"
DOCS = ["the river", "paris is the capital of france"]


@pytest.fixture(scope="module")
def model_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("model-set")
    build_tiny_st_bert(root / "embedder")
    build_tiny_bert_reranker(root / "reranker")
    (root / "notes.txt").write_text("not a model: left out")
    return root


def _canned(aws, answer) -> None:
    results = {"region": REGION, "results": [{"Body": json.dumps(answer), "ContentType": "application/json"}]}
    requests.post(f"{aws.url}/moto-api/static/sagemaker/endpoint-results", json=results, timeout=10).raise_for_status()


def test_a_set_root_is_packed_and_read_back(model_set: Path, tmp_path: Path) -> None:
    assert [(m.name, m.path, m.kind) for m in artifacts.models(model_set)] == [
        ("embedder", "embedder", "embedding"), ("reranker", "reranker", "rerank")]  # fmt: skip
    archive = artifacts.pack_model(model_set, tmp_path)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert {"embedder/config.json", "embedder/model.safetensors", "reranker/config.json"} <= set(names)
    assert "notes.txt" not in names and "config.json" not in names  # the models only, each under its folder
    held = artifacts.models(archive)
    assert [(m.name, m.kind) for m in held] == [("embedder", "embedding"), ("reranker", "rerank")]
    assert all(m.size > 0 and m.files > 1 for m in held)
    assert artifacts.model_kind(archive) == "embedding"  # the first model's: what /invocations answers by default
    assert artifacts.describe(archive) == "set of 2 models: embedder (embedding), reranker (rerank)"


def test_a_manifest_set_keeps_its_names_order_and_handlers(model_set: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    for name in ("embedder", "reranker"):
        (root / name).symlink_to(model_set / name, target_is_directory=True)  # linked folders: packed as files
    build_multi_label_classifier(root / "group" / "classifier")
    manifest = {"models": [{"name": "jina-reranker", "path": "reranker"},
                           {"name": "clf", "path": "group/classifier", "handler": "classify"},
                           {"name": "jina-embeddings", "path": "embedder"}]}  # fmt: skip
    (root / "models.json").write_text(json.dumps(manifest))
    workdir = tmp_path / "out"
    workdir.mkdir()
    archive = artifacts.pack_model(root, workdir)
    with tarfile.open(archive) as tar:
        assert tar.getmember("reranker/config.json").isfile() and tar.getmember("models.json").isfile()
        assert tar.getmember("group/classifier/config.json").isfile()
    expected = [("jina-reranker", "reranker", "rerank"), ("clf", "group/classifier", "classify"),
                ("jina-embeddings", "embedder", "embedding")]  # fmt: skip
    assert [(m.name, m.path, m.kind) for m in artifacts.models(archive)] == expected
    assert [(m.name, m.path, m.kind) for m in artifacts.models(root)] == expected


def test_a_bad_manifest_is_refused_with_the_servers_reason(model_set: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "embedder").symlink_to(model_set / "embedder", target_is_directory=True)
    (root / "models.json").write_text(json.dumps({"models": [{"name": "e", "path": "../embedder"}]}))
    with pytest.raises(ValueError, match=r"model 'e' path '../embedder' is not a model folder"):
        artifacts.pack_model(root, tmp_path)
    (root / "models.json").write_text(json.dumps({"models": [{"name": "e", "path": "embedder"}] * 2}))
    with pytest.raises(ValueError, match="model names must be unique"):
        artifacts.pack_model(root, tmp_path)


def test_deploy_packs_and_uploads_a_set(cli, boto, sm, model_set: Path) -> None:
    s3 = boto.client("s3")
    s3.create_bucket(Bucket="models")
    code, out, err = cli([*DEPLOY, "--model-source", str(model_set), "--upload-s3", "s3://models/stack"])
    assert code == 0, err
    assert "(set of 2 models: embedder (embedding), reranker (rerank))" in err
    container = sm.describe_model(ModelName=out["ModelName"])["PrimaryContainer"]
    bucket, key = artifacts.parse_s3(container["ModelDataUrl"])
    archive = tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
    assert {"embedder/config.json", "reranker/config.json"} <= set(archive.getnames())


def test_invoke_names_the_model_in_the_json_body(cli, aws, boto) -> None:
    _canned(aws, {"model": "reranker", "usage": {"total_tokens": 3}, "results": [{"index": 1, "relevance_score": 0.9}]})
    argv = ["invoke", "--endpoint-name", "stack", "--model", "reranker", "--query", QUERY]
    code, _, err = cli([*argv, "--text", DOCS[0], "--text", DOCS[1]])
    assert code == 0, err
    _canned(aws, {"usage": {"total_tokens": 1}, "data": [{"index": 0, "prediction": "a", "predictions": []}]})
    code, _, err = cli(["invoke", "--endpoint-name", "stack", "--model", "clf", "--kind", "classify", "--text", "x"])
    assert code == 0, err
    rerank, classify = boto.calls.bodies("InvokeEndpoint")
    assert rerank == rerank_body(QUERY, DOCS, model="reranker") == {"query": QUERY, "documents": DOCS,
                                                                     "model": "reranker"}  # fmt: skip
    assert classify == classify_body(["x"], "clf") == {"input": ["x"], "model": "clf"}


def test_invoke_refuses_a_model_name_for_a_tei_body(cli, aws, boto) -> None:
    code, _, err = cli(["invoke", "--endpoint-name", "stack", "--model", "splade", "--kind", "sparse", "--text", "x"])
    assert code == 2 and "no X-Model header" in err
    assert boto.calls.bodies("InvokeEndpoint") == []


@pytest.fixture(scope="module")
def set_url(model_set: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real server process serving the set's archive extracted as SageMaker extracts it into /opt/ml/model."""
    workdir = tmp_path_factory.mktemp("packed")
    extracted = tmp_path_factory.mktemp("opt-ml-model")
    with tarfile.open(artifacts.pack_model(model_set, workdir)) as tar:
        tar.extractall(extracted, filter="data")
    with local_server({"MODEL_DIR": str(extracted)}) as url:
        yield url


def test_invoke_reaches_each_model_of_the_served_set(cli, aws, set_url: str) -> None:
    base = ["invoke", "--endpoint-name", "stack", "--endpoint-url", set_url]
    code, out, err = cli([*base, "--model", "reranker", "--query", QUERY, "--text", DOCS[0], "--text", DOCS[1]])
    assert code == 0, err
    assert out["model"] == "reranker" and len(out["results"]) == 2
    code, out, err = cli([*base, "--model", "embedder", "--text", "hello"])
    assert code == 0, err
    assert out["shape"][0] == 1
    code, out, err = cli([*base, "--text", "hello"])  # no name: /invocations gives an embedding body the first model
    assert code == 0, err
    code, _, err = cli([*base, "--model", "nope", "--text", "hello"])
    assert code == 1 and "404" in err  # an unknown name: the server lists the served ones
