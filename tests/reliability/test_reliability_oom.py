"""Accelerator out-of-memory: the batch is halved until it fits; one input that never fits is a 503.

Runs on CPU: the forward raises ``torch.cuda.OutOfMemoryError`` (the class CUDA raises) above a batch size.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inference.api.app import create_app
from inference.errors import DeviceOutOfMemoryError
from inference.handlers.device import split_on_oom
from inference.handlers.fake import FakeEmbeddingHandler
from tests.conftest import make_settings


def oom_above(limit: int, calls: list[int]):
    def forward(batch):
        calls.append(len(batch))
        if len(batch) > limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return np.array([[float(x), float(x) * 2] for x in batch], dtype=np.float32)

    return forward


@pytest.mark.parametrize(("size", "limit"), [(1, 1), (2, 1), (7, 3), (64, 5), (33, 32), (100, 1)])
def test_split_on_oom_returns_every_row_in_order(size, limit):
    calls: list[int] = []
    out = split_on_oom(oom_above(limit, calls), list(range(size)))
    np.testing.assert_array_equal(out[:, 0], np.arange(size))
    assert max(c for c in calls if c <= limit) <= limit
    assert sum(c for c in calls if c <= limit) == size  # every input ran exactly once in a batch that fitted


def test_a_single_input_that_never_fits_is_a_503():
    with pytest.raises(DeviceOutOfMemoryError) as info:
        split_on_oom(oom_above(0, []), ["too big"])
    assert info.value.status == 503 and info.value.retry_after == 1


class _OomFake(FakeEmbeddingHandler):
    """The fake model behind a device that runs out of memory above 2 inputs per forward."""

    def forward(self, batch, task):
        parent = super().forward
        return split_on_oom(lambda part: parent(part, task) if len(part) <= 2 else _raise(), batch)


def _raise():
    raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")


def test_oom_through_the_app_splits_and_answers_like_without_oom():
    settings = make_settings(handler="fake", log_level="ERROR")
    normal = create_app(settings, load_in_background=False).test_client()
    oom = create_app(settings, lambda s: _OomFake(s), load_in_background=False).test_client()
    body = {"input": [f"text number {i}" for i in range(9)]}
    want, got = normal.post("/invocations", json=body), oom.post("/invocations", json=body)
    assert got.status_code == 200
    assert got.get_json()["data"] == want.get_json()["data"]
    assert oom.get("/ping").status_code == 200


def test_oom_on_a_single_input_is_a_503_json_and_the_app_keeps_serving():
    class NeverFits(FakeEmbeddingHandler):
        def forward(self, batch, task):
            parent = super().forward
            return split_on_oom(lambda part: _raise() if any(len(ids) > 5 for ids in part) else parent(part, task),
                                batch)

    app = create_app(make_settings(handler="fake", log_level="ERROR"), NeverFits, load_in_background=False)
    client = app.test_client()
    response = client.post("/invocations", json={"input": ["a b c d e f g h"]})
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert response.get_json()["error"]["type"] == "device_out_of_memory"
    assert client.post("/invocations", json={"input": ["short"]}).status_code == 200
