"""Accelerator out-of-memory: the batch is halved until it fits; one input that never fits is a 503.

Runs on CPU. ``split_on_oom`` is checked on its own, then through the REAL handlers (the embedded
all-MiniLM-L6-v2 text handler, a tiny CLIP): a forward pre-hook on the handler's torch module raises
``torch.cuda.OutOfMemoryError`` (the class CUDA raises) when the batch it is given is too big, so these
tests fail if a handler's forward path stops going through ``split_on_oom``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from PIL import Image

from inference.api.app import create_app
from inference.errors import DeviceOutOfMemoryError
from inference.handlers import load_handler
from inference.handlers.device import split_on_oom
from tests.conftest import make_settings
from tests.tiny_models import build_tiny_clip

SAME_LENGTH = [f"sentence number {word} about search" for word in "one two three four five six seven eight".split()]
# About 200, 60 and 5 tokens: with 2 torch threads, the CPU text handler runs them in 3 length buckets.
MIXED_LENGTH = [f"text {i} " + "search " * words for i, words in enumerate([200, 60, 5] * 3)]


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


# -- the real handlers ---------------------------------------------------------------------------------------


def _first_tensor(args: tuple, kwargs: dict) -> torch.Tensor:
    return next(value for value in [*args, *kwargs.values()] if isinstance(value, torch.Tensor))


@contextmanager
def oom_when(module: torch.nn.Module, too_big: Callable[[torch.Tensor], bool]) -> Iterator[list[tuple[int, ...]]]:
    """``module``'s forward raises CUDA's out-of-memory error when ``too_big(first input tensor)``.

    Yields the shapes of the inputs that ran (did not raise), in call order.
    """
    ran: list[tuple[int, ...]] = []

    def hook(_module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        tensor = _first_tensor(args, kwargs)
        if too_big(tensor):
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory (simulated, input {tuple(tensor.shape)})")
        ran.append(tuple(tensor.shape))

    handle = module.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        yield ran
    finally:
        handle.remove()


def batch_above(limit: int) -> Callable[[torch.Tensor], bool]:
    return lambda tensor: tensor.shape[0] > limit


def longer_than(tokens: int) -> Callable[[torch.Tensor], bool]:
    return lambda tensor: tensor.shape[1] > tokens


@pytest.fixture(scope="module")
def minilm():
    """The real ``TextEmbeddingHandler`` on the embedded all-MiniLM-L6-v2, on CPU, run by torch (the OOM is raised
    from its torch model)."""
    return load_handler(make_settings(device="cpu", cpu_backend="torch"))


@pytest.fixture
def two_torch_threads() -> Iterator[None]:
    """The CPU length buckets depend on the torch thread count; pin it so the bucket cases are what they say."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    folder = build_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")
    return load_handler(make_settings(model_dir=folder, device="cpu"))


@pytest.mark.usefixtures("two_torch_threads")
@pytest.mark.parametrize(("texts", "passes"), [(SAME_LENGTH, 1), (MIXED_LENGTH, 3)], ids=["one-bucket", "buckets"])
@pytest.mark.parametrize("limit", [1, 2, 4])
def test_text_handler_splits_every_pass_on_oom_and_returns_the_same_vectors(minilm, texts, passes, limit):
    batch = minilm.tokenize(texts, None, True)
    with oom_when(minilm._model, batch_above(len(texts))) as ran:  # noqa: SLF001 - the handler's torch model
        want = minilm.forward(batch, None)
    assert len(ran) == passes  # the CPU length buckets this case is meant to cover
    with oom_when(minilm._model, batch_above(limit)) as ran:  # noqa: SLF001
        got = minilm.forward(batch, None)
    assert ran and max(shape[0] for shape in ran) <= limit
    assert sum(shape[0] for shape in ran) == len(texts)  # every input ran once, in a batch that fitted
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_text_handler_single_input_that_never_fits_is_device_out_of_memory(minilm):
    [ids] = minilm.tokenize(["a sentence that is too long for the simulated accelerator"], None, True)
    with oom_when(minilm._model, longer_than(8)), pytest.raises(DeviceOutOfMemoryError):  # noqa: SLF001
        minilm.forward([ids], None)
    with oom_when(minilm._model, longer_than(8)), pytest.raises(DeviceOutOfMemoryError):  # noqa: SLF001
        minilm.forward_tokens(ids, None)  # late chunking's pass


def test_oom_through_the_app_splits_and_answers_like_without_oom(minilm):
    app = create_app(make_settings(device="cpu", log_level="ERROR"), lambda _: minilm, load_in_background=False)
    client = app.test_client()
    body = {"input": MIXED_LENGTH}
    want = client.post("/invocations", json=body)
    with oom_when(minilm._model, batch_above(2)) as ran:  # noqa: SLF001
        got = client.post("/invocations", json=body)
    assert got.status_code == 200 and want.status_code == 200
    assert max(shape[0] for shape in ran) <= 2
    vectors = [np.array([d["embedding"] for d in r.get_json()["data"]]) for r in (got, want)]
    np.testing.assert_allclose(*vectors, atol=1e-5)
    assert client.get("/ping").status_code == 200


def test_oom_on_a_single_input_is_a_503_json_and_the_app_keeps_serving(minilm):
    app = create_app(make_settings(device="cpu", log_level="ERROR"), lambda _: minilm, load_in_background=False)
    client = app.test_client()
    with oom_when(minilm._model, longer_than(8)):  # noqa: SLF001
        response = client.post("/invocations", json={"input": ["a b c d e f g h i j"]})
        assert response.status_code == 503 and response.headers["Retry-After"] == "1"
        assert response.get_json()["error"]["type"] == "device_out_of_memory"
        assert client.post("/invocations", json={"input": ["short"]}).status_code == 200


@pytest.mark.parametrize("limit", [1, 2])
def test_clip_text_and_images_split_on_oom_and_return_the_same_vectors(clip, limit):
    texts = clip.tokenize(["hello world", "bonjour le monde", "hola mundo", "the world", "a"], None, True)
    colours = [(200, 10, 10), (10, 200, 10), (10, 10, 200), (90, 90, 90), (250, 250, 0)]
    images = clip.preprocess_images([Image.new("RGB", (40, 50), colour) for colour in colours])
    want_text, want_images = clip.forward(texts, None), clip.forward_images(images)
    with oom_when(clip._model.text_model, batch_above(limit)) as ran:  # noqa: SLF001 - the text tower
        np.testing.assert_allclose(clip.forward(texts, None), want_text, atol=1e-5)
    assert ran and max(shape[0] for shape in ran) <= limit
    with oom_when(clip._model.vision_model, batch_above(limit)) as ran:  # noqa: SLF001 - the vision tower
        np.testing.assert_allclose(clip.forward_images(images), want_images, atol=1e-5)
    assert ran and max(shape[0] for shape in ran) <= limit


def test_clip_single_input_that_never_fits_is_device_out_of_memory(clip):
    with oom_when(clip._model.text_model, batch_above(0)), pytest.raises(DeviceOutOfMemoryError):  # noqa: SLF001
        clip.forward(clip.tokenize(["hello world"], None, True), None)
    images = clip.preprocess_images([Image.new("RGB", (40, 50), (10, 10, 10))])
    with oom_when(clip._model.vision_model, batch_above(0)), pytest.raises(DeviceOutOfMemoryError):  # noqa: SLF001
        clip.forward_images(images)
