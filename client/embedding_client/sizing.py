"""How large an answer can get, so that requests are cut to answers the platform returns (SageMaker real-time
6 MB, Serverless 4 MB, Vertex AI 1.5 MB): the server bounds every answer the same way before any model work and
refuses a larger one (413 ``response_too_large``). These bounds are at least the server's: every value at its
longest JSON text, every index and usage count at its widest, room for a long model name.
"""

from __future__ import annotations

from collections.abc import Sequence

# The model's dimensions before an answer has shown them (or ``dimensions`` named them): the widest served.
ASSUMED_DIMENSIONS = 8192
FRAME_BYTES = 1024  # the list envelope around the entries: object, model name, usage
ENTRY_BYTES = 64  # {"object":"embedding","index":N,"embedding":{...}} around one embedding, its separator
RERANK_RESULT_BYTES = 64  # {"index":N,"relevance_score":<24 characters at most>} and its separator
_VALUE_BYTES = {"float": 17, "binary": 5, "ubinary": 4}  # a value's longest JSON text and its comma


def embedding_bytes(kind: str, dims: int) -> int:
    """The longest JSON one embedding of type ``kind`` with ``dims`` dimensions takes, with its key."""
    if kind == "base64":
        value = 4 * -(-4 * dims // 3) + len('""')  # little-endian float32 bytes, base64 with padding
    elif kind == "float":
        value = _VALUE_BYTES[kind] * dims + len("[]")
    else:
        value = _VALUE_BYTES[kind] * -(-dims // 8) + len("[]")  # one int per 8 dimensions
    return len(f'"{kind}":,') + value


def embedding_answer_bytes(types: Sequence[str], dims: int) -> int:
    """One input's share of an embeddings answer asked for ``types`` (a list: one object keyed by type)."""
    return ENTRY_BYTES + len("{}") + sum(embedding_bytes(kind, dims) for kind in types)
