"""The multi-vector slice's entry point: request bytes in, a ``Reply`` out (framework-free).

parse (content type, Accept, a JSON body or Batch Transform records) -> the service (validate, tokenise per input
type, batch, model) -> encode (each input's token vectors).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ...codecs.json import decode_json, dumps, encode_jsonlines
from ...codecs.negotiation import check_content_type, negotiate_accept
from ...mime import JSON, JSONLINES
from ...settings import Settings
from ..reply import Reply
from .records import decode_multivector_records, encode_records
from .response import build_response
from .schema import parse_multivector_request
from .service import MultiVectorService
from .types import MultiVectorCall, MultiVectorRequest, MultiVectorResult


@dataclass(frozen=True, slots=True)
class ParsedMultiVector:
    """One JSON call, or Batch Transform records ``(line, call)``; ``accept``: the response type."""

    body: MultiVectorCall | list[tuple[int, MultiVectorCall]]
    accept: str

    @property
    def calls(self) -> list[MultiVectorCall]:
        return [self.body] if isinstance(self.body, MultiVectorCall) else [call for _, call in self.body]

    @property
    def inputs(self) -> int:
        """Texts encoded (the metered units)."""
        return sum(len(call.request.inputs) for call in self.calls)


class MultiVectorEndpoint:
    def __init__(self, service: MultiVectorService, settings: Settings, flagged: bool = False) -> None:
        """``flagged``: JSON bodies must say ``"return_multivector": true`` (the OpenAI-shaped embeddings paths)."""
        self._service, self._settings = service, settings
        self._flagged = flagged
        self._max_inputs = settings.max_inputs
        self._record_options = dict(settings.record_options)

    @property
    def service(self) -> MultiVectorService:
        return self._service

    def flagged(self) -> MultiVectorEndpoint:
        """This endpoint for the OpenAI-shaped embeddings paths: JSON bodies must say ``return_multivector``."""
        return MultiVectorEndpoint(self._service, self._settings, flagged=True)

    def parse(self, body: bytes, content_type: str | None, accept: str | None) -> ParsedMultiVector:
        """JSON bodies answer JSON by default, record bodies (JSON Lines, CSV) JSON Lines."""
        mime = check_content_type(content_type)
        answer = negotiate_accept(accept, default=JSON if mime == JSON else JSONLINES)
        if mime == JSON:
            call = parse_multivector_request(decode_json(body), max_inputs=self._max_inputs, flagged=self._flagged)
            return ParsedMultiVector(call, answer)
        records = decode_multivector_records(body, mime, self._record_options, self._max_inputs)
        return ParsedMultiVector(records, answer)

    def run(self, parsed: ParsedMultiVector, deadline: float | None = None,
            cancelled: threading.Event | None = None) -> Reply:  # fmt: skip
        deadline = self._service.default_deadline() if deadline is None else deadline

        def encode(request: MultiVectorRequest) -> MultiVectorResult:
            return self._service.encode(request, deadline, cancelled)

        if isinstance(parsed.body, MultiVectorCall):
            result = encode(parsed.body.request)
            payload = build_response(result, parsed.body.format)
            lines, tokens = list(payload["data"]), result.tokens
        else:
            lines, tokens = encode_records(parsed.body, encode)
            payload = {"object": "list", "data": lines}
        content = encode_jsonlines(lines) if parsed.accept == JSONLINES else dumps(payload)
        return Reply(content, parsed.accept, units=parsed.inputs, tokens=tokens)
