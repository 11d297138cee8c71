"""Decoder (causal LM) rerankers: which folders are one, and the prompt template each is served with. No torch.

A folder is a decoder reranker when its ``config.json`` ``architectures`` end in ``ForCausalLM`` and its model card
(``README.md`` front matter, as published on the Hugging Face Hub) says ``pipeline_tag: text-ranking``, as
Qwen3-Reranker's does, or ``text-classification`` with a ``model_type`` served here (a causal LM's card naming a
classification pipeline: bge-reranker-v2-gemma's shape); when it is a ``qwen3`` causal LM saved without a model
card that names another pipeline and without sentence-transformers modules (Qwen3-Reranker's shape: a
Qwen3-Embedding folder has ``modules.json``, a chat model's card says ``text-generation``); or with
``EMB_HANDLER=llm-rerank``. Any other causal LM folder (a ``gemma`` one without such a card included) stays a
text-embedding model.

Two templates, by ``model_type``. ``qwen3``: Qwen3-Reranker's, as its model card's reference code builds it: a
fixed chat prefix (system prompt), the body ``<Instruct>: ...\\n<Query>: ...\\n<Document>: ...`` and a fixed suffix
(the assistant turn with an empty think block); the score reads the next-token logits of ``yes`` and ``no``.
``gemma`` and ``gemma2``: FlagEmbedding's ``FlagLLMReranker`` (bge-reranker-v2-gemma), as its model card's
``get_inputs`` builds it: BOS, ``A: {query}``, ``\\n``, ``B: {passage}``, ``\\n`` and a fixed prompt; the score is
the next-token logit of ``Yes`` alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LLM_RERANK = "llm-rerank"
RANKING_TAG = re.compile(r"^pipeline_tag:\s*['\"]?text-ranking['\"]?\s*$", re.MULTILINE)
CLASSIFICATION_TAG = re.compile(r"^pipeline_tag:\s*['\"]?text-classification['\"]?\s*$", re.MULTILINE)
ANY_TAG = re.compile(r"^pipeline_tag:", re.MULTILINE)
CARD_HEAD_CHARS = 16_384  # the front matter is at the top of the model card


@dataclass(frozen=True, slots=True)
class DecoderTemplate:
    """``prefix`` + ``body`` (query, document, instruction filled in) + ``suffix``; the score is the next-token
    logit of ``yes`` less that of ``no`` (``sigmoid`` of it: the softmax over the two, P(yes)), or of ``yes``
    alone where ``no`` is ``None``."""

    name: str
    prefix: str
    body: str
    suffix: str
    instruction: str
    yes: str
    no: str | None

    def fill(self, query: str, document: str) -> str:
        return self.body.format(instruction=self.instruction, query=query, document=document)


QWEN3 = DecoderTemplate(
    name="qwen3-reranker",
    prefix=(
        "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct "
        'provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
    ),
    body="<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}",
    suffix="<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
    instruction="Given a web search query, retrieve relevant passages that answer the query",
    yes="yes",
    no="no",
)


@dataclass(frozen=True, slots=True)
class PairTemplate:
    """FlagEmbedding's ``FlagLLMReranker`` layout: ``[BOS]`` + ``query`` (cut to 3/4 of the length) + ``sep`` +
    ``document`` (cut to what is left) + ``sep`` + ``prompt``, query and document tokenised apart; the score is the
    next-token logit of ``yes`` (``no`` is ``None``: one token, no difference)."""

    name: str
    query: str
    document: str
    sep: str
    prompt: str
    yes: str
    no: None = None


FLAG_LLM = PairTemplate(
    name="bge-reranker-v2-gemma",
    query="A: {query}",
    document="B: {document}",
    sep="\n",
    prompt=(
        "Given a query A and a passage B, determine whether the passage contains an answer to the query by "
        "providing a prediction of either 'Yes' or 'No'."
    ),
    yes="Yes",
)
TEMPLATES: dict[str, DecoderTemplate | PairTemplate] = {"qwen3": QWEN3, "gemma": FLAG_LLM, "gemma2": FLAG_LLM}


def is_causal_lm(config: dict[str, Any]) -> bool:
    return any(str(name).endswith("ForCausalLM") for name in config.get("architectures") or ())


def card_pipeline(folder: Path) -> str | None:
    """``"ranking"`` when the model card's front matter says ``pipeline_tag: text-ranking``, ``"classification"``
    when ``text-classification``, ``"other"`` when it names another pipeline, ``None`` without a card or a tag."""
    card = folder / "README.md"
    if not card.is_file():
        return None
    with card.open(encoding="utf-8", errors="replace") as handle:
        head = handle.read(CARD_HEAD_CHARS)
    end = head.find("\n---", 3) if head.startswith("---") else -1
    if end < 0:
        return None
    front = head[3:end]
    if RANKING_TAG.search(front):
        return "ranking"
    if CLASSIFICATION_TAG.search(front):
        return "classification"
    return "other" if ANY_TAG.search(front) else None


def card_says_ranking(folder: Path) -> bool:
    return card_pipeline(folder) == "ranking"


def is_decoder_reranker(folder: Path, config: dict[str, Any]) -> bool:
    if not is_causal_lm(config):
        return False
    pipeline = card_pipeline(folder)
    model_type = config.get("model_type")
    if pipeline == "classification":
        return model_type in TEMPLATES
    if pipeline is not None:
        return pipeline == "ranking"
    return model_type == "qwen3" and not (folder / "modules.json").is_file()


def template_for(folder: Path) -> DecoderTemplate | PairTemplate:
    """The template of the folder's ``model_type``; ``ModelFolderError`` for a causal LM it has none for."""
    from .st_config import ModelFolderError

    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    model_type = str(config.get("model_type", ""))
    if not is_causal_lm(config) or model_type not in TEMPLATES:
        raise ModelFolderError(
            f"{folder} is served as a decoder reranker, which needs a *ForCausalLM folder of model_type "
            f"{' or '.join(sorted(TEMPLATES))} (Qwen3-Reranker's or bge-reranker-v2-gemma's prompt template); it has "
            f"model_type {model_type or 'none'}"
        )
    return TEMPLATES[model_type]
