"""Tiny random BERT sequence classifiers saved with ``save_pretrained``: three labels, single-label (softmax), and
four labels with ``problem_type="multi_label_classification"`` (sigmoid). Offline; the tokenizer is the tiny
word-level one of the rerankers (``[CLS] a [SEP] b [SEP]`` pairs with token types)."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

from tests.tiny_rerankers import WORDS, _pair_tokenizer

SINGLE_LABELS = ("negative", "neutral", "positive")
MULTI_LABELS = ("sports", "politics", "science", "travel")


def build_tiny_classifier(folder: Path, labels: tuple[str, ...], problem_type: str | None,
                          max_length: int = 24, seed: int = 3) -> Path:  # fmt: skip
    """A BERT classifier with ``labels`` (id2label in order) and ``problem_type`` (None: left unset)."""
    specials = ["[PAD]", "[CLS]", "[SEP]", "[UNK]"]
    tokenizer = _pair_tokenizer(specials, "[CLS] $A [SEP]", "[CLS] $A [SEP] $B:1 [SEP]:1", "[UNK]")
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, model_max_length=max_length,
        pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", unk_token="[UNK]",
    )  # fmt: skip
    config = BertConfig(
        vocab_size=len(specials) + len(WORDS), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=64, pad_token_id=0, num_labels=len(labels),
        id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)},
        problem_type=problem_type, initializer_range=0.5,
    )  # fmt: skip
    # Large random weights (initializer_range 0.5): logits of a few units that differ between inputs, where the
    # default 0.02 gives nearly equal ones for every input.
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def build_single_label_classifier(folder: Path) -> Path:
    return build_tiny_classifier(folder, SINGLE_LABELS, None)


def build_multi_label_classifier(folder: Path) -> Path:
    return build_tiny_classifier(folder, MULTI_LABELS, "multi_label_classification", seed=4)
