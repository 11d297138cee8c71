"""How large an answer can get, so that requests are cut to answers the platform returns (SageMaker real-time
6 MB, Serverless 4 MB, Vertex AI 1.5 MB): the server bounds every answer the same way before any model work and
refuses a larger one (413 ``response_too_large``). These bounds are at least the server's: every value at its
longest JSON text, every index and usage count at its widest, room for a long model name.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

# The model's dimensions before an answer has shown them (or ``dimensions`` named them): the widest served.
ASSUMED_DIMENSIONS = 8192
FRAME_BYTES = 1024  # the list envelope around the entries: object, model name, usage
ENTRY_BYTES = 64  # {"object":"embedding","index":N,"embedding":{...}} around one embedding, its separator
RERANK_RESULT_BYTES = 64  # {"index":N,"relevance_score":<24 characters at most>} and its separator
_VALUE_BYTES = {"float": 17, "binary": 5, "ubinary": 4, "int8": 5, "uint8": 4}  # a value's longest JSON text, comma


def embedding_bytes(kind: str, dims: int) -> int:
    """The longest JSON one embedding of type ``kind`` with ``dims`` dimensions takes, with its key."""
    if kind == "base64":
        value = 4 * -(-4 * dims // 3) + len('""')  # little-endian float32 bytes, base64 with padding
    elif kind in ("float", "int8", "uint8"):  # one value per dimension
        value = _VALUE_BYTES[kind] * dims + len("[]")
    else:
        value = _VALUE_BYTES[kind] * -(-dims // 8) + len("[]")  # one int per 8 dimensions
    return len(f'"{kind}":,') + value


def embedding_answer_bytes(types: Sequence[str], dims: int) -> int:
    """One input's share of an embeddings answer asked for ``types`` (a list: one object keyed by type)."""
    return ENTRY_BYTES + len("{}") + sum(embedding_bytes(kind, dims) for kind in types)


# Multi-vector answers (mirroring the server's inference/endpoints/multivector/size.py): each input's entry holds one
# vector per token. A query has the model's query length of them (``GET /info``: ``query_length``, else its
# ``max_length``); a document at most its UTF-8 bytes plus its special and marker tokens, and at most ``max_length``.
ASSUMED_TOKENS = 8192  # a query's (or, without the model's max length, a long document's) token vectors, unknown
MARKER_TOKENS = 8  # the special and marker tokens a document gets beyond one token per UTF-8 byte, at most


def most_tokens(text: str, input_type: str, query_length: int | None, max_length: int | None) -> int:
    """A text's token vectors at most, as the server bounds them (None: not known to the client)."""
    if input_type == "query":
        return query_length or max_length or ASSUMED_TOKENS
    tokens = len(text.encode("utf-8", "surrogatepass")) + MARKER_TOKENS
    return min(tokens, max_length) if max_length else tokens


def multivector_answer_bytes(types: Sequence[str], dims: int, tokens: int) -> int:
    """One input's share of a multi-vector answer asked for ``types`` (a list: ``{type: [vector, ...]}``): its
    ``{"object":"embeddings","index":N,"embeddings":{...}}`` entry with ``tokens`` vectors of each type."""
    total = ENTRY_BYTES + len("{}")
    for kind in types:
        vector = embedding_bytes(kind, dims) - len(f'"{kind}":,')  # one vector's value, "[...]" or '"..."'
        total += len(f'"{kind}":[],') + tokens * (vector + 1)  # the vectors, comma-separated
    return total


CLASSIFY_ENTRY_BYTES = 128  # {"object":"classification","index":N,"prediction":,"score":<24>,"predictions":[]},
LABEL_SCORE_BYTES = 48  # {"label":,"score":<24 characters at most>}, around one label's JSON text
ASSUMED_LABELS = ("x" * 64,) * 256  # a classifier's own labels before an answer has shown them: 256 of 64 characters


def classify_answer_bytes(labels: Sequence[str]) -> int:
    """One input's share of Jina's classify answer listing ``labels`` (the longest one predicted)."""
    texts = [len(json.dumps(label, ensure_ascii=False).encode()) for label in labels] or [2]
    return CLASSIFY_ENTRY_BYTES + max(texts) + sum(text + LABEL_SCORE_BYTES for text in texts)


# Sparse answers (mirroring the server's inference/endpoints/sparse/size.py): TEI's list of lists, each input's list
# as long as the vocabulary at most (a SPLADE vector may be nonzero anywhere), each entry at its widest.
ASSUMED_VOCABULARY = 30522  # BERT's (most SPLADE models'), before GET /info has named the model's
SPARSE_VALUE = "-0.0000140372895"  # the longest text a float32 value takes (the server's WORST_FLOAT32)


def sparse_answer_bytes(vocabulary: int) -> int:
    """One input's share of a sparse answer: every vocabulary entry ``{"index":N,"value":V}`` at its widest, with
    the commas between them, the list's brackets and its separator."""
    entry = len(f'{{"index":{max(vocabulary - 1, 0)},"value":{SPARSE_VALUE}}}')
    return len("[]") + vocabulary * (entry + 1)
