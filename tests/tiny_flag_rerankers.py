"""A tiny random bge-reranker-v2-gemma-style decoder reranker saved with ``save_pretrained`` (a ``GemmaForCausalLM``
or ``Gemma2ForCausalLM``, a word-level tokenizer with BOS, ``\\n`` and the prompt's words, and a model card), and
bge-reranker-v2-gemma's model card reference code (FlagEmbedding's ``get_inputs``, the ``Yes`` logit of the last
position) run with transformers on a folder. Offline."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    Gemma2Config,
    Gemma2ForCausalLM,
    GemmaConfig,
    GemmaForCausalLM,
    PreTrainedTokenizerFast,
)

from tests.tiny_rerankers import WORDS

SPECIALS = ["<pad>", "<bos>", "<eos>"]
PROMPT_WORDS = (
    "<unk> A B : ' '. . , Given a query and passage determine whether the contains an answer to by providing "
    "prediction of either Yes No"
).split()
CARD = "---\nlicense: apache-2.0\npipeline_tag: text-classification\ntags:\n- transformers\n---\n# tiny reranker\n"
PROMPT = (
    "Given a query A and a passage B, determine whether the passage contains an answer to the query by providing a "
    "prediction of either 'Yes' or 'No'."
)


def build_tiny_gemma_reranker(folder: Path, model_type: str = "gemma", max_length: int = 80, card: bool = True) -> Path:
    """``GemmaForCausalLM`` (``model_type`` ``gemma``) or ``Gemma2ForCausalLM`` (``gemma2``), 2 layers of width 32,
    whose tokenizer knows the prompt's words and ``\\n``; max length ``max_length``; with bge-reranker-v2-gemma's
    kind of model card (``pipeline_tag: text-classification``) unless ``card`` is false."""
    words = list(dict.fromkeys(PROMPT_WORDS + list(WORDS)))
    vocab = {token: index for index, token in enumerate(words)}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in SPECIALS])
    tokenizer.add_tokens([AddedToken("\n", normalized=False)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, model_max_length=max_length, model_input_names=["input_ids", "attention_mask"],
        bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>",
    )  # fmt: skip
    shape = dict(
        vocab_size=len(fast), hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, max_position_embeddings=128, tie_word_embeddings=False,
        pad_token_id=fast.pad_token_id, bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id,
    )  # fmt: skip
    torch.manual_seed(5)
    if model_type == "gemma2":
        model: GemmaForCausalLM | Gemma2ForCausalLM = Gemma2ForCausalLM(Gemma2Config(**shape, sliding_window=16))
    else:
        model = GemmaForCausalLM(GemmaConfig(**shape))
    model.eval()
    _spread_yes(model, fast, vocab["Yes"])
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    if card:
        (folder / "README.md").write_text(CARD, encoding="utf-8")
    return folder


def _spread_yes(model: GemmaForCausalLM | Gemma2ForCausalLM, tokenizer: PreTrainedTokenizerFast, yes: int) -> None:
    """Make ``Yes``'s head row a direction orthogonal to the last hidden states' shared one, scaled so that its
    logit varies by about one unit between texts (random init gives nearly equal logits)."""
    samples = [f"<bos> A : {' '.join(WORDS[i::5])} \n {PROMPT}" for i in range(5)]
    with torch.no_grad():
        hidden = torch.stack([
            model.model(**tokenizer(text, return_tensors="pt")).last_hidden_state[0, -1] for text in samples
        ])  # fmt: skip
        mean = hidden.mean(dim=0)
        delta = hidden[0] - hidden[1]
        delta -= (delta @ mean) / (mean @ mean) * mean
        delta *= 1.0 / (hidden @ delta).std()
        model.lm_head.weight[yes] = delta


def reference_scores(folder: Path, query: str, documents: list[str], max_length: int) -> list[float]:
    """bge-reranker-v2-gemma's model card code (``get_inputs``; ``logits[:, -1, yes_loc]``), run on ``folder``,
    left-padded (as the last-position read needs; the vLLM and MTEB reference runners load it so), raw logits."""
    tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    sep = "\n"
    prompt_inputs = tokenizer(PROMPT, return_tensors=None, add_special_tokens=False)["input_ids"]
    sep_inputs = tokenizer(sep, return_tensors=None, add_special_tokens=False)["input_ids"]
    inputs = []
    for passage in documents:
        query_inputs = tokenizer(
            f"A: {query}", return_tensors=None, add_special_tokens=False, max_length=max_length * 3 // 4,
            truncation=True,
        )  # fmt: skip
        passage_inputs = tokenizer(
            f"B: {passage}", return_tensors=None, add_special_tokens=False, max_length=max_length, truncation=True
        )
        item = prepare_for_model(
            [tokenizer.bos_token_id] + query_inputs["input_ids"], sep_inputs + passage_inputs["input_ids"], max_length
        )
        item["input_ids"] = item["input_ids"] + sep_inputs + prompt_inputs
        item["attention_mask"] = [1] * len(item["input_ids"])
        inputs.append(item)
    batch = tokenizer.pad(
        inputs, padding=True, max_length=max_length + len(sep_inputs) + len(prompt_inputs), pad_to_multiple_of=8,
        return_tensors="pt",
    )  # fmt: skip
    yes_loc = tokenizer("Yes", add_special_tokens=False)["input_ids"][0]
    with torch.no_grad():
        scores: list[float] = model(**batch, return_dict=True).logits[:, -1, yes_loc].view(-1).float().tolist()
    return scores


def prepare_for_model(ids: list[int], pair_ids: list[int], max_length: int) -> dict[str, list[int]]:
    """The card's ``tokenizer.prepare_for_model(ids, pair_ids, truncation='only_second', max_length=max_length,
    padding=False, add_special_tokens=False, ...)``, which transformers 5's fast tokenizers no longer have: as its
    slow-tokenizer ``truncate_sequences`` (``only_second``, right side), the pair cut at its end by the excess."""
    excess = len(ids) + len(pair_ids) - max_length
    if excess > 0:
        pair_ids = pair_ids[:-excess]
    return {"input_ids": ids + pair_ids}


def template_length(folder: Path) -> int:
    """The tokens after the document: the separator and the prompt."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    return len(tokenizer(f"\n{PROMPT}", add_special_tokens=False)["input_ids"])
