"""Decoder reranker handler: a causal LM that answers "yes" or "no" to a query/document prompt (Qwen3-Reranker,
bge-reranker-v2-gemma; which folders, and the templates: ``llm_rerank_folder``).

Each pair is the template's prefix, its body (instruction, query, document) and its suffix, tokenised as the model
card's reference code tokenises them: prefix and suffix alone, the body cut to the max length less both
(``truncate=True``; else ``InvalidInputError``), so prefix and suffix are always whole. Batches are left-padded,
as the reference pads them, and the score reads the last position's next-token logits: ``score`` returns
``logit(yes) - logit(no)`` (what ``raw_scores`` answers) and ``activation`` its sigmoid, which equals the reference
score, the softmax over ``[no, yes]`` taken at ``yes``.

bge-reranker-v2-gemma's pairs (``PairTemplate``) are built as FlagEmbedding's ``get_inputs`` builds them, its
``max_length`` being the model's less the closing separator and prompt (so a pair never passes the model's): BOS
and ``A: {query}`` cut to 3/4 of that length, then ``\\n`` + ``B: {passage}`` cut at its end to what is left, then
``\\n`` and the prompt, whole. The score is the last position's ``Yes`` logit, as FlagLLMReranker's (``activation``:
its sigmoid, FlagLLMReranker's ``normalize=True``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM

from ..core.types import RERANK, ModelInfo, PairIds
from ..errors import InvalidInputError
from ..model_dir import default_model_name
from ..settings import Settings
from .device import dtype_name, split_on_oom
from .handler_base import LoadedHandler
from .llm_rerank_folder import DecoderTemplate, PairTemplate, template_for
from .loading import load_hf_model
from .memory import plan_forward_tokens
from .prefix_tokens import first_tokens_of_each
from .st_config import ModelFolderError
from .text_tokenizer import HFTextTokenizer
from .tokenization import model_max_length, uncut_tokenizer

log = logging.getLogger(__name__)

WARMUP_PAIRS = ("warm-up query", ("a document", "a slightly longer document for the warm-up pass"))


def _token_id(vocab: dict[str, int], token: str, folder: Path) -> int:
    if token not in vocab:
        raise ModelFolderError(f"the tokenizer of {folder} has no {token!r} token, which the reranker's score reads")
    return vocab[token]


class DecoderRerankHandler(LoadedHandler):
    """``RerankHandler`` for causal LMs scored by the next-token logits of ``yes`` against ``no`` (or of ``yes``)."""

    def __init__(self, folder: Path, settings: Settings) -> None:
        self._template: DecoderTemplate | PairTemplate = template_for(folder)
        loaded = load_hf_model(folder, settings, AutoModelForCausalLM)
        config, tokenizer = loaded.config, loaded.tokenizer
        self._model, self._device = loaded.model, loaded.device
        self._tokenizer = uncut_tokenizer(tokenizer, "reranker")
        vocab = self._tokenizer.get_vocab(with_added_tokens=True)
        self._yes = _token_id(vocab, self._template.yes, folder)
        self._no = None if self._template.no is None else _token_id(vocab, self._template.no, folder)
        if isinstance(self._template, PairTemplate):  # BOS, then query and document apart; template_ids: the rest
            if tokenizer.bos_token_id is None:
                raise ModelFolderError(f"the tokenizer of {folder} has no BOS token, which the prompt starts with")
            self._bos, self._sep = int(tokenizer.bos_token_id), self._ids(self._template.sep)
            self._prefix, self._suffix = [], [*self._sep, *self._ids(self._template.prompt)]
        elif self._tokenizer.encode("a b", add_special_tokens=True).ids != self._ids("a b"):
            raise ModelFolderError(f"the tokenizer of {folder} adds special tokens to a text; not a Qwen3-Reranker")
        else:
            self._prefix, self._suffix = self._ids(self._template.prefix), self._ids(self._template.suffix)
        max_length = model_max_length(config, tokenizer.model_max_length, None)
        if settings.max_length:
            max_length = min(max_length, settings.max_length)
        self._max_length = max_length
        self._budget = max_length - len(self._prefix) - len(self._suffix)  # body tokens
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self._pad_id = int(pad) if pad is not None else 0
        self._text_tokenizer = HFTextTokenizer(tokenizer, {})
        self._info = ModelInfo(
            name=default_model_name(settings, folder),
            dimensions=1,
            max_length=max_length,
            pooling="none",
            late_chunking=False,
            device=str(self._device),
            dtype=dtype_name(loaded.dtype),
            max_forward_tokens=plan_forward_tokens(loaded, max_length),
            kind=RERANK,
        )
        log.info("loaded decoder reranker %s (template %s)", self._info, self._template.name)

    def _ids(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def tokenize_pairs(self, query: str, documents: Sequence[str], truncate: bool) -> list[PairIds]:
        if self._budget < 1:
            raise InvalidInputError(
                f"the model's maximum of {self._max_length} tokens leaves no room for a prompt: its template alone "
                f"has {len(self._prefix) + len(self._suffix)}"
            )
        if isinstance(self._template, PairTemplate):
            bodies = self._pair_bodies(self._template, query, documents)
        else:
            texts = [self._template.fill(query, document) for document in documents]
            bodies = [(body.ids, body.complete) for body in first_tokens_of_each(self._tokenizer, texts, self._budget)]
        pairs = []
        for index, (ids, complete) in enumerate(bodies):
            if not complete and not truncate:
                raise InvalidInputError(
                    f"documents[{index}] with the query and the prompt template is more than the model's maximum "
                    f"of {self._max_length} tokens ({len(self._prefix) + len(self._suffix)} of them the "
                    "template's); shorten it or send truncate=true",
                    param=f"documents[{index}]",
                )
            pairs.append(PairIds([*self._prefix, *ids, *self._suffix], None))
        return pairs

    def _pair_bodies(
        self, template: PairTemplate, query: str, documents: Sequence[str]
    ) -> list[tuple[list[int], bool]]:
        """FlagLLMReranker's ``[BOS] + A: {query}`` (3/4 of the budget) and ``sep + B: {passage}`` cut to the
        rest; whether nothing was cut."""
        (head,) = first_tokens_of_each(self._tokenizer, [template.query.format(query=query)], self._budget * 3 // 4)
        first = [self._bos, *head.ids]
        texts = [template.document.format(document=document) for document in documents]
        bodies = []
        for passage in first_tokens_of_each(self._tokenizer, texts, self._budget):
            second = [*self._sep, *passage.ids]
            room = max(self._budget - len(first), 0)
            bodies.append(([*first, *second[:room]], head.complete and passage.complete and len(second) <= room))
        return bodies

    def _logits(self, batch: Sequence[PairIds]) -> torch.Tensor:
        width = max(len(pair.ids) for pair in batch)
        input_ids = torch.full((len(batch), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, pair in enumerate(batch):  # left padding: every row's last position is its last token
            input_ids[row, width - len(pair.ids) :] = torch.as_tensor(pair.ids, dtype=torch.long)
            mask[row, width - len(pair.ids) :] = 1
        out = self._model(
            input_ids=input_ids.to(self._device), attention_mask=mask.to(self._device), logits_to_keep=1
        ).logits[:, -1, :]
        yes: torch.Tensor = out[:, self._yes].float()
        return yes if self._no is None else yes - out[:, self._no].float()

    @torch.inference_mode()
    def score(self, batch: Sequence[PairIds]) -> np.ndarray:
        logits: torch.Tensor = split_on_oom(self._logits, batch)
        return logits.cpu().numpy().astype(np.float32).reshape(len(batch), 1)

    def activation(self, logits: np.ndarray) -> np.ndarray:
        return (1.0 / (1.0 + np.exp(-logits.astype(np.float64)))).astype(np.float32)

    def warmup(self) -> None:
        query, documents = WARMUP_PAIRS
        self.score(self.tokenize_pairs(query, documents, True))
