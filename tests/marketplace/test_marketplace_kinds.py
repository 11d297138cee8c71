"""A multi-vector (late-interaction) model, a classifier and a sparse (SPLADE) model through the Marketplace tooling:
the model package request of each kind (content types, the validation job on the kind's sample records), the kind
read from the baked folder, the sample bodies read by the server's own parsers, and the samples answered by the server
code serving tiny models (in-process, through the Batch Transform data plane for the batch files)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from marketplace_testing import MARKETPLACE, REGION
from pydantic import ValidationError

from inference.endpoints.classify.records import decode_classify_records
from inference.endpoints.classify.schema import parse_classify_request
from inference.endpoints.multivector.invoke import is_rerank_body
from inference.endpoints.multivector.records import decode_multivector_records
from inference.endpoints.multivector.schema import parse_multivector_request
from inference.endpoints.rerank.schema import parse_rerank_request
from inference.endpoints.sparse.records import decode_sparse_records
from inference.endpoints.sparse.schema import parse_sparse_request
from inference.mime import CSV, JSON, JSONLINES
from marketplace import generate_samples as gs
from marketplace import model_package as mp
from tests.tiny_classifiers import (
    MULTI_LABELS,
    SINGLE_LABELS,
    build_multi_label_classifier,
    build_single_label_classifier,
)
from tests.tiny_colbert import WIDTH, build_pylate_colbert
from tests.tiny_sparse import build_tiny_splade

EMBED_EXAMPLE = MARKETPLACE / "package.example.json"
EXAMPLES = {"multivector": MARKETPLACE / "package.multivector.example.json",
            "classify": MARKETPLACE / "package.classify.example.json",
            "sparse": MARKETPLACE / "package.sparse.example.json"}  # fmt: skip
# kind -> (content types declared, validation input file)
DECLARED = {"multivector": ([JSON, JSONLINES, CSV], "input/batch/texts.jsonl"),
            "classify": ([JSON, JSONLINES], "input/batch/classify.jsonl"),
            "sparse": ([JSON, JSONLINES, CSV], "input/batch/texts.jsonl")}  # fmt: skip
MAX_INPUTS = 2048


@pytest.fixture(scope="module")
def colbert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_pylate_colbert(tmp_path_factory.mktemp("tiny-colbert") / "colbert")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_single_label_classifier(tmp_path_factory.mktemp("tiny-classifier") / "classifier")


@pytest.fixture(scope="module")
def splade(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_splade(tmp_path_factory.mktemp("tiny-splade") / "splade")


# -- the package request ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_each_example_declares_its_content_types_and_validates_on_its_records(kind: str) -> None:
    cfg = mp.load_config(EXAMPLES[kind])
    content_types, input_file = DECLARED[kind]
    assert cfg.kind == kind and cfg.validation.input_file == input_file  # the kind's default validation file
    assert cfg.samples == gs.DATA_BY_KIND[kind] == MARKETPLACE / f"data-{kind}"
    assert (cfg.samples / cfg.validation.input_file).is_file()
    request = mp.build_request(cfg)
    mp.validate_request(request)
    spec = request["InferenceSpecification"]
    assert spec["SupportedContentTypes"] == content_types
    assert spec["SupportedResponseMIMETypes"] == [JSON, JSONLINES]
    job = request["ValidationSpecification"]["ValidationProfiles"][0]["TransformJobDefinition"]
    assert job["TransformInput"]["ContentType"] == job["TransformOutput"]["Accept"] == JSONLINES
    assert job["TransformInput"]["SplitType"] == "Line" and job["TransformOutput"]["AssembleWith"] == "Line"


def test_a_classifier_package_refuses_a_csv_validation_file_and_multi_vector_and_sparse_ones_take_it() -> None:
    raw = json.loads(EXAMPLES["classify"].read_text())
    raw["validation"]["input_file"] = "input/batch/texts.csv"
    with pytest.raises(ValidationError, match="classify model does not take text/csv"):
        mp.PackageConfig.model_validate(raw)
    for kind in ("multivector", "sparse"):
        raw = json.loads(EXAMPLES[kind].read_text())
        raw["validation"]["input_file"] = "input/batch/texts.csv"
        cfg = mp.PackageConfig.model_validate(raw)
        job = mp.build_request(cfg)["ValidationSpecification"]["ValidationProfiles"][0]["TransformJobDefinition"]
        assert job["TransformInput"]["ContentType"] == CSV and (cfg.samples / "input/batch/texts.csv").is_file()


def test_the_kind_of_a_folder_is_the_servers(colbert: Path, splade: Path, tmp_path: Path) -> None:
    multi_label = build_multi_label_classifier(tmp_path / "multi-label")
    assert mp.model_kind(colbert) == gs.sample_kind(colbert) == "multivector"
    assert mp.model_kind(multi_label) == gs.sample_kind(multi_label) == "classify"
    assert mp.model_kind(splade) == gs.sample_kind(splade) == "sparse"


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_model_dir_sets_the_kind(kind: str, colbert: Path, classifier: Path, splade: Path, tmp_path: Path,
                                 capsys) -> None:  # fmt: skip
    folder = {"multivector": colbert, "classify": classifier, "sparse": splade}[kind]
    raw = json.loads(EMBED_EXAMPLE.read_text())
    raw.pop("kind", None)
    raw["validation"].pop("input_file")
    config = tmp_path / "package.json"
    config.write_text(json.dumps(raw))
    assert mp.main(["--config", str(config), "--model-dir", str(folder), "--dry-run"]) == 0
    request = json.loads(capsys.readouterr().out)
    assert request["InferenceSpecification"]["SupportedContentTypes"] == DECLARED[kind][0]
    cfg = mp.load_config(config, folder)
    assert cfg.kind == kind and cfg.validation.input_file == DECLARED[kind][1]
    other = EXAMPLES["classify" if kind == "multivector" else "multivector"]
    assert mp.main(["--config", str(other), "--model-dir", str(folder), "--dry-run"]) == 2
    assert f"holds a {kind} model" in capsys.readouterr().err


def test_cli_creates_every_package_and_uploads_its_records(aws, moto_url, capsys) -> None:
    aws.s3.create_bucket(Bucket="my-seller-bucket")
    for kind, example in EXAMPLES.items():
        cfg = mp.load_config(example)
        code = mp.main(["--config", str(example), "--region", REGION, "--endpoint-url", moto_url,
                        "--s3-endpoint-url", moto_url, "--upload-validation-input", "--interval-s", "0"])  # fmt: skip
        out = capsys.readouterr()
        assert code == 0, out.err
        described = aws.sagemaker.describe_model_package(ModelPackageName=cfg.name)
        assert described["InferenceSpecification"]["SupportedContentTypes"] == DECLARED[kind][0]
        bucket, key = cfg.validation_input_key
        assert key == f"marketplace/validation-{kind}/input/" + Path(DECLARED[kind][1]).name
        assert aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read() == (cfg.samples / cfg.validation.input_file
                                                                              ).read_bytes()  # fmt: skip


# -- the samples, read by the server's parsers -------------------------------------------------------------------
def test_every_multi_vector_sample_is_a_request_the_container_reads() -> None:
    data = gs.DATA_BY_KIND["multivector"]
    bodies = {path.name: json.loads(path.read_text()) for path in (data / "input" / "real-time").glob("*.json")}
    assert len(bodies) >= 3
    reranks = [name for name, body in bodies.items() if is_rerank_body(body)]
    assert reranks == ["rerank.json"]  # MaxSim through /invocations
    parse_rerank_request(bodies["rerank.json"])
    input_types = {parse_multivector_request(body, max_inputs=MAX_INPUTS).request.input_type
                   for name, body in bodies.items() if name not in reranks}  # fmt: skip
    assert input_types == {"query", "document"}
    for name, mime in (("texts.jsonl", JSONLINES), ("texts.csv", CSV)):
        body = (data / "input" / "batch" / name).read_bytes()
        records = decode_multivector_records(body, mime, {}, MAX_INPUTS)
        assert len(records) == len(body.decode().splitlines()) >= 3


def test_every_classify_sample_is_a_request_the_container_reads() -> None:
    data = gs.DATA_BY_KIND["classify"]
    shapes = {parse_classify_request(json.loads(path.read_text()), "auto", MAX_INPUTS).shape
              for path in (data / "input" / "real-time").glob("*.json")}  # fmt: skip
    assert shapes == {"jina", "tei"}
    body = (data / "input" / "batch" / "classify.jsonl").read_bytes()
    records = decode_classify_records(body, JSONLINES, "auto", MAX_INPUTS)
    assert len(records) == len(body.decode().splitlines()) >= 3
    assert {call.shape for _, call in records} == {"jina", "tei"}


def test_every_sparse_sample_is_a_request_the_container_reads() -> None:
    data = gs.DATA_BY_KIND["sparse"]
    requests = [parse_sparse_request(json.loads(path.read_text()), max_inputs=MAX_INPUTS)
                for path in sorted((data / "input" / "real-time").glob("*.json"))]  # fmt: skip
    assert len(requests) >= 2 and {len(request.inputs) > 1 for request in requests} == {True, False}
    assert {request.truncate for request in requests} == {True, False}  # TEI's default, and truncate=true
    for name, mime in (("texts.jsonl", JSONLINES), ("texts.csv", CSV)):
        body = (data / "input" / "batch" / name).read_bytes()
        records = decode_sparse_records(body, mime, MAX_INPUTS)
        assert len(records) == len(body.decode().splitlines()) >= 3


# -- the samples, answered by the server code serving the tiny models -------------------------------------------
def _generated(model_dir: Path, kind: str, tmp_path: Path) -> Path:
    data = tmp_path / f"data-{kind}"
    shutil.copytree(gs.DATA_BY_KIND[kind] / "input", data / "input")
    assert gs.main(["--model-dir", str(model_dir), "--data", str(data)]) == 0
    return data


def test_generate_samples_serves_a_multi_vector_folder(colbert: Path, tmp_path: Path, capsys) -> None:
    data = _generated(colbert, "multivector", tmp_path)
    for source, target in gs.sample_pairs(data):
        answer = target.read_text()
        if source.name == "rerank.json":
            results = json.loads(answer)["results"]
            request = json.loads(source.read_text())
            scores = [item["relevance_score"] for item in results]
            assert len(results) == request["top_n"] and scores == sorted(scores, reverse=True)
            continue
        lines = [json.loads(answer)] if source.suffix == ".json" else [json.loads(line) for line in
                                                                       answer.splitlines()]  # fmt: skip
        entries = lines[0]["data"] if source.suffix == ".json" else lines
        if source.suffix != ".json":  # one line per record, in order
            assert len(entries) == len(source.read_text().splitlines())
        for entry in entries:
            assert entry["object"] == "embeddings" and entry["embeddings"]
            assert {len(vector) for vector in entry["embeddings"]} == {WIDTH}  # token vectors
    capsys.readouterr()
    assert gs.main(["--model-dir", str(colbert), "--data", str(data), "--check"]) == 0
    assert "DIFFERS" not in capsys.readouterr().out


@pytest.mark.parametrize("labels", [SINGLE_LABELS, MULTI_LABELS])
def test_generate_samples_serves_a_classifier(labels, tmp_path: Path, capsys) -> None:
    build = build_single_label_classifier if labels == SINGLE_LABELS else build_multi_label_classifier
    folder = build(tmp_path / "classifier")
    data = _generated(folder, "classify", tmp_path)
    written = {path.relative_to(data).as_posix() for path in (data / "output").rglob("*.*")}
    assert written == {"output/real-time/classify.json", "output/real-time/tei-format.json",
                       "output/batch/classify.jsonl.out"}  # fmt: skip
    jina = json.loads((data / "output" / "real-time" / "classify.json").read_text())
    for entry in jina["data"]:
        assert [item["label"] for item in entry["predictions"]] == list(labels)
        assert entry["prediction"] in labels
    tei = json.loads((data / "output" / "real-time" / "tei-format.json").read_text())
    assert all({item["label"] for item in answer} == set(labels) for answer in tei)
    records = (data / "input" / "batch" / "classify.jsonl").read_text().splitlines()
    assert len((data / "output" / "batch" / "classify.jsonl.out").read_text().splitlines()) == len(records)
    capsys.readouterr()
    assert gs.main(["--model-dir", str(folder), "--data", str(data), "--check"]) == 0
    assert "DIFFERS" not in capsys.readouterr().out


def _sparse_texts(source: Path) -> list[str]:
    """The texts of a sparse sample: a TEI body's ``inputs``, or one per batch record (a text, ``{"text"}``,
    ``{"inputs"}``; a CSV line)."""
    if source.suffix == ".json":
        inputs = json.loads(source.read_text())["inputs"]
        return [inputs] if isinstance(inputs, str) else inputs
    if source.suffix == ".csv":
        return [row[0] for row in csv.reader(source.read_text().splitlines())]
    records = [json.loads(line) for line in source.read_text().splitlines()]
    return [r if isinstance(r, str) else r.get("text", r.get("inputs")) for r in records]


def test_generate_samples_serves_a_sparse_folder(splade: Path, tmp_path: Path, capsys) -> None:
    from sentence_transformers import SparseEncoder

    data = _generated(splade, "sparse", tmp_path)
    written = {path.relative_to(data).as_posix() for path in (data / "output").rglob("*.*")}
    assert written == {"output/real-time/texts.json", "output/real-time/tei-options.json",
                       "output/batch/texts.jsonl.out", "output/batch/texts.csv.out"}  # fmt: skip
    reference = SparseEncoder(str(splade), device="cpu")
    for source, target in gs.sample_pairs(data):
        texts = _sparse_texts(source)
        answer = target.read_text()
        vectors = json.loads(answer) if source.suffix == ".json" else [json.loads(line) for line in answer.splitlines()]
        expected = reference.encode(texts, convert_to_tensor=True, convert_to_sparse_tensor=False).numpy()
        assert len(vectors) == len(texts) == len(expected)  # one answer per text (per record, in order)
        for vector, want in zip(vectors, expected, strict=True):
            indices = [entry["index"] for entry in vector]
            assert indices == sorted(indices) and len(indices) == np.count_nonzero(want) > 0
            assert all(set(entry) == {"index", "value"} for entry in vector)
            np.testing.assert_allclose([entry["value"] for entry in vector], want[indices], atol=1e-5)
    capsys.readouterr()
    assert gs.main(["--model-dir", str(splade), "--data", str(data), "--check"]) == 0
    assert "DIFFERS" not in capsys.readouterr().out
