"""Cross-encoder pairs built from ids: the query tokenised once per request, each document once, neither further
than the model's max length needs, joined with the model's own pair template.

``truncate=True`` cuts a pair as sentence-transformers' ``CrossEncoder.predict`` does (Hugging Face's
``truncation="longest_first"``: the Rust tokenizer's ``LongestFirst``). With a budget of B tokens (the max length
less the template's special tokens), a pair whose sides have more keeps its shorter side whole when that has at
most half of B, and the longer side the rest; otherwise both are cut to half of B, the longer side keeping the odd
token (the document on a tie). So a long query keeps about half of B with a long document, more with a short one.
Which side is longer is found out while both have at most ``COMPARE_BUDGETS`` x B tokens; past that the document is
taken as the longer. ``truncate=False`` refuses a query that alone leaves no room (more than B tokens) before any
document is tokenised, then the first document that does not fit with it (``InvalidInputError``, a 400). Documents
of up to a few thousand characters are tokenised in one batch (in parallel), longer ones a prefix at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tokenizers import Tokenizer

from ..core.types import PairIds
from ..errors import InvalidInputError
from .prefix_tokens import LazyTokens, Tokens, first_tokens, first_tokens_of_each, not_shorter
from .st_config import ModelFolderError
from .tokenization import uncut_tokenizer

SAMPLE = ("query", "document")
# A query and a document both over the budget: which is the longer decides only who keeps the odd token of an odd
# budget; it is found out while both have at most this many budgets of tokens (a few hundred KB of text at most).
COMPARE_BUDGETS = 4


@dataclass(frozen=True, slots=True)
class PairTemplate:
    """The model's pair layout: ``before`` A ``between`` B ``after`` (special token ids), and the token type of
    each position, read from the tokenizer's own post-processor on a sample pair."""

    before: tuple[int, ...]
    between: tuple[int, ...]
    after: tuple[int, ...]
    types: tuple[tuple[int, ...], int, tuple[int, ...], int, tuple[int, ...]]

    @property
    def specials(self) -> int:
        return len(self.before) + len(self.between) + len(self.after)

    @classmethod
    def of(cls, tokenizer: Tokenizer) -> PairTemplate:
        encoding = tokenizer.encode(*SAMPLE, add_special_tokens=True)
        parts: tuple[list[tuple[int, int]], ...] = ([], [], [])  # special (id, type) before, between, after
        sides: list[int] = []  # the sequences in the order they appear
        side_types: dict[int, set[int]] = {0: set(), 1: set()}
        for token, kind, sequence in zip(encoding.ids, encoding.type_ids, encoding.sequence_ids, strict=True):
            if sequence is None:
                parts[min(len(sides), 2)].append((token, kind))
                continue
            if not sides or sides[-1] != sequence:
                sides.append(sequence)
            side_types[sequence].add(kind)
        if sides != [0, 1] or any(len(kinds) != 1 for kinds in side_types.values()):
            raise ModelFolderError(
                "the tokenizer's pair template is not 'specials, query, specials, document, specials' with one "
                "token type per side; this reranker's tokenizer is not supported"
            )
        ids = [tuple(token for token, _ in part) for part in parts]
        kinds = [tuple(kind for _, kind in part) for part in parts]
        (query_type,), (document_type,) = side_types[0], side_types[1]
        return cls(ids[0], ids[1], ids[2], (kinds[0], query_type, kinds[1], document_type, kinds[2]))

    def join(self, query: list[int], document: list[int], with_types: bool) -> PairIds:
        ids = [*self.before, *query, *self.between, *document, *self.after]
        if not with_types:
            return PairIds(ids, None)
        before, query_type, between, document_type, after = self.types
        types = [*before, *[query_type] * len(query), *between, *[document_type] * len(document), *after]
        return PairIds(ids, types)


def longest_first(query: int, document: int, budget: int) -> tuple[int, int]:
    """How many tokens of each side a pair keeps: the Rust tokenizer's ``LongestFirst`` truncation of a pair of
    ``query`` and ``document`` tokens to ``budget`` (the max length less the template's special tokens)."""
    if query + document <= budget:
        return query, document
    shorter, longer = sorted((query, document))
    longer = shorter if shorter > budget else max(shorter, budget - shorter)
    if shorter + longer > budget:
        shorter, longer = budget // 2, budget // 2 + budget % 2
    keep_query, keep_document = (longer, shorter) if query > document else (shorter, longer)
    return min(query, keep_query), min(document, keep_document)


class PairTokenizer:
    """Pairs for one cross-encoder; safe to call from many threads (its Rust tokenizer never truncates/pads)."""

    def __init__(self, tokenizer: Tokenizer, max_length: int, with_types: bool) -> None:
        self._tokenizer = tokenizer
        self._template = PairTemplate.of(tokenizer)
        self._max_length, self._types = max_length, with_types
        self._budget = max_length - self._template.specials  # tokens of query and document together

    @classmethod
    def from_hf(cls, hf_tokenizer: object, max_length: int, with_types: bool) -> PairTokenizer:
        return cls(uncut_tokenizer(hf_tokenizer, "reranker"), max_length, with_types)

    @property
    def specials(self) -> int:
        return self._template.specials

    def pairs(self, query: str, documents: Sequence[str], truncate: bool) -> list[PairIds]:
        if self._budget < 1:
            raise InvalidInputError(f"the model's maximum of {self._max_length} tokens leaves no room for a pair")
        if truncate:
            return self._cut_pairs(query, documents)
        return self._whole_pairs(query, documents)

    def _whole_pairs(self, query: str, documents: Sequence[str]) -> list[PairIds]:
        head = first_tokens(self._tokenizer, query, self._budget)
        if not head.complete:
            raise InvalidInputError(
                f"the query alone has more than {self._budget} tokens: with a pair's {self.specials} special tokens "
                f"it is more than the model's maximum of {self._max_length}, before any document; shorten it or "
                "send truncate=true",
                param="query",
            )
        room = self._budget - len(head.ids)
        pairs = []
        for index, body in enumerate(first_tokens_of_each(self._tokenizer, documents, room)):
            if not body.complete:
                raise InvalidInputError(
                    f"documents[{index}] with the query is more than the model's maximum of {self._max_length} "
                    f"tokens ({len(head.ids)} query tokens, more than {room} document tokens, {self.specials} "
                    "special tokens); shorten it or send truncate=true",
                    param=f"documents[{index}]",
                )
            pairs.append(self._template.join(head.ids, body.ids, self._types))
        return pairs

    def _cut_pairs(self, query: str, documents: Sequence[str]) -> list[PairIds]:
        head = LazyTokens(self._tokenizer, query, first_tokens(self._tokenizer, query, self._budget))
        pairs = []
        firsts = first_tokens_of_each(self._tokenizer, documents, self._budget)
        for document, known in zip(documents, firsts, strict=True):
            body = LazyTokens(self._tokenizer, document, known)
            keep_query, keep_document = longest_first(*self._lengths(head, body), self._budget)
            pairs.append(self._template.join(head.known.ids[:keep_query], body.known.ids[:keep_document], self._types))
        return pairs

    def _lengths(self, head: LazyTokens, body: LazyTokens) -> tuple[int, int]:
        """Token counts that cut as the true ones do: exact up to the budget; beyond it, only which side is longer
        changes the cut (when both are over the budget), so a count over it stands for any larger one. Which is
        longer is looked up to ``COMPARE_BUDGETS`` budgets; past that the document is taken as the longer."""
        query, document = _least(head.known, self._budget), _least(body.known, self._budget)
        over = query > self._budget and document > self._budget
        if over and not not_shorter(head, body, COMPARE_BUDGETS * self._budget):
            query += 1  # the query is the longer side: it keeps the odd token of an odd budget
        return query, document


def _least(tokens: Tokens, budget: int) -> int:
    return min(tokens.least, budget + 1)
