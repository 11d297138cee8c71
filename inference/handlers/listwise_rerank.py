"""Listwise reranker handler (jina-reranker-v3: a Qwen3 decoder with an MLP projector; the prompt, the blocks and
the score: ``listwise_prompt``).

The decoder is loaded as transformers' own ``Qwen3Model`` from the folder's weights (the model card's remote code
is never run) and the projector from the ``projector.*`` tensors of the same safetensors files. A block is one
left-padded sequence, with each row's position ids counted from its first real token, so a block scores the same
alone or beside others of another length; the forward reads the last hidden states at the scoring tokens and
projects them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from torch import nn
from transformers import AutoModel

from ..core.types import RERANK, ModelInfo, TokenIds
from ..errors import InvalidInputError
from ..model_dir import default_model_name
from ..settings import Settings
from . import listwise_prompt as listwise
from .device import dtype_name, split_on_oom
from .handler_base import LoadedHandler
from .loading import load_hf_model
from .memory import plan_forward_tokens
from .prefix_tokens import Tokens, first_tokens, first_tokens_of_each
from .st_config import ModelFolderError
from .text_tokenizer import HFTextTokenizer
from .tokenization import model_max_length, uncut_tokenizer

log = logging.getLogger(__name__)

WARMUP = ("warm-up query", ("a document", "a slightly longer document for the warm-up pass"))


def load_projector(folder: Path) -> nn.Sequential:
    """``Linear -> ReLU -> Linear`` (no biases) from the ``projector.0.weight`` and ``projector.2.weight`` tensors of
    the folder's safetensors files; ``ModelFolderError`` without them."""
    weights: dict[str, torch.Tensor] = {}
    for path in sorted(folder.glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as handle:
            for key in handle.keys():  # noqa: SIM118 - safe_open has keys(), not __iter__
                if key.startswith("projector."):
                    weights[key.removeprefix("projector.")] = handle.get_tensor(key)
    if set(weights) != {"0.weight", "2.weight"}:
        raise ModelFolderError(
            f"{folder} is a listwise reranker (JinaForRanking) whose weights need projector.0.weight and "
            f"projector.2.weight; found {sorted('projector.' + key for key in weights) or 'no projector tensors'}"
        )
    first, second = weights["0.weight"], weights["2.weight"]
    projector = nn.Sequential(nn.Linear(first.shape[1], first.shape[0], bias=False), nn.ReLU(),
                              nn.Linear(second.shape[1], second.shape[0], bias=False))  # fmt: skip
    projector.load_state_dict({"0.weight": first, "2.weight": second})
    return projector


class ListwiseRerankHandler(LoadedHandler):
    """``ListwiseRerankHandler``: blocks of a query and its documents, one vector per scoring token."""

    def __init__(self, folder: Path, settings: Settings) -> None:
        # Qwen3Model from transformers itself: JinaForRanking's remote code is never needed (nor run).
        loaded = load_hf_model(folder, settings.model_copy(update={"trust_remote_code": False}), AutoModel)
        self._model, self._device, tokenizer = loaded.model, loaded.device, loaded.tokenizer
        self._projector = load_projector(folder).to(self._device, loaded.dtype).eval()
        self._hf_tokenizer = tokenizer
        self._tokenizer = uncut_tokenizer(tokenizer, "reranker")
        if self._tokenizer.encode("a b", add_special_tokens=True).ids != self._ids("a b"):
            raise ModelFolderError(f"the tokenizer of {folder} adds special tokens to a text; not jina-reranker-v3")
        vocab = self._tokenizer.get_vocab(with_added_tokens=True)
        missing = [token for token in (listwise.DOCUMENT_TOKEN, listwise.QUERY_TOKEN) if token not in vocab]
        if missing:
            raise ModelFolderError(f"the tokenizer of {folder} has no {' or '.join(missing)} token, which the "
                                   "listwise reranker's scores are read at")  # fmt: skip
        self._document_id, self._query_id = vocab[listwise.DOCUMENT_TOKEN], vocab[listwise.QUERY_TOKEN]
        pad = next((i for i in (tokenizer.pad_token_id, tokenizer.unk_token_id, tokenizer.eos_token_id)
                    if i is not None), 0)  # fmt: skip
        self._pad_id = int(pad)
        max_length = model_max_length(loaded.config, tokenizer.model_max_length, None)
        self._max_length = min(max_length, settings.max_length) if settings.max_length else max_length
        self._text_tokenizer = HFTextTokenizer(tokenizer, {})
        self._info = ModelInfo(
            name=default_model_name(settings, folder),
            dimensions=1,
            max_length=self._max_length,
            pooling="listwise",
            late_chunking=False,
            device=str(self._device),
            dtype=dtype_name(loaded.dtype),
            kind=RERANK,
            max_forward_tokens=plan_forward_tokens(loaded, self._max_length),
        )
        log.info("loaded listwise reranker %s", self._info)

    def _ids(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def _cut(self, text: str, tokens: Tokens, cap: int, truncate: bool, param: str) -> str:
        """``text``, or the decoding of its first ``cap`` tokens once it reaches the cap (the reference's rule)."""
        if not tokens.complete and not truncate:
            raise InvalidInputError(f"{param} is more than the listwise reranker's {cap} tokens; shorten it or send "
                                    "truncate=true", param=param)  # fmt: skip
        if len(tokens.ids) < cap:
            return text
        decoded: str = self._hf_tokenizer.decode(tokens.ids)
        return decoded

    def tokenize_blocks(self, query: str, documents: Sequence[str], truncate: bool) -> list[list[int]]:
        """Each block's prompt as token ids, blocks in document order (``listwise_prompt``)."""
        query_tokens = first_tokens(self._tokenizer, query, listwise.MAX_QUERY_TOKENS)
        query = self._cut(query, query_tokens, listwise.MAX_QUERY_TOKENS, truncate, "query")
        firsts = first_tokens_of_each(self._tokenizer, documents, listwise.MAX_DOCUMENT_TOKENS)
        texts = [self._cut(document, tokens, listwise.MAX_DOCUMENT_TOKENS, truncate, f"documents[{index}]")
                 for index, (document, tokens) in enumerate(zip(documents, firsts, strict=True))]  # fmt: skip
        # As the card packs them, a block's texts stay within the max length, its template's tokens aside (a block
        # of one document: at most the query twice, the document and the template, whatever the max length).
        packed = listwise.blocks([len(t.ids) for t in firsts], len(query_tokens.ids), self._max_length)
        return [list(self._tokenizer.encode(listwise.prompt(query, [texts[i] for i in block])).ids) for block in packed]

    def _projected(self, batch: Sequence[TokenIds]) -> np.ndarray:
        """The projected vectors of every block's scoring tokens, block after block: query first, then documents."""
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, ids in enumerate(batch):  # left padding, as the reference pads
            input_ids[row, width - len(ids) :] = torch.as_tensor(ids, dtype=torch.long)
            mask[row, width - len(ids) :] = 1
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
        input_ids, mask, positions = (t.to(self._device) for t in (input_ids, mask, positions))
        hidden = self._model(input_ids=input_ids, attention_mask=mask, position_ids=positions).last_hidden_state
        rows = []
        for row in range(len(batch)):
            tokens = input_ids[row]
            rows.append(hidden[row][tokens == self._query_id])
            rows.append(hidden[row][tokens == self._document_id])
        projected: torch.Tensor = self._projector(torch.cat(rows))
        return projected.float().cpu().numpy()

    @torch.inference_mode()
    def forward_blocks(self, batch: Sequence[TokenIds]) -> list[np.ndarray]:
        vectors: np.ndarray = split_on_oom(self._projected, batch)
        counts = [1 + sum(1 for token in ids if token == self._document_id) for ids in batch]
        return list(np.split(vectors, np.cumsum(counts)[:-1]))

    def merge(self, outputs: Sequence[np.ndarray]) -> np.ndarray:
        return listwise.merge(outputs)

    def warmup(self) -> None:
        query, documents = WARMUP
        self.forward_blocks(self.tokenize_blocks(query, documents, True))
