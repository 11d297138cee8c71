"""Listwise rerankers (jina-reranker-v3): which folders are one, the prompt, the blocks and the score. No torch.

jina-reranker-v3 reads a query and many documents in one causal context ("last but not late" interaction): each
document is followed by ``<|embed_token|>``, the query (repeated after the documents) by ``<|rerank_token|>``; the
last hidden states at those tokens go through the model's MLP projector, and a document's score is the cosine of
its vector with the query's. All of it is done here as the model card's reference code (``JinaForRanking.rerank``)
does it:

- The query is cut to its first ``MAX_QUERY_TOKENS`` tokens and each document to ``MAX_DOCUMENT_TOKENS`` (a text
  that reaches the cap is replaced by the decoding of its first tokens), then the two special tokens are removed
  from every text.
- Documents fill blocks in request order. A block's room is the model's max length less twice the query's
  tokens; it closes once it holds ``BLOCK_DOCUMENTS`` documents or its room, less its documents' tokens, is down
  to ``MAX_DOCUMENT_TOKENS``. Each block is one prompt (``prompt``), one sequence through the model.
- With several blocks, the query vector is the mean of the blocks' query vectors weighted by each block's best
  ``(1 + cosine) / 2``, and every document is scored against it (``merge``): with one block, the block's cosines.

A document's score depends on the other documents of its request (they share the context): that is the model's
design, not batching; requests never share a block.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

LISTWISE_RERANK = "listwise-rerank"
ARCHITECTURES = frozenset({"JinaForRanking"})
DOCUMENT_TOKEN, QUERY_TOKEN = "<|embed_token|>", "<|rerank_token|>"
MAX_QUERY_TOKENS = 512
MAX_DOCUMENT_TOKENS = 2048
BLOCK_DOCUMENTS = 125

SYSTEM = (
    "<|im_start|>system\n"
    "You are a search relevance expert who can determine a ranking of the passages based on how relevant they are "
    "to the query. If the query is a question, how relevant a passage is depends on how well it answers the "
    "question. If not, try to analyze the intent of the query and assess how well each passage satisfies the "
    "intent. If an instruction is provided, you should follow the instruction when determining the ranking."
    "<|im_end|>\n<|im_start|>user\n"
)
ASSISTANT = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"


def is_listwise_reranker(config: dict[str, Any]) -> bool:
    """A ``config.json`` whose ``architectures`` name jina-reranker-v3's ``JinaForRanking``."""
    return any(str(name) in ARCHITECTURES for name in config.get("architectures") or ())


def sanitize(text: str) -> str:
    """``text`` without the two scoring tokens, which only the prompt may place."""
    return text.replace(DOCUMENT_TOKEN, "").replace(QUERY_TOKEN, "")


def prompt(query: str, documents: Sequence[str]) -> str:
    """One block's prompt: the system turn, the documents each closed by ``<|embed_token|>``, the query closed by
    ``<|rerank_token|>``, and the assistant turn with an empty think block."""
    query = sanitize(query)
    passages = "\n".join(f'<passage id="{i}">\n{sanitize(doc)}{DOCUMENT_TOKEN}\n</passage>'
                         for i, doc in enumerate(documents))  # fmt: skip
    body = (
        f"I will provide you with {len(documents)} passages, each indicated by a numerical identifier. "
        f"Rank the passages based on their relevance to query: {query}\n"
        f"{passages}\n<query>\n{query}{QUERY_TOKEN}\n</query>"
    )
    return SYSTEM + body + ASSISTANT


def blocks(document_tokens: Sequence[int], query_tokens: int, max_length: int) -> list[range]:
    """The documents of each block, as index ranges, from each document's (cut) token count."""
    room = max_length - 2 * query_tokens
    found, start, left = [], 0, room
    for index, tokens in enumerate(document_tokens):
        left -= tokens
        if index + 1 - start >= BLOCK_DOCUMENTS or left <= MAX_DOCUMENT_TOKENS:
            found.append(range(start, index + 1))
            start, left = index + 1, room
    if start < len(document_tokens):
        found.append(range(start, len(document_tokens)))
    return found


def merge(outputs: Sequence[np.ndarray]) -> np.ndarray:
    """Each document's score from its blocks' projected vectors (each output: the query's row, then one row per
    document of the block), in document order."""
    queries = np.stack([output[0] for output in outputs]).astype(np.float64)
    documents = np.concatenate([output[1:] for output in outputs]).astype(np.float64)
    if len(outputs) == 1:
        query = queries[0]
    else:
        weights = np.array([(1.0 + _cosines(output[1:], output[0])).max() / 2.0 for output in outputs])
        query = np.average(queries, axis=0, weights=weights if weights.sum() > 0 else None)
    return _cosines(documents, query).astype(np.float32)


def _cosines(rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
    rows, vector = rows.astype(np.float64), vector.astype(np.float64)
    norms = np.linalg.norm(rows, axis=1) * np.linalg.norm(vector)
    return np.asarray(rows @ vector / np.maximum(norms, 1e-12))
