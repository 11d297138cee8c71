"""What a parsed request asks of its caller's rate limits before it runs (api/access_hooks.py reserves it).

- ``requests``: 1 per body; a record body (Batch Transform's JSON Lines or CSV) counts one per record (line),
  since each record is what an online caller would send as a request of its own; a Vertex body one per rerank
  instance (each is a rerank request). A Jina CSV row with several inputs is one record.
- ``tokens``: a lower bound of its usage, from its words (token_bounds.py): never above what it will be
  charged, so an estimate never refuses a request the allowance covers. No tokenizer, no model: a text counts
  its words (special tokens and word pieces are left out), an image one token, a late-chunked request at most
  the model's maximum length (its inputs are encoded as one sequence); with ``long_input="split"`` no text is
  cut, so none is capped.

A tokenizer request (``/tokenize``, ``/decode``, the segmenter) does no model work: one request and no tokens
(``TOKENIZER_DEMAND``), as Jina counts its Segmenter; the access hooks keep it off the tokens bucket entirely.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..core.types import InputItem, TextInput
from .classify.endpoint import ParsedClassify
from .classify.service import least_request_tokens
from .embeddings.endpoint import Parsed
from .embeddings.records import Records
from .embeddings.service import UNCUT
from .embeddings.types import EmbeddingsCall, EmbedRequest
from .multivector.endpoint import ParsedMultiVector
from .rerank.endpoint import ParsedRerank
from .rerank.types import RerankCall
from .sparse.endpoint import ParsedSparse
from .token_bounds import least_pair_tokens, least_tokens
from .vertex import VertexParsed

IMAGE_LEAST_TOKENS = 1  # an image's usage depends on its size, known only once it is fetched and decoded


@dataclass(frozen=True, slots=True)
class Demand:
    requests: int
    tokens: int

    def __add__(self, other: Demand) -> Demand:
        return Demand(self.requests + other.requests, self.tokens + other.tokens)


TOKENIZER_DEMAND = Demand(1, 0)  # /tokenize, /decode, the segmenter: no model work


def _least(items: Sequence[InputItem], max_length: int, request: EmbedRequest) -> int:
    """A split request (``long_input``) is never cut: each text counts all its words, in every case."""
    texts = [item.text for item in items if isinstance(item, TextInput)]
    bound = least_tokens(texts, UNCUT if request.split_long else max_length)
    bound += IMAGE_LEAST_TOKENS * (len(items) - len(texts))
    return min(bound, max_length) if request.late_chunking and not request.split_long else bound


def _call(call: EmbeddingsCall, max_length: int) -> Demand:
    return Demand(1, _least(call.request.inputs, max_length, call.request))


def _records(records: Records, max_length: int) -> Demand:
    """One request per line; a late-chunked line's inputs (a Jina row) are one sequence."""
    by_line: dict[int, list[int]] = {}
    for position, line in enumerate(records.lines):
        by_line.setdefault(line, []).append(position)
    tokens = sum(_least([records.items[p] for p in positions], max_length, records.options[positions[0]].request)
                 for positions in by_line.values())  # fmt: skip
    return Demand(len(by_line), tokens)


def _rerank(call: RerankCall, max_length: int) -> Demand:
    return Demand(1, least_pair_tokens(call.request.query, call.request.documents, max_length))


def _one(parsed: Parsed | ParsedRerank | ParsedMultiVector | ParsedClassify | ParsedSparse, max_length: int) -> Demand:
    if isinstance(parsed, ParsedSparse):  # one request per body, or per record
        texts = [text for request in parsed.requests for text in request.inputs]
        return Demand(len(parsed.requests) if isinstance(parsed.body, list) else 1, least_tokens(texts, max_length))
    if isinstance(parsed, ParsedClassify):  # one request per body, or per record
        tokens = sum(least_request_tokens(call.request, max_length) for call in parsed.calls)
        return Demand(len(parsed.calls) if isinstance(parsed.body, list) else 1, tokens)
    if isinstance(parsed, ParsedMultiVector):  # one request per body, or per record
        texts = [text for call in parsed.calls for text in call.request.inputs]
        return Demand(len(parsed.calls) if isinstance(parsed.body, list) else 1, least_tokens(texts, max_length))
    if isinstance(parsed, ParsedRerank):
        calls = [parsed.body] if isinstance(parsed.body, RerankCall) else [call for _, call in parsed.body]
        return sum((_rerank(call, max_length) for call in calls), Demand(0, 0))
    if isinstance(parsed.body, Records):
        return _records(parsed.body, max_length)
    return _call(parsed.body, max_length)


def demand(parsed: Parsed | ParsedRerank | ParsedMultiVector | ParsedClassify | ParsedSparse | VertexParsed,
           max_length: int) -> Demand:  # fmt: skip
    """``parsed``'s demand on a model of ``max_length`` tokens."""
    if isinstance(parsed, VertexParsed):
        return sum((_one(call, max_length) for call in parsed.calls), Demand(0, 0))
    return _one(parsed, max_length)
