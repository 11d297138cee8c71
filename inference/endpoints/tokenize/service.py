"""TokenizeService: the served model's tokenizer behind ``/tokenize``, ``/decode`` and the segmenter. No HTTP types,
no model work (nothing is queued for the model, whatever its kind); every answer is a JSON-ready payload."""

from __future__ import annotations

from typing import Any

from ...core.engine import ModelEngine
from ...core.protocol import TextTokenizer
from ...core.types import Token
from ...errors import InvalidInputError
from .chunker import chunk
from .types import DecodeRequest, SegmentRequest, TokenizeRequest


def tei_token(token: Token) -> dict[str, Any]:
    """TEI's ``SimpleToken``: character offsets into the text tokenised (null for added special tokens)."""
    return {"id": token.id, "text": token.text, "special": token.special, "start": token.start, "stop": token.stop}


def jina_token(token: Token) -> list[Any]:
    """A token as Jina's Segmenter writes it: ``[text, [ids]]`` (one id each here)."""
    return [token.text, [token.id]]


class TokenizeService:
    """Safe to call from many threads (the Rust tokenizer is)."""

    def __init__(self, engine: ModelEngine, max_inputs: int) -> None:
        self._engine = engine
        self._max_inputs = max_inputs

    def _count_inputs(self, count: int, field: str) -> None:
        if count == 0:
            raise InvalidInputError(f"{field} is empty: send at least one", param=field)
        if count > self._max_inputs:
            raise InvalidInputError(f"{count} {field}, more than the limit of {self._max_inputs} (EMB_MAX_INPUTS); "
                                    "split the request", param=field)  # fmt: skip

    def tokenize(self, request: TokenizeRequest) -> list[list[dict[str, Any]]]:
        """Each text's tokens (TEI: a list per text, even for one)."""
        self._count_inputs(len(request.texts), "inputs")
        tokenizer = self._engine.text_tokenizer
        prompt = self._prompt(tokenizer, request.prompt_name)
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
        tokens = [t for t in tokenizer.tokens(content, False) if t.start is not None and t.stop is not None]
        spans = [(t.start, t.stop) for t in tokens if t.start is not None and t.stop is not None]
        first, last, chars = _window(spans, len(content), request.head, request.tail)
        out: dict[str, Any] = {"num_tokens": len(tokens), "tokenizer": name, "usage": {"tokens": 0}}
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
            out["tokens"] = [jina_token(token) for token in tokens[first:last]]
        return out


def _window(spans: list[tuple[int, int]], length: int, head: int | None, tail: int | None
            ) -> tuple[int, int, tuple[int, int]]:  # fmt: skip
    """The tokens kept (``head``: the first N, ``tail``: the last N, else all) and the characters they stand for."""
    if head is not None and head < len(spans):
        return 0, head, (0, spans[head - 1][1])
    if tail is not None and tail < len(spans):
        return len(spans) - tail, len(spans), (spans[len(spans) - tail][0], length)
    return 0, len(spans), (0, length)
