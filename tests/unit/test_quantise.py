"""int8 / uint8 embeddings: sentence-transformers' ``quantize_embeddings`` with the fixed calibration range
[-1, 1] in every dimension, byte for byte, and independent of the other vectors of the request."""

from __future__ import annotations

import numpy as np
import pytest
from sentence_transformers.util.quantization import quantize_embeddings

from inference.endpoints.embeddings.response import ENCODERS, QUANTISATION_RANGE, quantise


def normalised(seed: int, count: int, dims: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dims)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def ranges(dims: int) -> np.ndarray:
    return np.array([[QUANTISATION_RANGE[0]] * dims, [QUANTISATION_RANGE[1]] * dims])


@pytest.mark.parametrize("precision", ["int8", "uint8"])
@pytest.mark.parametrize(("seed", "count", "dims"), [(0, 1, 8), (1, 17, 384), (2, 200, 1024), (3, 3, 7)])
def test_quantise_is_quantize_embeddings_over_the_fixed_range(precision, seed, count, dims):
    vectors = normalised(seed, count, dims)
    vectors[0, :3] = [1.0, -1.0, 0.0]  # the range's ends and middle
    want = quantize_embeddings(vectors, precision, ranges=ranges(dims))
    got = quantise(vectors, precision)
    assert got.dtype == want.dtype == (np.int8 if precision == "int8" else np.uint8)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.stack(ENCODERS[precision](vectors)), want)


@pytest.mark.parametrize("precision", ["int8", "uint8"])
def test_values_outside_the_range_saturate_as_quantize_embeddings_does(precision):
    vectors = np.array([[-5.0, -1.5, 1.5, 7.0, 3e38, -3e38, 0.999, -0.999]], dtype=np.float32)
    with np.errstate(over="ignore"):
        want = quantize_embeddings(vectors, precision, ranges=ranges(8))
    np.testing.assert_array_equal(quantise(vectors, precision), want)
    low, high = (-128, 127) if precision == "int8" else (0, 255)
    assert quantise(vectors, precision)[0, 0] == low and quantise(vectors, precision)[0, 3] == high


def test_a_vector_quantises_the_same_alone_and_in_any_batch():
    """Unlike per-batch ranges (quantize_embeddings without ``ranges``, which refuses a single vector)."""
    vectors = normalised(4, 10, 64)
    for precision in ("int8", "uint8"):
        batch = quantise(vectors, precision)
        for row in range(len(vectors)):
            np.testing.assert_array_equal(quantise(vectors[row : row + 1], precision)[0], batch[row])
