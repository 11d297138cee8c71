"""GPU checks (run with `pytest -m gpu` on a CUDA machine; deselected by default)."""

import numpy as np
import pytest
import torch

from inference.endpoints.embeddings.postprocess import finish_vectors
from inference.handlers import load_handler
from tests.conftest import make_settings

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

TEXTS = ["hello world", "Bonjour le monde", "東京は日本の首都です。", "a longer sentence about search " * 30]


def embed(settings):
    handler = load_handler(settings)
    return handler, finish_vectors(handler.forward(handler.tokenize(TEXTS, None, True), None), None, True)


def test_auto_picks_cuda_half_precision_and_matches_cpu_fp32():
    gpu_handler, gpu = embed(make_settings())
    assert gpu_handler.info.device.startswith("cuda") and gpu_handler.info.dtype in ("bfloat16", "float16")
    _, cpu = embed(make_settings(device="cpu"))
    assert (gpu * cpu).sum(axis=1).min() >= 0.999


def test_large_batch_of_long_inputs_fits():
    handler = load_handler(make_settings())
    ids = handler.tokenize(["word " * 400] * 2048, None, True)
    out = handler.forward(ids, None)
    assert out.shape == (2048, handler.info.dimensions) and np.isfinite(out).all()


def test_mixed_length_batch_goes_through_buckets_and_matches_one_by_one():
    handler = load_handler(make_settings())
    texts = ["short"] * 40 + ["a much longer text about retrieval " * 40] * 40  # far apart: more than one bucket
    ids = handler.tokenize(texts, None, True)
    together = handler.forward(ids, None)
    alone = np.concatenate([handler.forward([one], None) for one in ids[:2] + ids[40:42]])
    cos = (finish_vectors(together[[0, 1, 40, 41]], None, True) * finish_vectors(alone, None, True)).sum(axis=1)
    assert cos.min() >= 0.999


def test_compiled_model_matches_eager():
    eager_handler, eager = embed(make_settings())
    compiled_handler, compiled = embed(make_settings(compile="default"))
    assert (eager * compiled).sum(axis=1).min() >= 0.999
