"""The memory plan from torch's side (inference/handlers/memory.py): what a loaded model's config and the free
CUDA memory give (the device reading stubbed: no GPU here), and the per-token estimate against the peak the CPU
profiler measures for real padded forward passes of small Qwen3 and BERT models."""

from __future__ import annotations

import pytest
import torch
from torch.profiler import ProfilerActivity, profile
from transformers import BertConfig, BertModel, Qwen3Config, Qwen3Model

from inference.core.memory_plan import ContextTooLongError, shape_from_config
from inference.handlers.loading import LoadedModel
from inference.handlers.memory import model_bytes, plan_forward_tokens

GB = 10**9
QWEN3_06B = Qwen3Config(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
                        num_key_value_heads=8, head_dim=128, max_position_embeddings=32768)  # fmt: skip


def loaded_on(device: str, config=QWEN3_06B) -> LoadedModel:
    model = torch.nn.Linear(1000, 1000, dtype=torch.bfloat16)  # stands in for the weights: 2 MB
    return LoadedModel(config, None, model, torch.device(device), torch.bfloat16)


def test_model_bytes_counts_parameters_and_buffers():
    model = torch.nn.BatchNorm1d(10)  # 20 parameters; running mean and variance, and an int64 batch count
    assert model_bytes(model) == 20 * 4 + 20 * 4 + 8


def test_cpu_is_not_planned():
    assert plan_forward_tokens(loaded_on("cpu"), 32768) is None


def test_cuda_plan_reads_free_memory(monkeypatch):
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (78 * GB, 80 * GB))
    tokens = plan_forward_tokens(loaded_on("cuda"), 32768)
    per_token = shape_from_config(QWEN3_06B.to_dict(), 2).bytes_per_token(32768)
    assert tokens == int(78 * GB * 0.8) // per_token
    assert tokens >= 32768
    reserved = plan_forward_tokens(loaded_on("cuda"), 32768, reserve=10 * GB)
    assert reserved == (int(78 * GB * 0.8) - 10 * GB) // per_token


def test_cuda_refuses_a_context_that_does_not_fit(monkeypatch):
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (GB, 2 * GB))
    with pytest.raises(ContextTooLongError, match=r"one 32,768-token input .* EMB_MAX_LENGTH=\d+ or less"):
        plan_forward_tokens(loaded_on("cuda"), 32768)
    assert plan_forward_tokens(loaded_on("cuda"), 1024) is not None


def test_a_config_without_a_shape_is_not_planned(monkeypatch):
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (GB, 2 * GB))
    assert plan_forward_tokens(loaded_on("cuda", BertConfig(num_hidden_layers=0)), 32768) is None


def measured_peak(model, ids: torch.Tensor, mask: torch.Tensor) -> int:
    """The most CPU memory allocated at once during one forward pass (the profiler's allocation events)."""
    with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        model(input_ids=ids, attention_mask=mask)
    live = peak = 0
    for event in sorted(prof.profiler.kineto_results.events(), key=lambda e: e.start_ns()):
        if event.name() == "[memory]":
            live += event.nbytes()
            peak = max(peak, live)
    return peak


def small_model(kind: str):
    if kind == "qwen3":
        config = Qwen3Config(vocab_size=1000, hidden_size=256, num_hidden_layers=2, head_dim=64,
                             num_attention_heads=4, num_key_value_heads=2, intermediate_size=768,
                             max_position_embeddings=4096)  # fmt: skip
        model = Qwen3Model(config)
    else:
        config = BertConfig(vocab_size=1000, hidden_size=256, num_hidden_layers=2, num_attention_heads=4,
                            intermediate_size=1024, max_position_embeddings=4096)  # fmt: skip
        model = BertModel(config)
    model.config._attn_implementation = "sdpa"  # noqa: SLF001 - what load_hf_model gets by default
    return config, model.eval()


@pytest.mark.parametrize("kind", ["qwen3", "bert"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize(("rows", "width", "short"), [(1, 2048, 2048), (2, 2048, 1000), (8, 256, 100)])
def test_estimate_bounds_the_measured_peak(kind, dtype, rows, width, short):
    torch.manual_seed(0)
    config, model = small_model(kind)
    model = model.to(dtype)
    ids = torch.randint(5, 900, (rows, width))
    mask = torch.ones(rows, width, dtype=torch.long)
    mask[1:, short:] = 0  # padded rows: the materialised attention mask
    peak = measured_peak(model, ids, mask)
    shape = shape_from_config(config.to_dict(), torch.empty((), dtype=dtype).element_size())
    estimate = rows * width * shape.bytes_per_token(width)
    assert peak > 0
    assert peak <= estimate, f"measured {peak:,} bytes, estimated {estimate:,}"
