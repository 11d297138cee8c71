"""Tiny random cross-encoders (one label) saved with ``save_pretrained``: a BERT one with token types and an
XLM-RoBERTa one without (the jina-reranker-v2 family's base). Offline; loaded through the real loading code."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    PreTrainedTokenizerFast,
    XLMRobertaConfig,
    XLMRobertaForSequenceClassification,
)

WORDS = (
    "the a of to and in is was for on with as by at from hello world bonjour le monde hola mundo paris capital "
    "france city river search engine vector query document rank best answer".split()
)


def _pair_tokenizer(specials: list[str], single: str, pair: str, unk: str) -> Tokenizer:
    vocab = {tok: i for i, tok in enumerate(specials + WORDS)}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token=unk))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    used = sorted({tok for tok in specials if tok in single or tok in pair})
    tokenizer.post_processor = processors.TemplateProcessing(
        single=single, pair=pair, special_tokens=[(tok, vocab[tok]) for tok in used]
    )
    return tokenizer


def build_tiny_bert_reranker(folder: Path, max_length: int = 24) -> Path:
    """BERT cross-encoder: ``[CLS] q [SEP] d [SEP]`` with token types 0/1; max length ``max_length``."""
    specials = ["[PAD]", "[CLS]", "[SEP]", "[UNK]"]
    tokenizer = _pair_tokenizer(specials, "[CLS] $A [SEP]", "[CLS] $A [SEP] $B:1 [SEP]:1", "[UNK]")
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, model_max_length=max_length,
        pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", unk_token="[UNK]",
    )  # fmt: skip
    config = BertConfig(
        vocab_size=len(specials) + len(WORDS), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=64, num_labels=1, pad_token_id=0,
    )  # fmt: skip
    torch.manual_seed(1)
    model = BertForSequenceClassification(config).eval()
    with torch.no_grad():
        model.classifier.weight.mul_(100)  # random init gives logits near 0: spread the scores so ranks differ
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def build_tiny_xlmr_reranker(folder: Path, max_positions: int = 34) -> Path:
    """XLM-RoBERTa cross-encoder: ``<s> q </s></s> d </s>``, no token types; max length ``max_positions - 2``."""
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    tokenizer = _pair_tokenizer(specials, "<s> $A </s>", "<s> $A </s> </s> $B </s>", "<unk>")
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, model_max_length=max_positions - 2,
        model_input_names=["input_ids", "attention_mask"],
        bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>", cls_token="<s>", sep_token="</s>",
    )  # fmt: skip
    config = XLMRobertaConfig(
        vocab_size=len(specials) + len(WORDS), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=max_positions, pad_token_id=1, bos_token_id=0,
        eos_token_id=2, num_labels=1, type_vocab_size=1,
    )  # fmt: skip
    torch.manual_seed(2)
    model = XLMRobertaForSequenceClassification(config).eval()
    with torch.no_grad():
        model.classifier.out_proj.weight.mul_(100)
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


STANDIN = Path(__file__).resolve().parent / "model" / "reranker_standin"


def build_remote_code_reranker(folder: Path) -> Path:
    """A tiny XLM-R reranker whose config and model classes come from ``auto_map`` (remote code in the folder),
    like jina-reranker-v2-base-multilingual; its logits are scaled by ``score_scale`` (remote code only)."""
    import json
    import shutil

    build_tiny_xlmr_reranker(folder)
    for name in ("configuration_reranker.py", "modeling_reranker.py"):
        shutil.copy(STANDIN / name, folder / name)
    config = json.loads((folder / "config.json").read_text())
    config.update({
        "architectures": ["RerankerForSequenceClassification"],
        "score_scale": 3.0,
        "auto_map": {
            "AutoConfig": "configuration_reranker.RerankerFlashConfig",
            "AutoModelForSequenceClassification": "modeling_reranker.RerankerForSequenceClassification",
        },
    })
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    return folder
