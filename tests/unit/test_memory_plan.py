"""The forward-pass memory plan (inference/core/memory_plan.py): the per-token formula on known shapes, the plan
on 80 GB and 2 GB cards for a 32K-context Qwen3-Embedding-0.6B-class model, the refusal, and the engine's rule
for the batcher's token budget (never below one max-length sequence)."""

from __future__ import annotations

import dataclasses

import pytest

from inference.core.engine import ModelEngine
from inference.core.forward import TEXT
from inference.core.memory_plan import (
    HEADROOM_MIN_BYTES,
    ContextTooLongError,
    DeviceShare,
    ModelShape,
    batch_token_budget,
    plan_memory,
    shape_from_config,
    usable_bytes,
)
from inference.errors import HostUnfitError
from inference.handlers.fake import FakeEmbeddingHandler
from tests.conftest import make_settings

GB = 10**9
TINY = ModelShape(hidden=8, intermediate=16, layers=2, heads=2, kv_heads=1, head_dim=4, dtype_bytes=4)
# Qwen3-Embedding-0.6B's config.json (bf16), and the 8B's.
QWEN3_06B = {"hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28, "num_attention_heads": 16,
             "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151669, "max_position_embeddings": 32768}
QWEN3_8B = {**QWEN3_06B, "hidden_size": 4096, "intermediate_size": 12288, "num_hidden_layers": 36,
            "num_attention_heads": 32}  # fmt: skip
WEIGHTS_06B = 1_191_586_816  # 595.8M parameters in bf16
WEIGHTS_8B = 15_131_000_000


def test_tiny_shape_by_hand():
    # resident 4h + 2d = 40; attention (5H + 3K) d + h = 60 > mlp 3i + h = 56; times 4 bytes
    assert TINY.linear_bytes_per_token() == 4 * (40 + 60)
    assert TINY.mask_bytes_per_pair() == 2 + 2 * 4
    assert TINY.bytes_per_token(10) == 400 + 10 * 10
    with_logits = dataclasses.replace(TINY, vocab=100)
    assert with_logits.bytes_per_token(10) == 500 + 100 * (4 + 4)


def test_mlp_dominates_when_wide():
    wide = dataclasses.replace(TINY, intermediate=100)
    assert wide.linear_bytes_per_token() == 4 * (40 + 3 * 100 + 8)


def test_shape_from_qwen3_config():
    shape = shape_from_config(QWEN3_06B, 2)
    assert shape == ModelShape(hidden=1024, intermediate=3072, layers=28, heads=16, kv_heads=8, head_dim=128,
                               dtype_bytes=2)  # fmt: skip
    # attention (80 + 24) x 128 + 1024 = 14336 > mlp 10240; resident 4096 + 256; bf16
    assert shape.linear_bytes_per_token() == 2 * (4352 + 14336)
    assert shape.bytes_per_token(32768) == 37376 + 32768 * 6
    assert shape_from_config(QWEN3_06B, 2, logits=True).vocab == 151669


def test_shape_from_bert_and_nested_configs():
    bert = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072}
    shape = shape_from_config(bert, 4)
    assert (shape.kv_heads, shape.head_dim, shape.vocab) == (12, 64, 0)
    assert shape_from_config({"text_config": bert, "model_type": "clip"}, 4) == shape
    assert shape_from_config({"d_model": 512, "n_layer": 4, "n_head": 8}, 2).intermediate == 2048
    assert shape_from_config({"hidden_size": 768}, 4) is None
    assert shape_from_config({"hidden_size": True, "num_hidden_layers": 2, "num_attention_heads": 2}, 4) is None


def test_width_raises_cost_per_token():
    shape = shape_from_config(QWEN3_06B, 2)
    assert shape.bytes_per_token(512) < shape.bytes_per_token(8192) < shape.bytes_per_token(32768)


def test_qwen3_06b_at_32k_fits_an_80gb_card():
    shape = shape_from_config(QWEN3_06B, 2)
    free = 80 * GB - WEIGHTS_06B - GB // 2  # the CUDA context
    plan = plan_memory(shape, model_bytes=WEIGHTS_06B, free_bytes=free, width=32768)
    assert plan.tokens >= 32768
    assert plan.tokens * plan.bytes_per_token <= 0.8 * free  # the headroom is never planned for
    assert plan.tokens == usable_bytes(free) // shape.bytes_per_token(32768)
    assert "tokens per forward pass" in plan.describe() and "32,768 tokens" in plan.describe()


def test_qwen3_8b_at_32k_fits_an_80gb_card():
    shape = shape_from_config(QWEN3_8B, 2)
    plan = plan_memory(shape, model_bytes=WEIGHTS_8B, free_bytes=80 * GB - WEIGHTS_8B - GB // 2, width=32768)
    assert plan.tokens >= 32768


def test_qwen3_06b_at_32k_is_refused_on_a_2gb_card():
    shape = shape_from_config(QWEN3_06B, 2)
    free = 2 * 1024**3 - WEIGHTS_06B - 300 * 1024**2
    with pytest.raises(ContextTooLongError) as refused:
        plan_memory(shape, model_bytes=WEIGHTS_06B, free_bytes=free, width=32768)
    assert isinstance(refused.value, HostUnfitError)  # its message reaches /ping
    message = str(refused.value)
    fits = shape.longest_fitting(usable_bytes(free))
    assert 0 < fits < 32768
    for part in ("32,768-token", f"{shape.bytes_per_token(32768):,} bytes per token", "1.11 GiB of weights",
                 f"{free / 1024**3:.2f} GiB free", f"EMB_MAX_LENGTH={fits} or less"):  # fmt: skip
        assert part in message
    assert plan_memory(shape, model_bytes=WEIGHTS_06B, free_bytes=free, width=fits).tokens >= fits


def test_a_set_keeps_the_later_weights_free_and_splits_the_rest():
    shape = shape_from_config(QWEN3_06B, 2)
    free = 24 * GB - WEIGHTS_06B
    share = DeviceShare(later_weight_bytes=WEIGHTS_8B, models=2)
    plan = plan_memory(shape, model_bytes=WEIGHTS_06B, free_bytes=free, width=8192, share=share)
    assert plan.tokens == (usable_bytes(free, WEIGHTS_8B) // 2) // shape.bytes_per_token(8192)
    assert plan.tokens < plan_memory(shape, model_bytes=WEIGHTS_06B, free_bytes=free, width=8192).tokens // 2
    with pytest.raises(ContextTooLongError, match=r"GiB kept for the weights of the models still to load, the rest "
                       r"shared by 2 models"):  # fmt: skip
        plan_memory(shape, model_bytes=WEIGHTS_06B, free_bytes=free, width=32768,
                    share=DeviceShare(later_weight_bytes=15 * GB, models=2))  # fmt: skip


def test_no_room_at_all_says_so():
    with pytest.raises(ContextTooLongError, match="use a device with more memory") as refused:
        plan_memory(TINY, model_bytes=GB, free_bytes=HEADROOM_MIN_BYTES, width=16)
    assert "EMB_MAX_LENGTH" not in str(refused.value)


@pytest.mark.parametrize("usable", [0, 399, 500, 10**6, 7 * 10**9 + 13])
def test_longest_fitting_is_the_longest(usable):
    length = TINY.longest_fitting(usable)
    assert length * TINY.bytes_per_token(length) <= usable
    assert (length + 1) * TINY.bytes_per_token(length + 1) > usable


def test_reserve_comes_off_the_usable_memory():
    assert usable_bytes(10 * GB, reserve=GB) == usable_bytes(10 * GB) - GB
    assert usable_bytes(10 * GB) == 8 * GB
    assert usable_bytes(GB) == GB - HEADROOM_MIN_BYTES  # the fixed minimum where 20% is less
    assert usable_bytes(HEADROOM_MIN_BYTES // 2) == 0


@pytest.mark.parametrize(
    ("configured", "max_length", "planned", "budget"),
    [
        (16384, 512, None, 16384),  # CPU: no plan, the setting
        (16384, 32768, None, 32768),  # never below one max-length sequence
        (16384, 512, 4000, 4000),  # the plan caps the setting
        (16384, 512, 100_000, 16384),  # the setting caps a roomy plan
        (16384, 32768, 40_000, 32768),
        (262_144, 32768, 100_000, 100_000),
    ],
)
def test_batch_token_budget(configured, max_length, planned, budget):
    assert batch_token_budget(configured, max_length, planned) == budget


class PlannedFake(FakeEmbeddingHandler):
    """The fake model, 8 tokens long at most, with a memory plan of ``planned`` tokens per pass; records each
    pass's batch."""

    def __init__(self, settings, planned):
        super().__init__(settings)
        self._info = dataclasses.replace(self._info, max_length=8, max_forward_tokens=planned)
        self.batches = []

    def forward(self, batch, task):
        self.batches.append([len(ids) for ids in batch])
        return super().forward(batch, task)


@pytest.mark.parametrize(("planned", "most"), [(None, 6), (20, 5), (12, 3), (5, 2)])
def test_engine_caps_its_batches_by_the_plan(planned, most):
    settings = make_settings(warmup=False, max_batch_tokens=10_000, max_batch_size=64, batch_wait_ms=0.0,
                             max_queue_inputs=1000, request_deadline_s=60.0)  # fmt: skip
    handler = PlannedFake(settings, planned)
    engine = ModelEngine(settings, lambda _settings: handler)
    engine.load()
    assert engine.ready, engine.load_error
    try:
        vectors = engine.submit([[1, 5, 6, 2]] * 6, (TEXT, None))
    finally:
        engine.stop()
    assert vectors.shape == (6, handler.info.dimensions)
    # 4-token sequences: planned // 4 of them, or two (one 8-token sequence's worth) where the plan says less
    assert max(len(batch) for batch in handler.batches) == most
    assert sum(len(batch) for batch in handler.batches) == 6


def test_refused_model_stays_unloaded_and_says_why():
    def loader(_settings):
        plan_memory(TINY, model_bytes=GB, free_bytes=GB, width=10**6)
        raise AssertionError("unreachable")

    engine = ModelEngine(make_settings(warmup=False, request_deadline_s=60.0), loader)
    engine.load()
    assert not engine.ready
    assert "EMB_MAX_LENGTH=" in engine.not_ready_reason()
