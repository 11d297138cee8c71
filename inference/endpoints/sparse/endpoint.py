"""The sparse slice's entry point: request bytes in, a ``Reply`` out (framework-free).

parse (content type, Accept, a JSON body or Batch Transform records) -> the service (tokenise, batch, model) ->
encode (each input's nonzero entries).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ...codecs.json import decode_json, dumps, encode_jsonlines
from ...codecs.negotiation import check_content_type, negotiate_accept
from ...mime import JSON, JSONLINES
from ...settings import Settings
from ..reply import Reply
from .records import decode_sparse_records, encode_records
from .response import build_response
from .schema import parse_sparse_request
from .service import SparseService
from .types import SparseRequest, SparseResult


@dataclass(frozen=True, slots=True)
class ParsedSparse:
    """One JSON request, or Batch Transform records ``(line, request)``; ``accept``: the response type."""

    body: SparseRequest | list[tuple[int, SparseRequest]]
    accept: str

    @property
    def requests(self) -> list[SparseRequest]:
        return [self.body] if isinstance(self.body, SparseRequest) else [request for _, request in self.body]

    @property
    def inputs(self) -> int:
        """Texts encoded (the metered units)."""
        return sum(len(request.inputs) for request in self.requests)


class SparseEndpoint:
    def __init__(self, service: SparseService, settings: Settings) -> None:
        self._service = service
        self._max_inputs = settings.max_inputs

    @property
    def service(self) -> SparseService:
        return self._service

    def parse(self, body: bytes, content_type: str | None, accept: str | None) -> ParsedSparse:
        """JSON bodies answer JSON by default, record bodies (JSON Lines, CSV) JSON Lines."""
        mime = check_content_type(content_type)
        answer = negotiate_accept(accept, default=JSON if mime == JSON else JSONLINES)
        if mime == JSON:
            return ParsedSparse(parse_sparse_request(decode_json(body), max_inputs=self._max_inputs), answer)
        return ParsedSparse(decode_sparse_records(body, mime, self._max_inputs), answer)

    def run(self, parsed: ParsedSparse, deadline: float | None = None,
            cancelled: threading.Event | None = None) -> Reply:  # fmt: skip
        deadline = self._service.default_deadline() if deadline is None else deadline

        def encode(request: SparseRequest) -> SparseResult:
            return self._service.encode(request, deadline, cancelled)

        if isinstance(parsed.body, SparseRequest):
            result = encode(parsed.body)
            lines, tokens = build_response(result), result.tokens
        else:
            lines, tokens = encode_records(parsed.body, encode)
        content = encode_jsonlines(lines) if parsed.accept == JSONLINES else dumps(lines)
        return Reply(content, parsed.accept, units=parsed.inputs, tokens=tokens)
