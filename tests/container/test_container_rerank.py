"""A cross-encoder reranker through the image: baked in at build time and started with ``--network none`` (as
SageMaker runs Marketplace models), and packed with container/pack_model.py and mounted as SageMaker extracts
model.tar.gz. Scores are compared with sentence-transformers' ``CrossEncoder.predict`` on the host.

The pack_model checks at the top need no Docker (no ``container`` marker); the rest is ``-m container``.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from container_harness import REPO, Container, build_image, docker, health

from inference.handlers import model_family
from tests.tiny_rerankers import build_tiny_bert_reranker, build_tiny_xlmr_reranker

_spec = importlib.util.spec_from_file_location("pack_model", REPO / "container" / "pack_model.py")
assert _spec is not None and _spec.loader is not None
pack_model = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pack_model)

QUERY = "paris capital"
DOCS = [
    "paris is the capital of france",
    "the river",
    "hello world " * 30,  # longer than the tiny model's 24 tokens: cut, as CrossEncoder cuts it
    "search engine vector query document rank",
    "bonjour le monde",
]
SAMPLES = sorted((REPO / "container" / "samples" / "rerank").glob("*.json"))


# --- container/pack_model.py with a reranker (no Docker) ---------------------------------------------------------
@pytest.mark.parametrize("build", [build_tiny_bert_reranker, build_tiny_xlmr_reranker])
def test_pack_model_packs_a_reranker_and_says_so(build, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = build(tmp_path / "reranker")
    assert pack_model.model_kind(folder) == "rerank" == model_family(folder)  # the server's rule, stdlib only
    out = tmp_path / "model.tar.gz"
    assert pack_model.main([str(folder), "-o", str(out), "--kind", "rerank"]) == 0
    assert "rerank model: POST /invocations or /v1/rerank" in capsys.readouterr().err
    with tarfile.open(out) as tar:
        names = tar.getnames()
        config = json.load(tar.extractfile("config.json"))  # type: ignore[arg-type]
    assert "model.safetensors" in names and "tokenizer.json" in names
    assert config["architectures"][0].endswith("ForSequenceClassification")


def test_pack_model_kind_guard_and_several_labels(tmp_path: Path) -> None:
    folder = build_tiny_bert_reranker(tmp_path / "reranker")
    with pytest.raises(SystemExit, match="a rerank model, not embedding"):
        pack_model.main([str(folder), "-o", str(tmp_path / "x.tar.gz"), "--kind", "embedding"])
    config = json.loads((folder / "config.json").read_text())
    config["id2label"] = {"0": "neg", "1": "pos"}
    (folder / "config.json").write_text(json.dumps(config))
    # Several labels: a classifier (served on /v1/classify), packed as one; no longer a reranker.
    assert pack_model.model_kind(folder) == "classify" == model_family(folder)
    with pytest.raises(SystemExit, match="a classify model, not rerank"):
        pack_model.main([str(folder), "-o", str(tmp_path / "x.tar.gz"), "--kind", "rerank"])
    assert pack_model.main([str(folder), "-o", str(tmp_path / "x.tar.gz"), "--kind", "classify"]) == 0


def test_the_rerank_samples_are_rerank_requests() -> None:
    assert len(SAMPLES) >= 3
    for path in SAMPLES:
        body = json.loads(path.read_text())
        assert body["query"] and (body.get("documents") or body.get("texts")), path


# --- the image -------------------------------------------------------------------------------------------------
def cross_encoder_scores(folder: Path, query: str, documents: list[str]) -> np.ndarray:
    st = pytest.importorskip("sentence_transformers")
    model = st.CrossEncoder(str(folder), device="cpu")
    return np.asarray(model.predict([(query, doc) for doc in documents]), dtype=np.float64)


def assert_ranked(results: list[dict], expected: np.ndarray, key: str = "relevance_score") -> None:
    """Best first; every index once; each score CrossEncoder.predict's for that document within 1e-5."""
    scores = [item[key] for item in results]
    assert scores == sorted(scores, reverse=True)
    assert sorted(item["index"] for item in results) == list(range(len(expected)))
    np.testing.assert_allclose(scores, expected[[item["index"] for item in results]], atol=1e-5)


@pytest.fixture(scope="module")
def staged(unique: str) -> Iterator[Path]:
    """A tiny random cross-encoder under container/models/ (what --bake copies), removed afterwards."""
    folder = REPO / "container" / "models" / f"pytest-rerank-{unique}"
    shutil.rmtree(folder, ignore_errors=True)
    build_tiny_bert_reranker(folder)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def expected(staged: Path) -> np.ndarray:
    return cross_encoder_scores(staged, QUERY, DOCS)


@pytest.fixture(scope="module")
def baked(image: str, unique: str, staged: Path, metrics: dict) -> Iterator[Container]:
    """The image rebuilt with the reranker baked in, run read-only with --network none."""
    tag = f"embed-serving:pytest-rerank-{unique}"
    container = None
    try:
        seconds = build_image(tag, "--bake", staged.name, "--model-name", "baked-reranker")
        metrics["rebuild with a baked reranker (s)"] = round(seconds, 1)
        container = Container.run(tag, f"embed-test-rerank-{unique}", docker_args=("--read-only", "--tmpfs", "/tmp"))
        metrics["startup to ready, baked reranker (s)"] = round(container.wait_ready(), 1)
        yield container
    finally:
        if container is not None:
            container.remove()
        docker("rmi", "-f", tag, check=False)


@pytest.mark.container
def test_baked_reranker_is_ready_without_a_network(baked: Container) -> None:
    assert health(baked.get("/ping").json()) == {"status": "ready", "model": "baked-reranker"}
    assert baked.inspect("{{.HostConfig.NetworkMode}}") == "none"
    assert "model.safetensors" in baked.exec("ls", "/opt/ml/model").stdout.decode()


@pytest.mark.container
@pytest.mark.parametrize("path", ["/v1/rerank", "/invocations"])
def test_baked_reranker_scores_equal_cross_encoder_predict(baked: Container, expected: np.ndarray, path: str) -> None:
    reply = baked.post(path, {"query": QUERY, "documents": DOCS})
    assert reply.status == 200, reply.body[:500]
    body = reply.json()
    assert body["model"] == "baked-reranker" and body["usage"]["total_tokens"] > 0
    assert_ranked(body["results"], expected)
    assert all(item["document"]["text"] == DOCS[item["index"]] for item in body["results"])


@pytest.mark.container
def test_baked_reranker_top_n_and_tei(baked: Container, expected: np.ndarray) -> None:
    body = baked.post("/v1/rerank", {"query": QUERY, "documents": DOCS, "top_n": 2, "return_documents": False}).json()
    assert [item["index"] for item in body["results"]] == list(np.argsort(-expected, kind="stable")[:2])
    assert all("document" not in item for item in body["results"])
    reply = baked.post("/rerank", {"query": QUERY, "texts": DOCS, "truncate": True})
    assert reply.status == 200, reply.body[:500]
    assert_ranked(reply.json(), expected, key="score")


@pytest.mark.container
def test_embedding_request_to_the_reranker_is_400_wrong_model_kind(baked: Container) -> None:
    reply = baked.post("/invocations", {"input": ["an embeddings request"]})
    assert reply.status == 400, reply.body[:500]
    error = reply.json()["error"]
    assert error["type"] == "wrong_model_kind" and "/v1/rerank" in error["message"]


@pytest.mark.container
def test_batch_transform_records_give_one_line_each(baked: Container, expected: np.ndarray) -> None:
    records = [{"query": QUERY, "documents": DOCS}, {"query": QUERY, "documents": DOCS, "top_n": 1},
               {"query": QUERY, "texts": DOCS, "truncate": True}]  # fmt: skip
    body = "".join(json.dumps(record) + "\n" for record in records).encode()
    reply = baked.request("POST", "/invocations", body, content_type="application/jsonlines",
                          accept="application/jsonlines")  # fmt: skip
    assert reply.status == 200, reply.body[:500]
    lines = [json.loads(line) for line in reply.body.decode().splitlines()]
    assert len(lines) == len(records)
    assert_ranked(lines[0]["results"], expected)
    assert [item["index"] for item in lines[1]["results"]] == [int(np.argmax(expected))]
    assert_ranked(lines[2], expected, key="score")
    csv = baked.request("POST", "/invocations", b"a\nb\n", content_type="text/csv")
    assert csv.status == 400 and "not CSV" in csv.json()["error"]["message"]


@pytest.mark.container
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: path.name)
def test_container_rerank_samples_are_answered(baked: Container, sample: Path) -> None:
    """container/samples/rerank/*.json, as container/local.sh would send them; show.py summarises the answer."""
    reply = baked.post("/invocations", json.loads(sample.read_text()))
    assert reply.status == 200, reply.body[:500]
    shown = subprocess.run([sys.executable, str(REPO / "container" / "samples" / "show.py")], input=reply.body,
                           capture_output=True, check=False)  # fmt: skip
    assert shown.returncode == 0 and b"score" in shown.stdout, shown.stdout + shown.stderr


@pytest.mark.container
def test_packed_reranker_serves_as_sagemaker_extracts_it(image: str, unique: str, tmp_path: Path) -> None:
    """pack_model.py's model.tar.gz, extracted into /opt/ml/model (root, SAGEMAKER_* env) on the unbaked image."""
    folder = build_tiny_xlmr_reranker(tmp_path / "xlmr-reranker")
    archive = tmp_path / "model.tar.gz"
    subprocess.run([sys.executable, str(REPO / "container" / "pack_model.py"), str(folder), "-o", str(archive),
                    "--kind", "rerank"], check=True, capture_output=True)  # fmt: skip
    target = tmp_path / "opt-ml-model"
    target.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    container = Container.run(
        image, f"embed-test-rerank-packed-{unique}", port=9090,
        docker_args=("--user", "0", "-v", f"{target}:/opt/ml/model:ro", "-e", "SAGEMAKER_BIND_TO_PORT=9090"),
        command=("serve",),
    )  # fmt: skip
    try:
        container.wait_ready()
        reply = container.post("/invocations", {"query": QUERY, "documents": DOCS})
        assert reply.status == 200, reply.body[:500]
        assert_ranked(reply.json()["results"], cross_encoder_scores(folder, QUERY, DOCS))
    finally:
        container.remove()
