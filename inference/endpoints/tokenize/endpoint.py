"""The tokenizer slice's entry points: request bytes in, a ``Reply`` out (framework-free). One endpoint per
operation (``TOKENIZE``, ``DECODE``, ``SEGMENT``), each JSON in and JSON out."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...codecs.json import decode_json, dumps
from ...codecs.negotiation import check_content_type, negotiate_accept
from ...errors import NotAcceptableError, UnsupportedMediaTypeError
from ...mime import JSON
from ..reply import Reply
from .schema import parse_decode, parse_segment, parse_tokenize
from .service import TokenizeService
from .types import DecodeRequest, SegmentRequest, TokenizeRequest

TOKENIZE, DECODE, SEGMENT = "tokenize", "decode", "segment"  # the operations (the route table's actions)
PARSERS: dict[str, Callable[[Any], TokenizeRequest | DecodeRequest | SegmentRequest]] = {
    TOKENIZE: parse_tokenize, DECODE: parse_decode, SEGMENT: parse_segment}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ParsedTokens:
    request: TokenizeRequest | DecodeRequest | SegmentRequest

    @property
    def inputs(self) -> int:
        """Texts (or id sequences) in the request: what the request log counts."""
        if isinstance(self.request, TokenizeRequest):
            return len(self.request.texts)
        if isinstance(self.request, DecodeRequest):
            return len(self.request.sequences)
        return 1


class TokenizerEndpoint:
    """``parse`` then ``run``; no model work, so neither a deadline nor a cancellation applies."""

    def __init__(self, service: TokenizeService, operation: str) -> None:
        self._service = service
        self._parse = PARSERS[operation]

    def parse(self, body: bytes, content_type: str | None, accept: str | None) -> ParsedTokens:
        if check_content_type(content_type) != JSON:
            raise UnsupportedMediaTypeError(f"this endpoint reads {JSON} bodies only")
        if negotiate_accept(accept) != JSON:
            raise NotAcceptableError(f"this endpoint answers {JSON} only")
        return ParsedTokens(self._parse(decode_json(body)))

    def run(
        self, parsed: ParsedTokens, deadline: float | None = None, cancelled: threading.Event | None = None
    ) -> Reply:
        request = parsed.request
        payload: Any
        with self._service.turn():
            if isinstance(request, TokenizeRequest):
                payload = self._service.tokenize(request)
            elif isinstance(request, DecodeRequest):
                payload = self._service.decode(request)
            else:
                payload = self._service.segment(request)
            content = dumps(payload)
            del payload
        return Reply(content, JSON, units=parsed.inputs, tokens=0)
