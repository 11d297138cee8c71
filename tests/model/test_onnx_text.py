"""The torch-free ONNX Runtime text handler (inference/handlers/onnx_text.py): a model with an ONNX package
(``embed-serve export-onnx``) is served on CPU without importing torch or transformers, with SentenceTransformer's
vectors to 1e-5 and the torch handler's tokens; what the package cannot serve goes to torch."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from inference.api.app import create_app
from inference.handlers import load_handler, onnx_package
from inference.handlers.onnx_pack import export_folder
from inference.handlers.onnx_text import OnnxTextEmbeddingHandler, package_to_serve
from inference.handlers.text import TextEmbeddingHandler
from inference.model_dir import embedded_model_dir
from tests.conftest import make_settings
from tests.tiny_rerankers import build_tiny_bert_reranker

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = onnx_package.PACKAGE_DIR
TEXTS = ["hello world", "Grüße aus Köln — ünïcödé 東京", "a [SEP] literal [CLS] token", "x " * 400, "b"]


@pytest.fixture(scope="module")
def packaged_minilm(tmp_path_factory) -> Path:
    """A copy of the embedded model with its package in ``embed-serving-onnx/``, made by the real command line."""
    folder = tmp_path_factory.mktemp("packaged") / "minilm"
    shutil.copytree(embedded_model_dir(), folder)
    done = subprocess.run([sys.executable, "-m", "inference", "export-onnx", "--model-dir", str(folder)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "exported" in done.stdout and (folder / PACKAGE / "embed-serving.json").is_file()
    return folder


@pytest.fixture(scope="module")
def packaged_st_bert(tiny_st_bert_dir, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("packaged") / "st-bert"
    shutil.copytree(tiny_st_bert_dir, folder)
    assert export_folder(folder, make_settings()).package == folder / PACKAGE
    return folder


def _load(folder: Path, **overrides: object):
    return load_handler(make_settings(model_dir=folder, device="cpu", **overrides))


def test_served_without_torch_with_sentence_transformers_vectors(packaged_minilm):
    code = (
        "import sys, json; from inference.settings import Settings; from inference.handlers import load_handler\n"
        f"h = load_handler(Settings(model_dir={str(packaged_minilm)!r}))\n"
        f"v = h.forward(h.tokenize({TEXTS!r}, None, True), None)\n"
        "print(json.dumps({'type': type(h).__name__, 'torch': 'torch' in sys.modules,"
        " 'transformers': 'transformers' in sys.modules, 'vectors': v.tolist()}))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMB_") and k != "CUDA_VISIBLE_DEVICES"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**env, "EMB_ONNX_CACHE_DIR": str(packaged_minilm.parent / "no-cache")})  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["type"] == "OnnxTextEmbeddingHandler" and not out["torch"] and not out["transformers"]
    reference = SentenceTransformer(str(packaged_minilm), device="cpu").encode(TEXTS, convert_to_numpy=True)
    vectors = np.array(out["vectors"], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    np.testing.assert_allclose(vectors, reference, atol=1e-5, rtol=0)


def test_same_tokens_info_and_vectors_as_the_torch_handler(packaged_st_bert):
    onnx, torch_handler = _load(packaged_st_bert), _load(packaged_st_bert, cpu_backend="torch")
    assert isinstance(onnx, OnnxTextEmbeddingHandler) and isinstance(torch_handler, TextEmbeddingHandler)
    assert onnx.info.tasks == ("query",) and onnx.info.pooling == "cls"
    for task in (None, "query"):
        for truncate in (True, False):
            assert onnx.tokenize(TEXTS, task, truncate) == torch_handler.tokenize(TEXTS, task, truncate)
        batch = onnx.tokenize(TEXTS, task, True)
        np.testing.assert_allclose(onnx.forward(batch, task), torch_handler.forward(batch, task), atol=1e-5, rtol=0)
    ids = onnx.tokenize(TEXTS[2:3], None, True)[0]
    assert onnx.split_special(ids) == torch_handler.split_special(ids)
    ours, theirs = onnx.text_tokenizer, torch_handler.text_tokenizer
    for text in TEXTS[:3]:
        assert ours.tokens(text, True) == theirs.tokens(text, True) and ours.spans(text) == theirs.spans(text)
    assert ours.decode(ids, True) == theirs.decode(ids, True) and ours.prompts == theirs.prompts


def test_api_answers_from_the_package(packaged_minilm):
    def call(backend: str) -> tuple[dict, np.ndarray]:
        settings = make_settings(model_dir=packaged_minilm, device="cpu", cpu_backend=backend, log_level="WARNING")
        client = create_app(settings, load_in_background=False).test_client()
        response = client.post("/v1/embeddings", json={"input": TEXTS, "model": "m"})
        assert response.status_code == 200, response.get_json()
        chunks = client.post("/v1/embeddings", json={"input": [" ".join(TEXTS)], "late_chunking": True})
        assert chunks.status_code == 200, chunks.get_json()
        info = client.get("/info").get_json()
        return info, np.array([row["embedding"] for row in response.get_json()["data"]], dtype=np.float32)

    (onnx_info, onnx_vectors), (torch_info, torch_vectors) = call("auto"), call("torch")
    assert (onnx_info["backend"], torch_info["backend"]) == ("onnx", "torch")
    assert {**onnx_info, "backend": "torch", "models": None} == {**torch_info, "models": None}
    np.testing.assert_allclose(onnx_vectors, torch_vectors, atol=1e-5, rtol=0)


def test_what_the_package_does_not_serve_goes_to_torch(packaged_minilm, monkeypatch):
    assert package_to_serve(packaged_minilm, make_settings(device="cpu")) is not None
    for overrides in ({"cpu_backend": "torch"}, {"cpu_backend": "onnx-int8"}, {"compile": "default"},
                      {"dtype": "bfloat16"}, {"device": "cuda"}):  # fmt: skip
        assert package_to_serve(packaged_minilm, make_settings(**{"device": "cpu", **overrides})) is None, overrides
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # auto on a host with a GPU: torch's
    assert package_to_serve(packaged_minilm, make_settings(device="auto")) is None
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert package_to_serve(packaged_minilm, make_settings(device="auto")) is not None


def test_auto_keeps_long_context_models_on_torch(packaged_minilm, monkeypatch):
    monkeypatch.setattr("inference.handlers.onnx_text.AUTO_MAX_LENGTH", 128)  # MiniLM: 256 tokens
    assert package_to_serve(packaged_minilm, make_settings(device="cpu")) is None
    assert package_to_serve(packaged_minilm, make_settings(device="cpu", max_length=128)) is not None
    assert package_to_serve(packaged_minilm, make_settings(device="cpu", cpu_backend="onnx")) is not None


def test_a_package_of_other_weights_or_format_is_ignored(packaged_minilm, tmp_path, caplog):
    folder = tmp_path / "minilm"
    shutil.copytree(packaged_minilm, folder)
    manifest = folder / PACKAGE / onnx_package.MANIFEST
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "format": onnx_package.FORMAT - 1}))
    assert package_to_serve(folder, make_settings(device="cpu")) is None
    manifest.write_text(json.dumps({**data, "source": "0" * 20}))
    with caplog.at_level(logging.WARNING, logger="inference.handlers.onnx_package"):
        handler = _load(folder, onnx_cache_dir=tmp_path / "cache")
    assert isinstance(handler, TextEmbeddingHandler) and "other weights" in caplog.text


def test_a_damaged_package_is_served_by_torch(packaged_minilm, tmp_path, caplog):
    folder = tmp_path / "minilm"
    shutil.copytree(packaged_minilm, folder)
    (folder / PACKAGE / "model.onnx").write_bytes(b"not an onnx graph")
    with caplog.at_level(logging.WARNING, logger="inference.handlers"):
        handler = _load(folder, onnx_cache_dir=tmp_path / "cache")
    assert isinstance(handler, TextEmbeddingHandler) and "cannot be served" in caplog.text
    assert handler.forward(handler.tokenize(TEXTS, None, True), None).shape == (len(TEXTS), 384)


def test_export_skips_what_it_cannot_package(packaged_minilm, tmp_path):
    assert "up to date" in export_folder(packaged_minilm, make_settings()).reason
    reranker = build_tiny_bert_reranker(tmp_path / "reranker")
    result = export_folder(reranker, make_settings())
    assert result.package is None and "rerank" in result.reason and not (reranker / PACKAGE).exists()
    cached = export_folder(packaged_minilm, make_settings(onnx_cache_dir=tmp_path), into="cache")
    assert cached.package is not None and cached.package.parent == tmp_path
