"""TokenizeService: the served model's tokenizer behind ``/tokenize``, ``/decode`` and the segmenter. No HTTP types,
no model work (nothing is queued for the model, whatever its kind); every answer is a JSON-ready payload.

Tokenising costs CPU and memory by the character (a few hundred bytes a token while an answer is built), so a
worker runs at most ``CONCURRENT`` tokenizer requests at once (others wait up to ``WAIT_S``, then 503), a request
holds at most ``MAX_CHARACTERS``, and an answer that cannot fit the response limit is refused from the token
count (the Rust tokenizer's, no Python objects per token) before it is built.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ...core.engine import ModelEngine
from ...core.protocol import TextTokenizer
from ...core.types import Token
from ...errors import InvalidInputError, OverloadedError, PayloadTooLargeError, ResponseTooLargeError
from .chunker import chunk
from .types import DecodeRequest, SegmentRequest, TokenizeRequest

CONCURRENT = 2  # tokenizer requests a worker runs at once
WAIT_S = 10.0  # how long one waits for its turn before a 503
MAX_CHARACTERS = 2_000_000  # characters of text one request may hold (about 250 MB while it is tokenised)
# The fewest bytes one token takes in an answer: TEI's ``{"id":0,"text":"","special":false,"start":0,"stop":0}``
# with its separator, and Jina's ``["",[0]]`` with its separator.
TEI_TOKEN_BYTES, JINA_TOKEN_BYTES = 52, 9
MB = 1_000_000


def tei_token(token: Token) -> dict[str, Any]:
    """TEI's ``SimpleToken``: character offsets into the text tokenised (null for added special tokens)."""
    return {"id": token.id, "text": token.text, "special": token.special, "start": token.start, "stop": token.stop}


def jina_token(token: Token) -> list[Any]:
    """A token as Jina's Segmenter writes it: ``[text, [ids]]`` (one id each here)."""
    return [token.text, [token.id]]


class TokenizeService:
    """Safe to call from many threads (the Rust tokenizer is)."""

    def __init__(self, engine: ModelEngine, max_inputs: int, max_response_bytes: int | None = None) -> None:
        self._engine = engine
        self._max_inputs = max_inputs
        self._max_response = max_response_bytes
        self._turns = threading.BoundedSemaphore(CONCURRENT)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Held while a request tokenises and its answer is written (503 when no turn comes within ``WAIT_S``)."""
        if not self._turns.acquire(timeout=WAIT_S):
            raise OverloadedError(f"{CONCURRENT} tokenizer requests are running on this worker; retry shortly")
        try:
            yield
        finally:
            self._turns.release()

    @staticmethod
    def _check_size(texts: list[str]) -> None:
        characters = sum(len(text) for text in texts)
        if characters > MAX_CHARACTERS:
            raise PayloadTooLargeError(f"{characters} characters of text, more than the {MAX_CHARACTERS} one "
                                       "tokenizer request may hold; split it")  # fmt: skip

    def _check_answer(self, tokens: int, per_token: int) -> None:
        """413 when ``tokens`` tokens cannot fit the response limit, before the answer is built."""
        if self._max_response is not None and tokens * per_token > self._max_response:
            raise ResponseTooLargeError(
                f"{tokens} tokens take at least {tokens * per_token / MB:.2f} MB to answer, more than the "
                f"{self._max_response / MB:g} MB this endpoint returns (EMB_MAX_RESPONSE_MB): send less text, or "
                f"at most {self._max_response // per_token} tokens")

    def _count_inputs(self, count: int, field: str) -> None:
        if count == 0:
            raise InvalidInputError(f"{field} is empty: send at least one", param=field)
        if count > self._max_inputs:
            raise InvalidInputError(f"{count} {field}, more than the limit of {self._max_inputs} (EMB_MAX_INPUTS); "
                                    "split the request", param=field)  # fmt: skip

    def tokenize(self, request: TokenizeRequest) -> list[list[dict[str, Any]]]:
        """Each text's tokens (TEI: a list per text, even for one)."""
        self._count_inputs(len(request.texts), "inputs")
        self._check_size(list(request.texts))
        tokenizer = self._engine.text_tokenizer
        prompt = self._prompt(tokenizer, request.prompt_name)
        texts = [prompt + text for text in request.texts]
        self._check_answer(sum(tokenizer.count(texts, request.add_special_tokens)), TEI_TOKEN_BYTES)
        return [[tei_token(token) for token in tokenizer.tokens(prompt + text, request.add_special_tokens)]
                for text in request.texts]  # fmt: skip

    @staticmethod
    def _prompt(tokenizer: TextTokenizer, name: str | None) -> str:
        if name is None:
            return ""
        prompts = tokenizer.prompts
        if name not in prompts:
            known = f"its prompts: {', '.join(sorted(prompts))}" if prompts else "it defines none"
            raise InvalidInputError(f"prompt_name {name!r} is no prompt of the served model; {known}",
                                    param="prompt_name")  # fmt: skip
        return prompts[name]

    def decode(self, request: DecodeRequest) -> list[str]:
        """Each sequence's text (TEI: a list, even for one sequence)."""
        self._count_inputs(len(request.sequences), "ids")
        tokenizer = self._engine.text_tokenizer
        return [tokenizer.decode(ids, request.skip_special_tokens) for ids in request.sequences]

    def default_chunk_length(self) -> int:
        """What one input of the served model holds: its maximum length less the special tokens it adds."""
        specials = self._engine.text_tokenizer.count([""], True)[0]
        return max(1, self._engine.info.max_length - specials)

    def segment(self, request: SegmentRequest) -> dict[str, Any]:
        """Jina's Segmenter answer: the content's token count, and on request its tokens and its chunks."""
        name = self._engine.info.name
        if request.tokenizer not in (None, name):
            raise InvalidInputError(f"tokenizer {request.tokenizer!r}: this server counts with the served model's "
                                    f"tokenizer only, {name!r} (leave tokenizer out)", param="tokenizer")  # fmt: skip
        tokenizer = self._engine.text_tokenizer
        content = request.content
        self._check_size([content])
        spans = tokenizer.spans(content)
        first, last, chars = _window(spans, len(content), request.head, request.tail)
        if request.return_tokens:
            self._check_answer(last - first, JINA_TOKEN_BYTES)
        out: dict[str, Any] = {"num_tokens": len(spans), "tokenizer": name, "usage": {"tokens": 0}}
        if request.return_chunks:
            budget = request.max_chunk_length or self.default_chunk_length()
            positions = chunk(content, spans, budget, lambda texts: tokenizer.count(texts, False), (first, last), chars)
            out["num_chunks"] = len(positions)
            out["chunk_positions"] = [[start, stop] for start, stop in positions]
            if request.return_tokens:  # each chunk as it is tokenised alone: what an embeddings request sees
                out["tokens"] = [[jina_token(t) for t in tokenizer.tokens(content[start:stop], False)]
                                 for start, stop in positions]  # fmt: skip
            out["chunks"] = [content[start:stop] for start, stop in positions]
        elif request.return_tokens:
            kept = tokenizer.tokens(content, False)
            out["tokens"] = [jina_token(token) for token in kept if token.start is not None][first:last]
        return out


def _window(spans: list[tuple[int, int]], length: int, head: int | None, tail: int | None
            ) -> tuple[int, int, tuple[int, int]]:  # fmt: skip
    """The tokens kept (``head``: the first N, ``tail``: the last N, else all) and the characters they stand for."""
    if head is not None and head < len(spans):
        return 0, head, (0, spans[head - 1][1])
    if tail is not None and tail < len(spans):
        return len(spans) - tail, len(spans), (spans[len(spans) - tail][0], length)
    return 0, len(spans), (0, length)
