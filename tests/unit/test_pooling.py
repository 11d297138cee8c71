import numpy as np
import pytest
import torch

from inference.endpoints.embeddings.postprocess import finish_vectors
from inference.handlers.pooling import pool

HIDDEN = torch.tensor(
    [[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]], [[-1.0, 0.0], [5.0, -2.0], [2.0, 6.0]]]
)
MASK = torch.tensor([[1, 1, 0], [1, 1, 1]])


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("mean", [[2.0, 3.0], [2.0, 4.0 / 3.0]]),
        ("cls", [[1.0, 2.0], [-1.0, 0.0]]),
        ("max", [[3.0, 4.0], [5.0, 6.0]]),
        ("lasttoken", [[3.0, 4.0], [2.0, 6.0]]),
        ("mean_sqrt_len", [[4.0 / 2**0.5, 6.0 / 2**0.5], [6.0 / 3**0.5, 4.0 / 3**0.5]]),
    ],
)
def test_pooling_ignores_padding(mode, expected):
    torch.testing.assert_close(pool(HIDDEN, MASK, mode), torch.tensor(expected))


def test_matryoshka_truncates_then_renormalises():
    pooled = np.array([[3.0, 4.0, 12.0]], dtype=np.float32)
    np.testing.assert_allclose(finish_vectors(pooled, 2, True), [[0.6, 0.8]], rtol=1e-6)
    np.testing.assert_allclose(finish_vectors(pooled, None, False), pooled)
    np.testing.assert_allclose(finish_vectors(pooled, None, True), pooled / 13.0, rtol=1e-6)
