"""EMB_CPU_BACKEND=onnx under the torch handler (inference/handlers/onnx_backend.py): a first start exports the
model's ONNX package into the cache and serves it, with the same vectors as torch to 1e-5; later starts serve the
package without torch (tests/model/test_onnx_text.py); what cannot be exported stays on torch."""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from inference.api.app import create_app
from inference.handlers import load_handler, onnx_backend, onnx_export, onnx_package
from inference.handlers.onnx_text import OnnxTextEmbeddingHandler
from inference.handlers.text import TextEmbeddingHandler
from inference.model_dir import embedded_model_dir
from tests.conftest import make_settings
from tests.tiny_models import build_tiny_lora_model

TEXTS = ["hello world", "bonjour le monde " * 30, "a", "the cat was on the mat with a hat", "hola mundo " * 90]


def _handler(cache: Path, backend: str, **overrides: object):
    return load_handler(make_settings(device="cpu", cpu_backend=backend, onnx_cache_dir=cache, **overrides))


def _vectors(handler) -> np.ndarray:
    return handler.forward(handler.tokenize(TEXTS, None, True), None)


@pytest.mark.parametrize("model", ["minilm", "tiny_xlmr"])
def test_onnx_vectors_equal_torch(model, tiny_xlmr_dir, tmp_path):
    folder = embedded_model_dir() if model == "minilm" else tiny_xlmr_dir
    torch_handler = _handler(tmp_path, "torch", model_dir=folder)
    exporting = _handler(tmp_path, "onnx", model_dir=folder)  # first start: exports, torch loaded the model
    package = _handler(tmp_path, "onnx", model_dir=folder)  # later starts: the package alone, no torch model
    assert isinstance(torch_handler, TextEmbeddingHandler) and torch_handler._onnx is None
    assert isinstance(exporting, TextEmbeddingHandler) and exporting._onnx is not None
    assert isinstance(package, OnnxTextEmbeddingHandler)
    assert (torch_handler.info.backend, exporting.info.backend, package.info.backend) == ("torch", "onnx", "onnx")
    expected = _vectors(torch_handler)
    for handler in (exporting, package):
        np.testing.assert_allclose(_vectors(handler), expected, atol=1e-5, rtol=0)
        # token vectors (late chunking) come from the same session
        ids = torch_handler.tokenize(TEXTS[1:2], None, True)[0]
        np.testing.assert_allclose(handler.forward_tokens(ids, None), torch_handler.forward_tokens(ids, None),
                                   atol=1e-4, rtol=0)  # fmt: skip
    assert package.info == replace(torch_handler.info, backend="onnx")


def test_api_embeddings_equal_torch(tmp_path):
    def embeddings(backend: str) -> np.ndarray:
        settings = make_settings(device="cpu", cpu_backend=backend, onnx_cache_dir=tmp_path, log_level="WARNING")
        client = create_app(settings, load_in_background=False).test_client()
        response = client.post("/v1/embeddings", json={"input": TEXTS, "model": "m"})
        assert response.status_code == 200, response.get_json()
        return np.array([row["embedding"] for row in response.get_json()["data"]], dtype=np.float32)

    np.testing.assert_allclose(embeddings("onnx"), embeddings("torch"), atol=1e-5, rtol=0)


def test_second_load_reuses_the_cached_export(tiny_xlmr_dir, tmp_path):
    before = onnx_export.EXPORTS[0]
    first = _handler(tmp_path, "onnx", model_dir=tiny_xlmr_dir)
    path = first._onnx.path
    stamp = path.stat().st_mtime_ns
    assert onnx_export.EXPORTS[0] == before + 1
    second = _handler(tmp_path, "onnx", model_dir=tiny_xlmr_dir)
    assert isinstance(second, OnnxTextEmbeddingHandler) and path.stat().st_mtime_ns == stamp
    assert onnx_export.EXPORTS[0] == before + 1  # no second export
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == [path.parent.name]  # no half-written folders


def test_other_weights_are_another_model(tiny_xlmr_dir, tmp_path):
    """A copy keeps the fingerprint (other modification times); other weights of the same shapes do not."""
    copy = tmp_path / "copy"
    shutil.copytree(tiny_xlmr_dir, copy)
    assert onnx_package.fingerprint(copy) == onnx_package.fingerprint(tiny_xlmr_dir)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte of one weight
    weights.write_bytes(bytes(data))
    assert onnx_package.fingerprint(copy) != onnx_package.fingerprint(tiny_xlmr_dir)


def test_unsupported_family_falls_back_to_torch(tiny_xlmr_dir, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(onnx_backend, "FAMILIES", frozenset({"bert"}))  # the torch handler's export refuses it
    with caplog.at_level(logging.INFO, logger="inference.handlers.onnx_backend"):
        handler = _handler(tmp_path, "onnx", model_dir=tiny_xlmr_dir)
    assert handler._onnx is None and _vectors(handler).shape[0] == len(TEXTS)
    assert "family 'xlm-roberta'" in caplog.text and not list(tmp_path.iterdir())


def test_remote_code_with_task_adapters_stays_on_torch(tmp_path):
    folder = build_tiny_lora_model(tmp_path / "lora-model")
    handler = _handler(tmp_path / "cache", "onnx", model_dir=folder, trust_remote_code=True)
    assert handler._onnx is None and not (tmp_path / "cache").exists()
    assert handler.forward(handler.tokenize(["hello world", "a"], None, True), None).shape[0] == 2


def test_unwritable_cache_falls_back_to_torch(tiny_xlmr_dir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    handler = _handler(blocker / "cache", "onnx", model_dir=tiny_xlmr_dir)
    assert handler._onnx is None and _vectors(handler).shape[0] == len(TEXTS)


def test_backend_choice():
    cpu, gpu = torch.device("cpu"), torch.device("cuda", 0)
    assert onnx_backend.chosen_backend(make_settings(cpu_backend="onnx"), gpu) == "torch"
    assert onnx_backend.chosen_backend(make_settings(cpu_backend="onnx"), cpu) == "onnx"
    assert onnx_backend.chosen_backend(make_settings(cpu_backend="torch"), cpu) == "torch"
    # auto never exports at start: it serves an existing package without torch (onnx_text.py), else torch
    assert onnx_backend.chosen_backend(make_settings(cpu_backend="auto"), cpu) == "torch"
    assert onnx_backend.chosen_backend(make_settings(), cpu) == "torch"


def test_int8_is_close_not_equal_and_cached_beside_fp32(tmp_path):
    torch_vectors = _vectors(_handler(tmp_path, "torch"))
    handler = _handler(tmp_path, "onnx-int8")
    assert handler._onnx is not None and handler._onnx.path.name == "model-int8.onnx"
    assert (handler._onnx.path.parent / "model.onnx").is_file()
    vectors = _vectors(handler)
    cosine = np.sum(vectors * torch_vectors, axis=1) / (
        np.linalg.norm(vectors, axis=1) * np.linalg.norm(torch_vectors, axis=1))
    assert cosine.min() > 0.95 and np.abs(vectors - torch_vectors).max() > 1e-5, cosine


def test_auto_without_a_package_is_torch_and_exports_nothing(tiny_xlmr_dir, tmp_path):
    handler = _handler(tmp_path, "auto", model_dir=tiny_xlmr_dir)
    assert isinstance(handler, TextEmbeddingHandler) and handler._onnx is None and not list(tmp_path.iterdir())


def test_a_broken_cached_export_falls_back_to_torch(tiny_xlmr_dir, tmp_path):
    path = _handler(tmp_path, "onnx", model_dir=tiny_xlmr_dir)._onnx.path
    path.write_bytes(b"not an onnx model")
    handler = _handler(tmp_path, "onnx", model_dir=tiny_xlmr_dir)
    assert isinstance(handler, TextEmbeddingHandler) and handler._onnx is None
    assert _vectors(handler).shape[0] == len(TEXTS)


def test_workers_starting_together_share_one_export_and_one_int8_model(tiny_xlmr_dir, tmp_path):
    """Two workers of one server start at once: one exports and quantises under the cache's lock, the other waits
    and finds both done (a race here once left the second worker on torch). The model is loaded once, here:
    transformers' loading is not thread-safe (its no-init-weights switch is process-wide), and workers are
    processes."""
    from concurrent.futures import ThreadPoolExecutor

    from inference.handlers.loading import load_hf_model

    settings = make_settings(device="cpu", cpu_backend="onnx-int8", onnx_cache_dir=tmp_path)
    loaded = load_hf_model(tiny_xlmr_dir, settings)
    before = onnx_export.EXPORTS[0]
    with ThreadPoolExecutor(2) as pool:
        paths = list(pool.map(lambda _: onnx_backend._package_model(loaded, tiny_xlmr_dir, settings, True, 32),
                              range(2)))  # fmt: skip
    assert paths[0] == paths[1] and paths[0] is not None and paths[0].name == "model-int8.onnx"
    assert onnx_export.EXPORTS[0] == before + 1
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]  # no scratch folders or parts left
