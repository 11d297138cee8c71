"""A multi-vector (late-interaction) model, a classifier and a sparse (SPLADE) model through ``python -m
infra.sagemaker``: their kind read from a folder and from its packed archive, ``invoke --kind
multivector|classify|sparse`` (the body sent, against moto's canned answer and against the real server process serving
the tiny models, through boto3's sagemaker-runtime), and their batch transform jobs checked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sagemaker_testing import REGION

from infra.sagemaker import artifacts, transform
from infra.sagemaker.cli import classify_body, multivector_body, sparse_body
from marketplace.local_server import local_server
from tests.tiny_classifiers import MULTI_LABELS, build_multi_label_classifier
from tests.tiny_colbert import QUERY_LENGTH, WIDTH, build_pylate_colbert
from tests.tiny_sparse import build_tiny_splade

DOCS = ["paris is the capital of france", "the river", "bonjour le monde"]
TEXTS = [arg for doc in DOCS for arg in ("--text", doc)]


@pytest.fixture(scope="module")
def colbert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_pylate_colbert(tmp_path_factory.mktemp("tiny-colbert") / "colbert")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_multi_label_classifier(tmp_path_factory.mktemp("tiny-classifier") / "classifier")


@pytest.fixture(scope="module")
def splade(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_splade(tmp_path_factory.mktemp("tiny-splade") / "splade")


def _canned(aws, answer) -> None:
    results = {"region": REGION, "results": [{"Body": json.dumps(answer), "ContentType": "application/json"}]}
    requests.post(f"{aws.url}/moto-api/static/sagemaker/endpoint-results", json=results, timeout=10).raise_for_status()


def test_model_kind_of_folders_and_archives(colbert: Path, classifier: Path, splade: Path, tmp_path: Path) -> None:
    assert artifacts.model_kind(colbert) == "multivector" and artifacts.model_kind(classifier) == "classify"
    assert artifacts.model_kind(splade) == "sparse"
    for folder, kind in ((colbert, "multivector"), (classifier, "classify"), (splade, "sparse")):
        workdir = tmp_path / kind
        workdir.mkdir()
        archive = artifacts.pack_model(folder, workdir)  # a several-label classifier is packed, not refused
        assert archive.name == "model.tar.gz" and artifacts.model_kind(archive) == kind


def test_invoke_multivector_sends_a_multi_vector_body(cli, aws, boto) -> None:
    answer = {"object": "list", "model": "colbert", "usage": {"total_tokens": 5},
              "data": [{"object": "embeddings", "index": 0, "embeddings": [[0.6, 0.8], [1.0, 0.0], [0.0, 1.0]]}]}
    _canned(aws, answer)
    code, out, err = cli(["invoke", "--endpoint-name", "colbert", "--kind", "multivector", "--input-type", "query",
                          "--dimensions", "2", "--text", "a query"])  # fmt: skip
    assert code == 0, err
    assert out["inputs"] == [{"index": 0, "tokens": 3, "dimensions": 2}]
    assert out["embeddings"] == [answer["data"][0]["embeddings"]] and out["usage"] == {"total_tokens": 5}
    (sent,) = boto.calls.bodies("InvokeEndpoint")
    assert sent == multivector_body(["a query"], "query", None, 2) == {"input": ["a query"], "input_type": "query",
                                                                       "dimensions": 2}  # fmt: skip


def test_invoke_classify_sends_a_classify_body(cli, aws, boto) -> None:
    entry = {"object": "classification", "index": 0, "prediction": "pos", "score": 0.9,
             "predictions": [{"label": "neg", "score": 0.1}, {"label": "pos", "score": 0.9}]}  # fmt: skip
    _canned(aws, {"usage": {"total_tokens": 4}, "data": [entry]})
    code, out, err = cli(["invoke", "--endpoint-name", "classifier", "--kind", "classify", "--text", "great"])
    assert code == 0, err
    assert out == {"usage": {"total_tokens": 4}, "data": [entry]}
    (sent,) = boto.calls.bodies("InvokeEndpoint")
    assert sent == classify_body(["great"]) == {"input": ["great"]}


def test_invoke_sparse_sends_a_sparse_body(cli, aws, boto) -> None:
    answer = [[{"index": 2003, "value": 0.5}, {"index": 7592, "value": 1.25}], [{"index": 101, "value": 0.1}]]
    _canned(aws, answer)
    code, out, err = cli(["invoke", "--endpoint-name", "splade", "--kind", "sparse", "--text", "hello", "--text", "x"])
    assert code == 0, err
    assert out == {"inputs": [{"index": 0, "nonzero": 2}, {"index": 1, "nonzero": 1}], "embeddings": answer}
    (sent,) = boto.calls.bodies("InvokeEndpoint")
    assert sent == sparse_body(["hello", "x"]) == {"inputs": ["hello", "x"]}


@pytest.mark.parametrize(("argv", "message"), [
    (["--kind", "classify", "--query", "q"], "--query ranks documents"),
    (["--kind", "embedding", "--query", "q"], "--query ranks documents"),
    (["--kind", "rerank"], "--kind rerank needs --query"),
    (["--input-type", "query"], "--input-type is for --kind multivector"),
    (["--kind", "multivector", "--query", "q", "--input-type", "query"], "--input-type is for --kind multivector"),
    (["--kind", "classify", "--dimensions", "8"], "--kind classify takes only texts"),
    (["--kind", "sparse", "--query", "q"], "--query ranks documents"),
    (["--kind", "sparse", "--input-type", "query"], "--input-type is for --kind multivector"),
    (["--kind", "sparse", "--embedding-type", "base64"], "--kind sparse takes only texts"),
    (["--kind", "sparse", "--async-input-s3", "s3://b/p"], "--async-input-s3 sends embedding requests"),
    (["--kind", "multivector", "--async-input-s3", "s3://b/p"], "--async-input-s3 sends embedding requests"),
])  # fmt: skip
def test_invoke_refuses_flags_of_another_kind(cli, aws, boto, argv: list[str], message: str) -> None:
    code, _, err = cli(["invoke", "--endpoint-name", "e", "--text", "d", *argv])
    assert code == 2 and message in err
    assert boto.calls.calls == []


def test_a_wrong_answer_names_the_kind(cli, aws) -> None:
    _canned(aws, {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.1]}]})
    code, _, err = cli(["invoke", "--endpoint-name", "e", "--kind", "classify", "--text", "d"])
    assert code == 2 and "is it a classifier?" in err
    _canned(aws, [{"label": "pos", "score": 0.9}])  # a TEI classification is no sparse answer
    code, _, err = cli(["invoke", "--endpoint-name", "e", "--kind", "sparse", "--text", "d"])
    assert code == 2 and "is it a sparse model?" in err


# -- against the real server process (the container stand-in) ----------------------------------------------------
@pytest.fixture(scope="module")
def colbert_url(colbert: Path) -> Iterator[str]:
    with local_server({"MODEL_DIR": str(colbert)}) as url:
        yield url


@pytest.fixture(scope="module")
def classifier_url(classifier: Path) -> Iterator[str]:
    with local_server({"MODEL_DIR": str(classifier)}) as url:
        yield url


@pytest.fixture(scope="module")
def splade_url(splade: Path) -> Iterator[str]:
    with local_server({"MODEL_DIR": str(splade)}) as url:
        yield url


def test_invoke_a_multi_vector_model_through_the_real_server(cli, aws, colbert_url: str) -> None:
    base = ["invoke", "--endpoint-name", "colbert", "--endpoint-url", colbert_url, *TEXTS]
    code, out, err = cli([*base, "--kind", "multivector", "--input-type", "query"])
    assert code == 0, err
    assert [item["tokens"] for item in out["inputs"]] == [QUERY_LENGTH] * len(DOCS)  # queries: expanded
    assert {item["dimensions"] for item in out["inputs"]} == {WIDTH}
    code, out, err = cli([*base, "--kind", "multivector"])  # documents: their own tokens, punctuation left out
    assert code == 0, err
    assert all(0 < item["tokens"] for item in out["inputs"]) and {item["dimensions"] for item in out["inputs"]} == {
        WIDTH}  # fmt: skip
    code, out, err = cli([*base, "--query", "paris capital", "--top-n", "2"])  # MaxSim through /invocations
    assert code == 0, err
    scores = [result["relevance_score"] for result in out["results"]]
    assert len(scores) == 2 and scores == sorted(scores, reverse=True)


def test_invoke_a_classifier_through_the_real_server(cli, aws, classifier_url: str) -> None:
    base = ["invoke", "--endpoint-name", "classifier", "--endpoint-url", classifier_url, *TEXTS]
    code, out, err = cli([*base, "--kind", "classify"])
    assert code == 0, err
    assert [entry["index"] for entry in out["data"]] == list(range(len(DOCS)))
    for entry in out["data"]:
        assert [item["label"] for item in entry["predictions"]] == list(MULTI_LABELS)
    # An embeddings invoke on a classifier is refused by the container (400 wrong_model_kind): exit 1.
    code, _, err = cli(["invoke", "--endpoint-name", "classifier", "--endpoint-url", classifier_url, "--text", "x"])
    assert code == 1 and "400" in err


def test_invoke_a_sparse_model_through_the_real_server(cli, aws, splade_url: str) -> None:
    base = ["invoke", "--endpoint-name", "splade", "--endpoint-url", splade_url, *TEXTS]
    code, out, err = cli([*base, "--kind", "sparse"])
    assert code == 0, err
    assert [item["index"] for item in out["inputs"]] == list(range(len(DOCS)))
    assert [item["nonzero"] for item in out["inputs"]] == [len(entries) for entries in out["embeddings"]]
    for entries in out["embeddings"]:
        indices = [entry["index"] for entry in entries]
        assert entries and indices == sorted(indices) and all(entry["value"] > 0 for entry in entries)
    # An embeddings invoke on a sparse model is refused by the container (400 wrong_model_kind): exit 1.
    code, _, err = cli(["invoke", "--endpoint-name", "splade", "--endpoint-url", splade_url, "--text", "x"])
    assert code == 1 and "400" in err


# -- batch transform ---------------------------------------------------------------------------------------------
def test_batch_transform_kinds(cli, boto) -> None:
    assert transform.KINDS == ("embedding", "rerank", "multivector", "classify", "sparse")
    base = ["batch-transform", "--model-name", "m-v1", "--input", "s3://in/", "--output", "s3://out/", "--dry-run"]
    code, out, err = cli([*base, "--kind", "classify"])
    assert code == 0, err
    params = out[0]["params"]
    assert params["TransformInput"]["ContentType"] == params["TransformOutput"]["Accept"] == "application/jsonlines"
    assert "EMB_RECORD_OPTIONS" not in params["Environment"]
    code, _, err = cli([*base, "--kind", "classify", "--content-type", "text/csv"])
    assert code == 2 and "a classifier's records are JSON Lines classify requests" in err
    code, _, err = cli([*base, "--kind", "classify", "--record-options", '{"raw_scores": true}'])
    assert code == 2 and "a classifier takes no record_options" in err
    # A multi-vector model's records are texts: CSV, and options for every record (here: encode them as queries).
    code, out, err = cli([*base, "--kind", "multivector", "--content-type", "text/csv", "--record-options",
                          '{"input_type": "query"}'])  # fmt: skip
    assert code == 0, err
    params = out[0]["params"]
    assert params["TransformInput"]["ContentType"] == "text/csv"
    assert json.loads(params["Environment"]["EMB_RECORD_OPTIONS"]) == {"input_type": "query"}
    # A sparse model's records are texts too (CSV or JSON Lines), each with its own options: no --record-options.
    code, out, err = cli([*base, "--kind", "sparse", "--content-type", "text/csv"])
    assert code == 0, err
    params = out[0]["params"]
    assert params["TransformInput"]["ContentType"] == "text/csv" and "EMB_RECORD_OPTIONS" not in params["Environment"]
    code, _, err = cli([*base, "--kind", "sparse", "--record-options", '{"truncate": true}'])
    assert code == 2 and "a sparse model takes no record_options" in err
    assert boto.calls.calls == []  # nothing was sent
