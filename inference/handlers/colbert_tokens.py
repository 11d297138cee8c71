"""A late-interaction model's tokenisation, as Sentence Transformers 6's ``MultiVectorEncoder`` tokenises:
the input type's prompt (PyLate's marker token) prepended to the text, queries cut to their length and padded
with the expansion (mask) token, documents cut to the document length; and which token vectors are returned."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from tokenizers import AddedToken, Tokenizer
from tokenizers.normalizers import Lowercase
from tokenizers.normalizers import Sequence as NormalizerSequence

from ..core.types import QUERY
from .colbert_folder import ColbertFolder
from .tokenization import uncut_tokenizer

log = logging.getLogger(__name__)


def register_markers(hf_tokenizer: Any, markers: Sequence[str]) -> None:
    """PyLate's markers (``[unused0]``, ``[QueryMarker]``, ...) were inserted as one token id in training; where
    the tokenizer knows the marker but would split the prepended text, make it a special token so it is one
    piece again. Unknown markers stay plain text (``_register_prefix_tokens`` in the reference)."""
    added = set(getattr(hf_tokenizer, "added_tokens_encoder", None) or {})
    vocab = hf_tokenizer.get_vocab()
    register = []
    for value in markers:
        if not value or not value.split():
            continue
        for prefix in (value, value.split(None, 1)[0]):
            if prefix not in added and prefix not in vocab:
                continue
            if hf_tokenizer.tokenize(prefix) != [prefix]:
                register.append(AddedToken(prefix, normalized=False, special=True))
            break
    if register:
        hf_tokenizer.add_special_tokens({"additional_special_tokens": register})


def lowercase_inputs(hf_tokenizer: Any) -> None:
    """``do_lower_case``: a Lowercase normaliser in front, unless the tokenizer has one (as the reference does)."""
    backend = hf_tokenizer.backend_tokenizer
    spec = json.loads(backend.to_str()).get("normalizer") or {}
    parts = spec.get("normalizers") or [] if spec.get("type") == "Sequence" else [spec]
    if not any(part.get("type") == "Lowercase" for part in parts):
        current = backend.normalizer
        backend.normalizer = NormalizerSequence([Lowercase(), current] if current is not None else [Lowercase()])


def _skiplist_ids(hf_tokenizer: Any, words: Sequence[str]) -> list[int]:
    """The skip-list words' ids; a word that is no single vocabulary token (it resolves to the unknown token)
    is dropped, or it would drop every real unknown token too (``MultiVectorMask.resolve_with_tokenizer``)."""
    unk_id, unk = getattr(hf_tokenizer, "unk_token_id", None), getattr(hf_tokenizer, "unk_token", None)
    ids, dropped = [], []
    for word in words:
        token_id = hf_tokenizer.convert_tokens_to_ids(word)
        if unk_id is not None and token_id == unk_id and word != unk:
            dropped.append(word)
        elif token_id is not None:
            ids.append(int(token_id))
    if dropped:
        log.warning("skip-list words %s are not single tokens of this tokenizer; not skipped", dropped)
    return ids


class ColbertTokens:
    """Query and document ids, the expansion positions of a query, and the positions whose vectors count."""

    def __init__(self, hf_tokenizer: Any, folder: ColbertFolder, model_limit: int, max_length: int) -> None:
        expansion = folder.expansion
        self.expansion = expansion
        self._prompts = {QUERY: folder.prompts.get("query", ""), "document": folder.prompts.get("document", "")}
        if expansion is None:
            self.query_length = folder.query_length or model_limit
        elif expansion.strategy == "fixed":
            self.query_length = expansion.length
        else:  # min: at least the expansion length, cut only at query_length (else the model's limit)
            self.query_length = max(folder.query_length, expansion.length) if folder.query_length else model_limit
        self.max_length = max_length
        self._full = full = uncut_tokenizer(hf_tokenizer)
        self._query = self._cutting(full, self.query_length)
        self._document = self._cutting(full, max_length)
        pad_id = getattr(hf_tokenizer, "pad_token_id", None)
        self.pad_id = int(pad_id) if pad_id is not None else 0
        self.expansion_id = self._expansion_id(hf_tokenizer)
        # Where the template ends with the expansion token itself (EOS standing in for a mask token), the first
        # such trailing token is the template's own.
        sample = full.encode("a")
        trailing_special = bool(sample.special_tokens_mask) and sample.special_tokens_mask[-1] == 1
        self._own_trailing = 1 if trailing_special and sample.ids[-1] == self.expansion_id else 0
        self._skip = np.array(_skiplist_ids(hf_tokenizer, folder.mask.skiplist_words), dtype=np.int64)
        self._skip_tasks = frozenset(folder.mask.skiplist_tasks)
        keep = folder.mask.keep_only_token_ids
        self._keep = np.array(keep, dtype=np.int64) if keep else None

    @staticmethod
    def _cutting(full: Tokenizer, length: int) -> Tokenizer:
        cut = Tokenizer.from_str(full.to_str())
        cut.enable_truncation(length)
        return cut

    def _expansion_id(self, hf_tokenizer: Any) -> int:
        """The expansion token: the configured one, else the mask token, else EOS (else padding stays padding)."""
        if self.expansion is not None and self.expansion.token is not None:
            token_id = hf_tokenizer.convert_tokens_to_ids(self.expansion.token)
        else:
            token_id = hf_tokenizer.mask_token_id
            if token_id is None:
                token_id = hf_tokenizer.eos_token_id
        return int(token_id) if token_id is not None else self.pad_id

    def tokenize(self, texts: Sequence[str], input_type: str, truncate: bool) -> list[list[int]]:
        prompt = self._prompts[QUERY if input_type == QUERY else "document"]
        prompted = [prompt + text for text in texts] if prompt else list(texts)
        if input_type != QUERY:
            tokenizer = self._document if truncate else self._full
            return [encoding.ids for encoding in tokenizer.encode_batch(prompted)]
        queries = [encoding.ids for encoding in self._query.encode_batch(prompted)]
        if self.expansion is None:
            return queries
        floor = self.expansion.length
        return [ids + [self.expansion_id] * (floor - len(ids)) for ids in queries]

    def expanded(self, ids: Sequence[int]) -> int:
        """How many of a query's last positions are expansion tokens."""
        if self.expansion is None:
            return 0
        run = 0
        while run < len(ids) and ids[len(ids) - 1 - run] == self.expansion_id:
            run += 1
        return max(run - self._own_trailing, 0)

    def kept(self, ids: Sequence[int], input_type: str) -> np.ndarray:
        """Which positions' vectors the reference returns (before padding): all of a query's, expansion included;
        a document's less skip-list tokens (and, with ``keep_only_token_ids``, only those)."""
        array = np.asarray(ids, dtype=np.int64)
        keep = np.ones(len(array), dtype=bool)
        if input_type in self._skip_tasks and self._skip.size:
            keep &= ~np.isin(array, self._skip)
        if input_type != QUERY and self._keep is not None:
            keep &= np.isin(array, self._keep)
        return keep
