"""A reranker through ``python -m infra.sagemaker``: deployed from a local folder (packed by container/pack_model.py,
uploaded to moto's S3), invoked with ``--query`` (against moto's canned answer and against the real server process
serving a tiny cross-encoder, through boto3's sagemaker-runtime), and a reranker's batch transform checked."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
from sagemaker_testing import IMAGE, REGION, ROLE

from infra.sagemaker import artifacts
from infra.sagemaker.cli import rerank_body
from marketplace.local_server import local_server
from tests.tiny_rerankers import build_tiny_bert_reranker

BASE = ["--image-uri", IMAGE, "--role-arn", ROLE, "--poll-interval", "0"]
DEPLOY = ["deploy", "--endpoint-name", "rerank", *BASE, "--instance-type", "ml.g4dn.xlarge"]
QUERY = "paris capital"
DOCS = ["the river", "paris is the capital of france", "bonjour le monde"]


@pytest.fixture(scope="module")
def reranker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert_reranker(tmp_path_factory.mktemp("tiny-reranker"))


@pytest.fixture(scope="module")
def rerank_url(reranker: Path) -> Iterator[str]:
    """The real server process with the reranker: it also answers ``POST /endpoints/<name>/invocations``."""
    with local_server({"MODEL_DIR": str(reranker)}) as url:
        yield url


def test_model_kind_of_a_folder_and_of_an_archive(reranker: Path, model_folder: Path, tmp_path: Path) -> None:
    assert artifacts.model_kind(reranker) == "rerank" and artifacts.model_kind(model_folder) == "embedding"
    archive = artifacts.pack_model(reranker, tmp_path)
    assert archive.name == "model.tar.gz" and artifacts.model_kind(archive) == "rerank"
    assert artifacts.model_kind(artifacts.pack_model(model_folder, tmp_path)) == "embedding"


def test_deploy_packs_and_uploads_a_reranker_folder(cli, boto, sm, reranker: Path) -> None:
    s3 = boto.client("s3")
    s3.create_bucket(Bucket="models")
    code, out, err = cli([*DEPLOY, "--model-source", str(reranker), "--upload-s3", "s3://models/rr"])
    assert code == 0, err
    assert out["EndpointStatus"] == "InService" and "(rerank model)" in err
    container = sm.describe_model(ModelName=out["ModelName"])["PrimaryContainer"]
    bucket, key = artifacts.parse_s3(container["ModelDataUrl"])
    archive = tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
    names = archive.getnames()
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(names)  # at the archive root
    config = json.load(archive.extractfile("config.json"))  # type: ignore[arg-type]
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert container["Image"] == IMAGE  # the same image as for embedding models


def test_invoke_with_a_query_sends_a_rerank_body(cli, aws, boto) -> None:
    answer = {"model": "rr", "usage": {"total_tokens": 9},
              "results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.2}]}  # fmt: skip
    results = {"region": REGION, "results": [{"Body": json.dumps(answer), "ContentType": "application/json"}]}
    requests.post(f"{aws.url}/moto-api/static/sagemaker/endpoint-results", json=results, timeout=10).raise_for_status()
    code, out, err = cli(["invoke", "--endpoint-name", "rerank", "--query", QUERY, "--text", DOCS[0], "--text",
                          DOCS[1], "--top-n", "2"])  # fmt: skip
    assert code == 0, err
    assert out == answer
    (sent,) = boto.calls.bodies("InvokeEndpoint")
    assert sent == rerank_body(QUERY, DOCS[:2], 2) == {"query": QUERY, "documents": DOCS[:2], "top_n": 2}


def test_invoke_refuses_bad_rerank_input(cli, aws) -> None:
    code, _, err = cli(["invoke", "--endpoint-name", "rerank", "--query", " ", "--text", "d"])
    assert code == 2 and "--query is empty" in err
    code, _, err = cli(["invoke", "--endpoint-name", "emb", "--text", "d", "--top-n", "1"])
    assert code == 2 and "--top-n needs --query" in err


def test_invoke_ranks_through_the_real_server(cli, aws, reranker: Path, rerank_url: str) -> None:
    """boto3 sagemaker-runtime -> the server process serving the tiny cross-encoder (the container stand-in)."""
    st = pytest.importorskip("sentence_transformers")
    expected = np.asarray(st.CrossEncoder(str(reranker), device="cpu").predict([(QUERY, d) for d in DOCS]))
    argv = ["invoke", "--endpoint-name", "rerank", "--endpoint-url", rerank_url, "--query", QUERY]
    code, out, err = cli([*argv, *(arg for doc in DOCS for arg in ("--text", doc))])
    assert code == 0, err
    scores = [r["relevance_score"] for r in out["results"]]
    assert scores == sorted(scores, reverse=True) and out["usage"]["total_tokens"] > 0
    np.testing.assert_allclose(scores, expected[[r["index"] for r in out["results"]]], atol=1e-5)
    # An embeddings invoke on a reranker is refused by the container (400 wrong_model_kind): exit 1.
    code, _, err = cli(["invoke", "--endpoint-name", "rerank", "--endpoint-url", rerank_url, "--text", "x"])
    assert code == 1 and "400" in err


def test_batch_transform_for_a_reranker(cli, boto) -> None:
    argv = ["batch-transform", "--model-name", "rerank-v1", "--input", "s3://in/", "--output", "s3://out/",
            "--kind", "rerank", "--dry-run"]  # fmt: skip
    code, out, err = cli(argv)
    assert code == 0, err
    params = out[0]["params"]
    assert params["TransformInput"]["ContentType"] == params["TransformOutput"]["Accept"] == "application/jsonlines"
    assert params["TransformInput"]["SplitType"] == "Line" and "EMB_RECORD_OPTIONS" not in params["Environment"]
    code, _, err = cli([*argv, "--content-type", "text/csv"])
    assert code == 2 and "JSON Lines rerank requests" in err
    code, _, err = cli([*argv, "--record-options", '{"top_n": 3}'])
    assert code == 2 and "no record_options" in err
    assert boto.calls.calls == []  # nothing was sent
