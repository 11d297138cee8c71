"""The served model's tokenizer: ``tokenize`` and ``decode`` (Text Embeddings Inference's ``POST /tokenize`` and
``POST /decode``) and ``segment`` (Jina's Segmenter, ``POST /v1/segment``).

These are the container's own paths, so only a client of the container itself reaches them
(``EmbeddingClient.local``, or an ``HttpTransport`` with ``base_url``): SageMaker exposes only ``/invocations``, an
Azure ML endpoint its scoring URI and Vertex AI its predict methods, and there they raise ``TypeError`` before
anything is sent. ``tokenize`` and ``decode`` cut their inputs into requests of ``batch_size`` and
``max_body_bytes``; an answer over the server's response limit (413, about 70 bytes a token) sends each half.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, overload

from .errors import EmbeddingServiceError
from .plumbing import ClientBase, Part
from .wire import dumps, plan_batches


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its ``id``, its ``text``, whether it is ``special``, and its character offsets into the text
    (``text[start:stop]``; None for the special tokens the tokenizer adds)."""

    id: int
    text: str
    special: bool
    start: int | None
    stop: int | None


@dataclass(frozen=True, slots=True)
class Segmentation:
    """Jina's Segmenter answer: ``num_tokens`` (the content's, without special tokens), ``tokenizer``; with chunks,
    ``chunks``, ``chunk_positions`` (``[start, stop)`` character offsets) and ``num_chunks``; with tokens,
    ``tokens`` as ``(text, [id])`` pairs (one list per chunk when chunked). None where not asked for."""

    num_tokens: int
    tokenizer: str
    chunks: list[str] | None = None
    chunk_positions: list[tuple[int, int]] | None = None
    num_chunks: int | None = None
    tokens: list[Any] | None = None


def _pairs(tokens: list[Any]) -> list[Any]:
    """``[[text, [id]], ...]`` (or one such list per chunk) -> ``(text, [id])`` tuples."""
    if tokens and isinstance(tokens[0], list) and tokens[0] and isinstance(tokens[0][0], list):
        return [_pairs(chunk) for chunk in tokens]
    return [(str(text), [int(i) for i in ids]) for text, ids in tokens]


def _lists(payload: Any, count: int, what: str) -> list[Any]:
    if not isinstance(payload, list) or len(payload) != count:
        got = len(payload) if isinstance(payload, list) else "no list"
        raise EmbeddingServiceError(200, "bad_response", f"sent {count} {what}, got {got}: {str(payload):.200}")
    return payload


class TokenizerMethods(ClientBase):
    @overload
    def tokenize(  # type: ignore[overload-overlap]  # a str is a sequence of str: the first overload wins
        self, texts: str, *, add_special_tokens: bool = ..., prompt_name: str | None = ...
    ) -> list[Token]: ...
    @overload
    def tokenize(self, texts: Sequence[str], *, add_special_tokens: bool = ...,
                 prompt_name: str | None = ...) -> list[list[Token]]: ...  # fmt: skip
    def tokenize(self, texts: str | Sequence[str], *, add_special_tokens: bool = True,
                 prompt_name: str | None = None) -> list[Token] | list[list[Token]]:  # fmt: skip
        """Each text's tokens by the served model's tokenizer (ids as ``AutoTokenizer`` gives them, never cut at the
        max length); one ``str`` gives its list of tokens. ``prompt_name``: one of the model's named prompts, put
        before each text (the offsets then count from the prompt's start)."""
        items = [texts] if isinstance(texts, str) else list(texts)
        if not all(isinstance(text, str) for text in items):
            raise TypeError("texts must be a str or a list of str")
        if not items:
            raise ValueError("texts must not be empty")
        body: dict[str, Any] = {"add_special_tokens": add_special_tokens}
        if prompt_name is not None:
            body["prompt_name"] = prompt_name

        def send(batch: list[str]) -> Part[list[Token]]:
            answer = json.loads(self._server_only("/tokenize", dumps({**body, "inputs": batch}), "tokenize"))
            tokens = [[Token(int(t["id"]), str(t["text"]), bool(t["special"]), t.get("start"), t.get("stop"))
                       for t in entry] for entry in _lists(answer, len(batch), "texts")]  # fmt: skip
            return tokens, 0, ""

        result = self._batched(items, body, "inputs", send)
        return result[0] if isinstance(texts, str) else result

    @overload
    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = ...) -> str: ...
    @overload
    def decode(self, ids: Sequence[Sequence[int]], *, skip_special_tokens: bool = ...) -> list[str]: ...
    def decode(self, ids: Sequence[int] | Sequence[Sequence[int]], *,
               skip_special_tokens: bool = True) -> str | list[str]:  # fmt: skip
        """The text of a sequence of token ids (a list of sequences: one text each)."""
        if not ids:
            raise ValueError("ids must not be empty")
        single = all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
        sequences = [list(ids)] if single else [list(sequence) for sequence in ids]  # type: ignore[arg-type]
        body = {"skip_special_tokens": skip_special_tokens}

        def send(batch: list[list[int]]) -> Part[str]:
            answer = json.loads(self._server_only("/decode", dumps({**body, "ids": batch}), "decode"))
            return [str(text) for text in _lists(answer, len(batch), "sequences")], 0, ""

        texts = self._batched(sequences, body, "ids", send)
        return texts[0] if single else texts

    def segment(
        self,
        content: str,
        *,
        max_chunk_length: int | None = None,
        return_tokens: bool = False,
        return_chunks: bool = True,
        head: int | None = None,
        tail: int | None = None,
    ) -> Segmentation:
        """Count ``content``'s tokens and cut it into chunks of at most ``max_chunk_length`` tokens (default: one
        input of the served model) at paragraph, line and sentence ends; the chunks can go back unchanged as
        ``embed`` inputs (with ``late_chunking`` too). ``head`` / ``tail``: only the first / last N tokens."""
        if not isinstance(content, str):
            raise TypeError(f"content must be a str, got {type(content).__name__}")
        options = {"max_chunk_length": max_chunk_length, "head": head, "tail": tail}
        body = {"content": content, "return_tokens": return_tokens, "return_chunks": return_chunks,
                **{key: value for key, value in options.items() if value is not None}}  # fmt: skip
        answer = json.loads(self._server_only("/v1/segment", dumps(body), "segment"))
        if not isinstance(answer, dict) or "num_tokens" not in answer:
            raise EmbeddingServiceError(200, "bad_response", f"not a segmenter answer: {str(answer):.200}")
        positions = answer.get("chunk_positions")
        return Segmentation(
            int(answer["num_tokens"]), str(answer.get("tokenizer", "")), answer.get("chunks"),
            [(int(a), int(b)) for a, b in positions] if positions is not None else None, answer.get("num_chunks"),
            _pairs(answer["tokens"]) if answer.get("tokens") is not None else None,
        )  # fmt: skip

    def _batched(self, items: list[Any], body: dict[str, Any], key: str, send: Any) -> list[Any]:
        """``items`` in requests of ``batch_size`` and ``max_body_bytes``, a 413 halving one; the results in order."""
        batches = plan_batches(items, body, self.batch_size, self.max_body_bytes, key=key)
        parts = self._map(lambda batch: self._split_on_413(items[batch.start : batch.stop], send), batches)
        return [result for part in parts for result in part[0]]
