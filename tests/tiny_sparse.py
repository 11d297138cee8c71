"""A tiny random SPLADE model: ``BertForMaskedLM`` (vocabulary 30522, hidden 32, 2 layers) with the real
all-MiniLM-L6-v2 tokenizer, saved as a sentence-transformers ``SparseEncoder`` folder by sentence-transformers'
own ``save`` (``MLMTransformer`` + ``SpladePooling``: ``modules.json``, ``1_SpladePooling/config.json``,
``config_sentence_transformers.json`` with ``model_type: SparseEncoder``). Offline.

The MLM head's bias is lowered so each text activates a few hundred vocabulary entries (as a trained SPLADE
model's sparse vectors), not half the vocabulary as a random head with a zero bias does."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

from inference.model_dir import embedded_model_dir

MAX_SEQ_LENGTH = 32
HEAD_BIAS = -3.0


def build_tiny_splade(folder: Path, max_seq_length: int = MAX_SEQ_LENGTH, seed: int = 5,
                      prompts: dict[str, str] | None = None) -> Path:  # fmt: skip
    """Save the tiny SPLADE model to ``folder`` (the model's own files in it, the pooling in 1_SpladePooling)."""
    from sentence_transformers import SparseEncoder
    from sentence_transformers.sparse_encoder.modules import MLMTransformer, SpladePooling

    hf = folder.parent / f"{folder.name}-mlm"
    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=64, pad_token_id=0, initializer_range=0.2,
    )  # fmt: skip
    torch.manual_seed(seed)
    model = BertForMaskedLM(config).eval()
    with torch.no_grad():
        model.cls.predictions.bias.fill_(HEAD_BIAS)
    model.save_pretrained(hf)
    tokenizer.save_pretrained(hf)
    transformer = MLMTransformer(str(hf), max_seq_length=max_seq_length)
    encoder = SparseEncoder(modules=[transformer, SpladePooling(pooling_strategy="max")], prompts=prompts or {},
                            device="cpu")  # fmt: skip
    encoder.save(str(folder))
    return folder
