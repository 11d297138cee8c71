"""Pure parts of the client: request splitting, decoding (against the server's own encoder), backoff."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embedding_client import EmbeddingClient, plan_batches
from embedding_client.wire import dumps

OPTIONS = {"embedding_type": ["base64"], "normalized": True, "truncate": True}


def body_size(items: list[object]) -> int:
    return len(dumps({**OPTIONS, "input": items}))


@settings(max_examples=200, deadline=None)
@given(
    items=st.lists(st.one_of(st.text(min_size=1, max_size=300), st.fixed_dictionaries({"image": st.text(max_size=80)})),
                   min_size=1, max_size=60),
    batch_size=st.integers(1, 16),
    limit=st.integers(400, 4000),
)  # fmt: skip
def test_batches_cover_every_input_in_order_within_both_limits(
    items: list[object], batch_size: int, limit: int
) -> None:
    try:
        batches = plan_batches(items, OPTIONS, batch_size, limit)
    except ValueError as err:  # only when one input alone cannot fit
        assert any(body_size([item]) > limit for item in items), err
        return
    assert [i for batch in batches for i in batch] == list(range(len(items)))
    for batch in batches:
        chunk = [items[i] for i in batch]
        assert 1 <= len(chunk) <= batch_size and body_size(chunk) <= limit
    for this, after in zip(batches, batches[1:], strict=False):  # greedy: the next input did not fit
        merged = [items[i] for i in [*this, after[0]]]
        assert len(merged) > batch_size or body_size(merged) > limit


def test_an_input_larger_than_the_body_limit_is_named() -> None:
    with pytest.raises(ValueError, match=r"input\[1\] alone makes a \d+-byte body"):
        plan_batches(["ok", "x" * 1000], OPTIONS, 10, 500)


def test_body_size_counts_utf8_bytes() -> None:
    items = ["é" * 100, "ü" * 100]  # 200 bytes each in UTF-8
    assert [len(b) for b in plan_batches(items, OPTIONS, 10, body_size(items) - 1)] == [1, 1]
    assert [len(b) for b in plan_batches(items, OPTIONS, 10, body_size(items))] == [2]


class Recorder:
    """An in-memory transport, for checks that need no server: it records bodies, answers nothing."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def post(self, body: bytes) -> bytes:
        self.bodies.append(body)
        raise AssertionError("not expected to be called")


def test_late_chunking_must_fit_one_request() -> None:
    client = EmbeddingClient(transport=Recorder(), batch_size=2)
    with pytest.raises(ValueError, match="late_chunking needs one request, but the inputs need 2"):
        client.embed(["a", "b", "c"], late_chunking=True)


def test_input_and_constructor_checks() -> None:
    client = EmbeddingClient(transport=Recorder())
    with pytest.raises(ValueError, match="must not be empty"):
        client.embed([])
    with pytest.raises(TypeError, match="inputs must be"):
        client.embed([{"text": "a", "extra": "b"}])
    with pytest.raises(ValueError, match="exactly one"):
        EmbeddingClient()
    with pytest.raises(ValueError, match="exactly one"):
        EmbeddingClient("endpoint", transport=Recorder())


def test_backoff_is_full_jitter_capped_and_floored_by_retry_after() -> None:
    client = EmbeddingClient(transport=Recorder(), backoff_base_s=0.5, backoff_max_s=8)
    for draw, attempt, retry_after, delay in [
        (1.0, 0, None, 0.5), (1.0, 3, None, 4.0), (1.0, 10, None, 8.0), (0.0, 5, None, 0.0),
        (0.1, 0, 3.0, 3.0), (0.5, 0, 60.0, 8.0),
    ]:  # fmt: skip
        client._random = lambda draw=draw: draw
        assert client.backoff_delay(attempt, retry_after) == pytest.approx(delay)


def test_the_package_imports_neither_torch_nor_boto3_nor_requests() -> None:
    code = "import sys, embedding_client; print(sorted({'torch', 'boto3', 'requests', 'flask'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
