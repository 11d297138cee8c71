"""A tiny random Qwen3 embedder (sentence-transformers folder: last-token pooling, Normalize, the MiniLM tokenizer)
with four random LoRA task adapters saved by PEFT under ``adapters/<task>/`` (jina-embeddings-v5's tasks).

PEFT starts ``lora_B`` at zero (an adapter that changes nothing); here it is random, so every task's vectors differ.
The ``retrieval`` task also has a prompt (``Query: ``), as a sentence-transformers prompt of the same name.
"""

from __future__ import annotations

from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules import Normalize, Transformer
from sentence_transformers.sentence_transformer.modules import Pooling
from transformers import AutoTokenizer, Qwen3Config, Qwen3Model

from inference.model_dir import embedded_model_dir

LORA_TASKS = ("retrieval", "text-matching", "clustering", "classification")
PROMPTS = {"retrieval": "Query: "}
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def build_tiny_lora_qwen3(root: Path) -> Path:
    """``root/model``: the sentence-transformers folder with ``adapters/<task>/`` for every task of LORA_TASKS."""
    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir())
    config = Qwen3Config(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, head_dim=16,
                         num_attention_heads=2, num_key_value_heads=1, intermediate_size=37,
                         max_position_embeddings=128)  # fmt: skip
    torch.manual_seed(0)
    Qwen3Model(config).save_pretrained(root / "base")
    tokenizer.save_pretrained(root / "base")
    modules = [Transformer(str(root / "base"), max_seq_length=64), Pooling(32, pooling_mode="lasttoken"), Normalize()]
    folder = root / "model"
    SentenceTransformer(modules=modules, prompts=PROMPTS, device="cpu").save(str(folder))
    for seed, task in enumerate(LORA_TASKS, start=1):
        torch.manual_seed(seed)
        lora = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.1, target_modules=TARGETS)
        model = get_peft_model(Qwen3Model.from_pretrained(root / "base"), lora)
        with torch.no_grad():
            for name, weight in model.named_parameters():
                if "lora_B" in name:
                    weight.normal_(0, 0.5)
        model.save_pretrained(folder / "adapters" / task)
    return folder
