"""A tiny random jina-reranker-v3-style listwise reranker saved with ``save_pretrained`` (a ``Qwen3ForCausalLM`` with
an MLP ``projector``, class name ``JinaForRanking``, a word-level tokenizer with the chat and scoring special
tokens), and the model card's ``JinaForRanking.rerank`` transcribed to run with transformers on such a folder (one
prompt per block, unpadded, as the card runs it). Offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers
from torch import nn
from transformers import AutoTokenizer, PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

from tests.tiny_rerankers import WORDS

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<|embed_token|>",
            "<|rerank_token|>"]  # fmt: skip
TEMPLATE_WORDS = '<unk> < > passage id query =" "> </ / I will provide you with passages Rank'.split()


class JinaForRanking(Qwen3ForCausalLM):
    """The card's model class as far as its weights go: the decoder and ``projector`` (hidden -> hidden/2 -> 12)."""

    def __init__(self, config: Qwen3Config) -> None:
        super().__init__(config)
        half = config.hidden_size // 2
        self.projector = nn.Sequential(nn.Linear(config.hidden_size, half, bias=False), nn.ReLU(),
                                       nn.Linear(half, 12, bias=False))  # fmt: skip
        self.post_init()


def build_tiny_listwise_reranker(folder: Path, max_length: int = 2400) -> Path:
    """A 2-layer, width-32 ``JinaForRanking`` whose tokenizer's ``model_max_length`` is ``max_length`` (the
    block packing's room: at 2400, a block holds a few documents of some tens of words)."""
    words = list(dict.fromkeys(TEMPLATE_WORDS + list(WORDS)))
    tokenizer = Tokenizer(models.WordLevel(vocab={token: i for i, token in enumerate(words)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in SPECIALS])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, model_max_length=max_length, model_input_names=["input_ids", "attention_mask"],
        eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token="<unk>",
    )  # fmt: skip
    config = Qwen3Config(
        vocab_size=len(fast), hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, max_position_embeddings=8192, tie_word_embeddings=True,
        pad_token_id=fast.pad_token_id, eos_token_id=fast.eos_token_id,
    )  # fmt: skip
    torch.manual_seed(5)
    model = JinaForRanking(config).eval()
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def _card_prompt(query: str, docs: list[str]) -> str:
    """The card's ``format_docs_prompts_func`` (no instruction, ``no_thinking=True``)."""
    specials = ["<|rerank_token|>", "<|embed_token|>"]
    for token in specials:
        query = query.replace(token, "")
        docs = [doc.replace(token, "") for doc in docs]
    prefix = (
        "<|im_start|>system\nYou are a search relevance expert who can determine a ranking of the passages based on "
        "how relevant they are to the query. If the query is a question, how relevant a passage is depends on how "
        "well it answers the question. If not, try to analyze the intent of the query and assess how well each "
        "passage satisfies the intent. If an instruction is provided, you should follow the instruction when "
        "determining the ranking.<|im_end|>\n<|im_start|>user\n"
    )
    suffix = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    prompt = (f"I will provide you with {len(docs)} passages, each indicated by a numerical identifier. "
              f"Rank the passages based on their relevance to query: {query}\n")  # fmt: skip
    prompt += "\n".join(f'<passage id="{i}">\n{doc}<|embed_token|>\n</passage>' for i, doc in enumerate(docs))
    prompt += f"\n<query>\n{query}<|rerank_token|>\n</query>"
    return prefix + prompt + suffix


def reference_scores(folder: Path, query: str, documents: list[str]) -> np.ndarray:
    """``JinaForRanking.rerank``'s scores in document order: texts cut (query 512, documents 2048 tokens), blocks
    of at most 125 documents within ``model_max_length - 2 * query tokens``, the query vector averaged over blocks
    weighted by each block's best ``(1 + cosine) / 2``, every document's cosine with it."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = JinaForRanking.from_pretrained(folder).eval()
    doc_id, query_id = tokenizer.convert_tokens_to_ids(["<|embed_token|>", "<|rerank_token|>"])
    docs, lengths = [], []
    for doc in documents:
        ids = tokenizer(doc, truncation=True, max_length=2048)["input_ids"]
        docs.append(tokenizer.decode(ids) if len(ids) >= 2048 else doc)
        lengths.append(len(ids))
    query_ids = tokenizer(query, truncation=True, max_length=512)["input_ids"]
    query = tokenizer.decode(query_ids) if len(query_ids) >= 512 else query
    room = tokenizer.model_max_length - 2 * len(query_ids)
    doc_vectors, query_vectors, weights, block, capacity = [], [], [], [], room

    def run(block_docs: list[str]) -> None:
        batch = tokenizer(text=[_card_prompt(query, block_docs)], padding=True, padding_side="left",
                          return_tensors="pt")  # fmt: skip
        with torch.no_grad():
            hidden = model(**batch, use_cache=False, output_hidden_states=True).hidden_states[-1][0]
            ids = batch["input_ids"][0]
            d = model.projector(hidden[ids == doc_id])
            q = model.projector(hidden[ids == query_id])
            scores = torch.nn.functional.cosine_similarity(d, q.expand_as(d), dim=-1)
        doc_vectors.extend(d.float().numpy())
        query_vectors.append(q[0].float().numpy())
        weights.append(((1.0 + scores.numpy()) / 2.0).max())

    for length, doc in zip(lengths, docs, strict=True):
        block.append(doc)
        capacity -= length
        if len(block) >= 125 or capacity <= 2048:
            run(block)
            block, capacity = [], room
    if block:
        run(block)
    merged = np.average(np.array(query_vectors), axis=0, weights=weights)
    vectors = np.array(doc_vectors)
    return np.asarray(vectors @ merged / (np.linalg.norm(merged) * np.linalg.norm(vectors, axis=1)))
