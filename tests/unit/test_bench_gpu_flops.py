"""bench/gpu.py: the analytic FLOP count (by hand, and against torch's FLOP counter), the GPU peak table, the
Markdown table, the model-folder view, and one tiny end-to-end run on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from bench import gpu


def test_bert_base_by_hand():
    # BERT-base: 12 layers, h = 768, i = 3072; one sequence of 128 tokens.
    projections = 8 * 128 * 768**2  # 603,979,776
    attention = 4 * 128**2 * 768  # 50,331,648
    ffn = 4 * 128 * 768 * 3072  # 1,207,959,552
    assert gpu.layer_flops(128, 768, 3072) == projections + attention + ffn == 1_862_270_976
    assert gpu.encoder_flops([128], 12, 768, 3072) == 22_347_251_712  # ~22.3 GFLOP per 128-token sequence
    config = {"num_hidden_layers": 12, "hidden_size": 768, "intermediate_size": 3072}
    assert gpu.config_flops(config, [128, 128, 64]) == 2 * 22_347_251_712 + gpu.encoder_flops([64], 12, 768, 3072)


def _tiny_bert(layers: int = 2, hidden: int = 64, heads: int = 4, intermediate: int = 256):
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=128,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=128,
    )
    # Eager attention: the FLOP counter sees its two batched products (it has no formula for CPU SDPA kernels).
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    return BertModel(config, add_pooling_layer=False).eval()


def _counted(model, lengths: list[int]) -> int:
    """torch's FLOP count of one unpadded forward pass per sequence."""
    total = 0
    for n in lengths:
        ids = torch.randint(0, 128, (1, n))
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            model(input_ids=ids, attention_mask=torch.ones_like(ids))
        total += counter.get_total_flops()
    return total


@pytest.mark.parametrize("lengths", [[40], [7, 33, 96]])
def test_matches_torch_flop_counter_on_a_tiny_bert(lengths):
    model = _tiny_bert()
    analytic = gpu.encoder_flops(lengths, 2, 64, 256)
    counted = _counted(model, lengths)
    # Matrix products only on both sides: they agree exactly; a few % would still be fine.
    assert counted == pytest.approx(analytic, rel=0.03)


@pytest.mark.parametrize(
    ("name", "peak"),
    [
        ("NVIDIA H100 80GB HBM3", 989.0),
        ("NVIDIA H100 PCIe", 756.0),
        ("NVIDIA H100 NVL", 835.0),
        ("NVIDIA H200", 989.0),
        ("NVIDIA A100-SXM4-80GB", 312.0),
        ("NVIDIA A100 80GB PCIe", 312.0),
        ("NVIDIA A10G", 70.0),
        ("NVIDIA A10", 125.0),
        ("NVIDIA L40S", 362.0),
        ("NVIDIA L4", 121.0),
        ("Tesla T4", 65.0),
        ("NVIDIA GeForce RTX 4090", None),
    ],
)
def test_peak_by_device_name(name, peak):
    found = gpu.peak_tflops(name)
    assert (found[0] if found else None) == peak


def test_table_mfu_and_ratio_to_sentence_transformers():
    flops = gpu.encoder_flops([32] * 10, 6, 384, 1536)
    rows = [
        gpu.Row("this service", "bfloat16", "short (~32)", 10, 320, 0.001, flops),
        gpu.Row("sentence-transformers", "float16", "short (~32)", 10, 320, 0.002, flops),
    ]
    table = gpu.markdown_table(rows, peak=100.0).splitlines()
    ours, theirs = table[2].split(" | "), table[3].split(" | ")
    assert ours[5] == "320,000" and ours[10].rstrip(" |") == "2.00x"
    assert float(ours[8]) == pytest.approx(flops / 0.001 / 1e12, rel=1e-2)
    assert ours[9] == f"{100 * flops / 0.001 / 1e12 / 100:.1f}%"
    assert theirs[10].rstrip(" |") == "-"
    assert " n/a " in gpu.markdown_table(rows, peak=None).splitlines()[2]


def test_model_folder_view_sets_the_length_limit_only_when_needed(tmp_path: Path):
    source = tmp_path / "model"
    source.mkdir()
    (source / "config.json").write_text(json.dumps({"max_position_embeddings": 512}))
    (source / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 256, "do_lower_case": False}))
    (source / "model.safetensors").write_bytes(b"weights")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert gpu.model_folder(source, 256, tmp_path / "a").path == source
    view = gpu.model_folder(source, 512, tmp_path / "b")
    assert view.path != source and (view.path / "model.safetensors").read_bytes() == b"weights"
    assert json.loads((view.path / "sentence_bert_config.json").read_text())["max_seq_length"] == 512
    assert json.loads((source / "sentence_bert_config.json").read_text())["max_seq_length"] == 256
    (tmp_path / "c").mkdir()
    shorter = gpu.model_folder(source, 128, tmp_path / "c")
    assert json.loads((shorter.path / "sentence_bert_config.json").read_text())["max_seq_length"] == 128
    with pytest.raises(SystemExit):
        gpu.model_folder(source, 1024, tmp_path / "d")


def test_synthetic_inputs_have_the_advertised_lengths(minilm_dir: Path):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    short = [len(e.ids) for e in tokenizer.encode_batch(gpu.synthetic_texts("short", 200, 512))]
    assert min(short) >= 24 and max(short) <= 40 and 30 <= sum(short) / len(short) <= 34
    long = [len(e.ids) for e in tokenizer.encode_batch(gpu.synthetic_texts("long", 4, 512))]
    assert min(long) > 512


def test_cpu_run_end_to_end(tmp_path: Path):
    out = tmp_path / "gpu.md"
    args = ["--device", "cpu", "--batch", "2", "--long-tokens", "64", "--warmup", "0", "--repeats", "1"]
    assert gpu.main([*args, "--no-st", "--parity-dtypes", "none", "--out", str(out)]) == 0
    report = out.read_text()
    assert "| this service | float32 | short (~32) | 2 |" in report
    assert "| this service | float32 | long (64) | 2 | 64.0 |" in report
    assert "MFU" in report and "n/a" in report
