"""A tiny random Qwen3-Reranker-style decoder reranker saved with ``save_pretrained`` (a ``Qwen3ForCausalLM``, a
word-level tokenizer with the chat template's special tokens and a model card saying ``pipeline_tag:
text-ranking``), and Qwen3-Reranker's model card reference code run with transformers on a folder. Offline."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

from tests.tiny_rerankers import WORDS

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
TEMPLATE_WORDS = (
    '<unk> < > >: : . , " system Judge whether Document meets requirements based Query Instruct provided Note '
    "that answer can only yes no or user assistant Given web retrieve relevant passages"
).split()
CARD = "---\nlicense: apache-2.0\nlibrary_name: transformers\npipeline_tag: text-ranking\n---\n# tiny reranker\n"


def build_tiny_qwen3_reranker(folder: Path, max_length: int = 80, card: bool = True) -> Path:
    """``Qwen3ForCausalLM`` (2 layers, width 32) whose tokenizer knows the template's words; max length
    ``max_length``; with a ``README.md`` that marks it a reranker unless ``card`` is false."""
    words = list(dict.fromkeys(TEMPLATE_WORDS + list(WORDS)))
    vocab = {token: index for index, token in enumerate(words)}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in SPECIALS])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, model_max_length=max_length, model_input_names=["input_ids", "attention_mask"],
        eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token="<unk>",
    )  # fmt: skip
    config = Qwen3Config(
        vocab_size=len(fast), hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, max_position_embeddings=128, tie_word_embeddings=False,
        pad_token_id=fast.pad_token_id, eos_token_id=fast.eos_token_id,
    )  # fmt: skip
    torch.manual_seed(3)
    model = Qwen3ForCausalLM(config).eval()
    _spread_yes_no(model, fast, vocab["yes"], vocab["no"])
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    if card:
        (folder / "README.md").write_text(CARD, encoding="utf-8")
    return folder


def _spread_yes_no(model: Qwen3ForCausalLM, tokenizer: PreTrainedTokenizerFast, yes: int, no: int) -> None:
    """Random init gives last hidden states one large shared direction: make ``no``'s head row ``yes``'s less a
    direction orthogonal to it, scaled so that ``logit(yes) - logit(no)`` varies by a few units between texts."""
    samples = [f"<|im_start|> {' '.join(WORDS[i::5])} <|im_end|> </think>" for i in range(5)]
    with torch.no_grad():
        hidden = torch.stack([
            model.model(**tokenizer(text, return_tensors="pt")).last_hidden_state[0, -1] for text in samples
        ])  # fmt: skip
        mean = hidden.mean(dim=0)
        delta = hidden[0] - hidden[1]
        delta -= (delta @ mean) / (mean @ mean) * mean
        delta *= 3.0 / (hidden @ delta).std()
        weight = model.lm_head.weight
        weight[no] = weight[yes] - delta


def reference_scores(folder: Path, query: str, documents: list[str], max_length: int) -> list[float]:
    """Qwen3-Reranker's model card code (format_instruction, process_inputs, compute_logits), run on ``folder``."""
    tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    token_false_id = tokenizer.convert_tokens_to_ids("no")
    token_true_id = tokenizer.convert_tokens_to_ids("yes")
    prefix = (
        "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct "
        'provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
    )
    suffix = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    prefix_tokens = tokenizer.encode(prefix, add_special_tokens=False)
    suffix_tokens = tokenizer.encode(suffix, add_special_tokens=False)
    instruction = "Given a web search query, retrieve relevant passages that answer the query"
    pairs = [f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {doc}" for doc in documents]
    inputs = tokenizer(
        pairs, padding=False, truncation="longest_first", return_attention_mask=False,
        max_length=max_length - len(prefix_tokens) - len(suffix_tokens),
    )  # fmt: skip
    for i, ele in enumerate(inputs["input_ids"]):
        inputs["input_ids"][i] = prefix_tokens + ele + suffix_tokens
    inputs = tokenizer.pad(inputs, padding=True, return_tensors="pt", max_length=max_length)
    with torch.no_grad():
        batch_scores = model(**inputs).logits[:, -1, :]
    true_vector = batch_scores[:, token_true_id]
    false_vector = batch_scores[:, token_false_id]
    stacked = torch.nn.functional.log_softmax(torch.stack([false_vector, true_vector], dim=1), dim=1)
    scores: list[float] = stacked[:, 1].exp().tolist()
    return scores
