"""A reranker through the Marketplace tooling: the model package request (kind, content types, validation job on
the reranker's sample records), its validation transform run in moto against the real server process serving a
tiny cross-encoder, and the rerank samples regenerated and checked against sentence-transformers' CrossEncoder."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from marketplace_testing import MARKETPLACE, REGION, run_job
from pydantic import ValidationError

from inference.mime import JSON, JSONLINES
from inference.model_dir import embedded_model_dir
from marketplace import generate_samples as gs
from marketplace import local_transform as lt
from marketplace import model_package as mp
from marketplace.local_server import local_server
from tests.tiny_rerankers import build_tiny_bert_reranker

RERANK_EXAMPLE = MARKETPLACE / "package.rerank.example.json"
EMBED_EXAMPLE = MARKETPLACE / "package.example.json"
DATA = MARKETPLACE / "data-rerank"
BATCH = DATA / "input" / "batch" / "rerank.jsonl"


@pytest.fixture(scope="module")
def reranker(tmp_path_factory) -> Path:
    return build_tiny_bert_reranker(tmp_path_factory.mktemp("tiny-reranker"))


@pytest.fixture(scope="module")
def rerank_url(reranker) -> Iterator[str]:
    """The real server process serving the tiny cross-encoder (the container stand-in for a reranker image)."""
    with local_server({"MODEL_DIR": str(reranker)}) as url:
        yield url


@pytest.fixture(scope="module")
def cross_encoder(reranker):
    st = pytest.importorskip("sentence_transformers")
    return st.CrossEncoder(str(reranker), device="cpu")


def expected_scores(cross_encoder, request: dict) -> np.ndarray:
    """CrossEncoder.predict on the request's (query, document) pairs, in document order."""
    query = request["query"]["text"] if isinstance(request["query"], dict) else request["query"]
    documents = [d["text"] if isinstance(d, dict) else d for d in request.get("documents", request.get("texts", []))]
    return np.asarray(cross_encoder.predict([(query, doc) for doc in documents]), dtype=np.float64)


def assert_answers(request: dict, answer, cross_encoder) -> None:
    """A rerank answer (Jina/Cohere object or TEI list): best first, top_n honoured, scores = CrossEncoder."""
    expected = expected_scores(cross_encoder, request)
    items = answer if isinstance(answer, list) else answer["results"]
    key = "score" if isinstance(answer, list) else "relevance_score"
    scores = [item[key] for item in items]
    assert scores == sorted(scores, reverse=True)
    assert len(items) == min(request.get("top_n", len(expected)), len(expected))
    np.testing.assert_allclose(scores, expected[[item["index"] for item in items]], atol=1e-5)
    assert [item["index"] for item in items] == list(np.argsort(-expected, kind="stable"))[: len(items)]


# -- the package request ---------------------------------------------------------------------------------------
def test_rerank_example_declares_json_and_jsonlines_and_validates_on_the_rerank_records():
    cfg = mp.load_config(RERANK_EXAMPLE)
    assert cfg.kind == "rerank" and cfg.validation.input_file == "input/batch/rerank.jsonl"
    request = mp.build_request(cfg)
    mp.validate_request(request)
    spec = request["InferenceSpecification"]
    assert spec["SupportedContentTypes"] == [JSON, JSONLINES]  # no text/csv: a reranker answers it 400
    assert spec["SupportedResponseMIMETypes"] == [JSON, JSONLINES]
    job = request["ValidationSpecification"]["ValidationProfiles"][0]["TransformJobDefinition"]
    assert job["TransformInput"]["ContentType"] == job["TransformOutput"]["Accept"] == JSONLINES
    assert job["TransformInput"]["SplitType"] == "Line" and job["TransformOutput"]["AssembleWith"] == "Line"
    assert (cfg.samples / cfg.validation.input_file).is_file() and cfg.samples == DATA


def test_every_rerank_sample_is_a_rerank_request():
    for path in sorted((DATA / "input" / "real-time").glob("*.json")):
        body = json.loads(path.read_text())
        assert body["query"] and (body.get("documents") or body.get("texts")), path
    records = [json.loads(line) for line in BATCH.read_text().splitlines()]
    assert len(records) >= 3 and all(r["query"] and (r.get("documents") or r.get("texts")) for r in records)


def test_the_embedding_package_is_unchanged():
    cfg = mp.load_config(EMBED_EXAMPLE)
    assert cfg.kind == "embedding" and cfg.samples == mp.SAMPLES
    assert mp.build_request(cfg)["InferenceSpecification"]["SupportedContentTypes"] == list(mp.CONTENT_TYPES)


def test_a_reranker_package_refuses_a_csv_validation_file():
    raw = json.loads(RERANK_EXAMPLE.read_text())
    raw["validation"]["input_file"] = "input/batch/texts.csv"
    with pytest.raises(ValidationError, match="rerank model does not take text/csv"):
        mp.PackageConfig.model_validate(raw)


def test_model_dir_sets_the_kind_from_config_json(reranker, tmp_path, capsys):
    raw = json.loads(EMBED_EXAMPLE.read_text())
    raw.pop("kind", None)
    raw["validation"].pop("input_file")
    config = tmp_path / "package.json"
    config.write_text(json.dumps(raw))
    assert mp.main(["--config", str(config), "--model-dir", str(reranker), "--dry-run"]) == 0
    request = json.loads(capsys.readouterr().out)
    assert request["InferenceSpecification"]["SupportedContentTypes"] == [JSON, JSONLINES]
    assert mp.load_config(config, reranker).validation.input_file == "input/batch/rerank.jsonl"
    assert mp.load_config(config).kind == "embedding"  # without the folder: the default


def test_model_dir_that_contradicts_the_config_is_an_error(capsys):
    embedder = embedded_model_dir()
    assert mp.model_kind(embedder) == "embedding"
    assert mp.main(["--config", str(RERANK_EXAMPLE), "--model-dir", str(embedder), "--dry-run"]) == 2
    assert "says kind 'rerank'" in capsys.readouterr().err


def test_cli_creates_the_rerank_package_and_uploads_the_rerank_records(aws, moto_url, capsys):
    cfg = mp.load_config(RERANK_EXAMPLE)
    aws.s3.create_bucket(Bucket="my-seller-bucket")
    code = mp.main([
        "--config", str(RERANK_EXAMPLE), "--region", REGION, "--endpoint-url", moto_url, "--s3-endpoint-url", moto_url,
        "--upload-validation-input", "--interval-s", "0",
    ])  # fmt: skip
    out = capsys.readouterr()
    assert code == 0, out.err
    assert json.loads(out.out)["ModelPackageStatus"] == "Completed"
    described = aws.sagemaker.describe_model_package(ModelPackageName=cfg.name)
    assert described["InferenceSpecification"]["SupportedContentTypes"] == [JSON, JSONLINES]
    bucket, key = cfg.validation_input_key
    assert key == "marketplace/validation-rerank/input/rerank.jsonl"
    assert aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read() == BATCH.read_bytes()


# -- the validation job and the samples, against the server serving a reranker ----------------------------------
def test_the_validation_transform_job_runs_on_the_reranker(aws, rerank_url, cross_encoder):
    """What Marketplace does with the package: the validation profile's transform job (created in moto, run by the
    Batch Transform stand-in against the server serving the reranker) over the sample records."""
    cfg = mp.load_config(RERANK_EXAMPLE)
    job = mp.build_request(cfg)["ValidationSpecification"]["ValidationProfiles"][0]["TransformJobDefinition"]
    aws.s3.create_bucket(Bucket="my-seller-bucket")
    mp.upload_validation_input(aws.s3, cfg)
    aws.sagemaker.create_transform_job(TransformJobName="rerank-validation", ModelName="reranker", **job)
    described = aws.sagemaker.describe_transform_job(TransformJobName="rerank-validation")
    as_run = SimpleNamespace(
        transform_input=described["TransformInput"], transform_output=described["TransformOutput"],
        batch_strategy=described["BatchStrategy"], max_payload_in_mb=described["MaxPayloadInMB"],
    )  # fmt: skip
    run_job(as_run, aws.s3, rerank_url)
    out_bucket, _, out_prefix = cfg.validation.output_s3.removeprefix("s3://").partition("/")
    output = aws.s3.get_object(Bucket=out_bucket, Key=out_prefix + "rerank.jsonl.out")["Body"].read()
    records = [json.loads(line) for line in BATCH.read_text().splitlines()]
    answers = [json.loads(line) for line in output.decode().splitlines()]
    assert len(answers) == len(records)  # one MultiRecord request: one line per record, in order
    for record, answer in zip(records, answers, strict=True):
        assert_answers(record, answer, cross_encoder)


@pytest.mark.parametrize(("strategy", "max_payload"), [("SingleRecord", None), ("MultiRecord", 300)])
def test_any_strategy_and_payload_split_gives_one_answer_per_record(rerank_url, cross_encoder, strategy, max_payload):
    spec = lt.TransformSpec(JSONLINES, strategy=strategy, max_payload_bytes=max_payload)
    answers = [json.loads(line) for line in lt.run_file(rerank_url, BATCH.read_bytes(), spec).splitlines()]
    records = [json.loads(line) for line in BATCH.read_text().splitlines()]
    assert len(answers) == len(records)
    for record, answer in zip(records, answers, strict=True):
        assert_answers(record, answer, cross_encoder)


def test_csv_is_refused_by_a_reranker_which_is_why_the_package_omits_it(rerank_url, tmp_path):
    source = tmp_path / "texts.csv"
    source.write_text("first\nsecond\n")
    with pytest.raises(lt.TransformError, match="not CSV"):
        lt.run_file(rerank_url, source.read_bytes(), lt.TransformSpec("text/csv"))


def test_generate_samples_serves_a_reranker_folder_and_checks_its_outputs(reranker, tmp_path, cross_encoder, capsys):
    assert gs.sample_kind(reranker) == "rerank" and gs.DATA_BY_KIND["rerank"] == DATA
    data = tmp_path / "data-rerank"
    shutil.copytree(DATA / "input", data / "input")
    assert gs.main(["--model-dir", str(reranker), "--data", str(data)]) == 0
    written = {path.relative_to(data).as_posix() for path in (data / "output").rglob("*.*")}
    assert written == {"output/real-time/rerank.json", "output/real-time/tei-format.json",
                       "output/batch/rerank.jsonl.out"}  # fmt: skip
    for source, target in gs.sample_pairs(data):
        requests = [json.loads(line) for line in source.read_text().splitlines()]
        answers = [json.loads(line) for line in target.read_text().splitlines()]
        for request, answer in zip(requests, answers, strict=True):
            assert_answers(request, answer, cross_encoder)
    capsys.readouterr()
    assert gs.main(["--model-dir", str(reranker), "--data", str(data), "--check"]) == 0
    assert "DIFFERS" not in capsys.readouterr().out


def test_generate_samples_against_a_running_reranker_matches_in_process(reranker, rerank_url, tmp_path):
    post, batch = gs.http_post(rerank_url)
    over_http = gs.generate(post, batch, DATA)
    in_process = gs.generate(*gs.in_process_post(reranker), DATA)
    assert set(over_http) == set(in_process) and len(over_http) == 3
    for path, blob in over_http.items():
        assert gs.compare(path, in_process[path], blob) == [], path
