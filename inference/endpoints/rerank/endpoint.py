"""The rerank slice's entry point: request bytes in, a ``Reply`` out (framework-free).

parse (content type, Accept, JSON or JSON Lines records) -> the service (validate, tokenise pairs, batch,
model) -> encode (sorted results).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ...codecs.json import decode_json, dumps, encode_jsonlines
from ...codecs.negotiation import check_content_type, negotiate_accept
from ...errors import UnsupportedMediaTypeError
from ...mime import JSON, JSONLINES
from ..reply import Reply
from .cohere import parse_cohere_rerank, parse_invocation_rerank
from .records import decode_rerank_records, rerank_records
from .response import build_response
from .schema import parse_rerank_request
from .service import RerankService
from .types import RerankCall, RerankRequest, RerankResult


@dataclass(frozen=True, slots=True)
class ParsedRerank:
    body: RerankCall | list[tuple[int, RerankCall]]  # one JSON call, or Batch Transform records
    accept: str

    @property
    def inputs(self) -> int:
        """Documents scored (the metered units)."""
        calls = [self.body] if isinstance(self.body, RerankCall) else [call for _, call in self.body]
        return sum(len(call.request.documents) for call in calls)


class RerankEndpoint:
    def __init__(self, service: RerankService, *, cohere: bool = False, invocations: bool = False) -> None:
        self._service = service
        self._cohere, self._invocations = cohere, invocations

    def cohere(self) -> RerankEndpoint:
        """This slice reading Cohere's v2 rerank bodies (``/v2/rerank``: JSON only)."""
        return RerankEndpoint(self._service, cohere=True)

    def invocations(self) -> RerankEndpoint:
        """This slice on the platform invocation paths: it reads Cohere's v2 rerank body as well
        (``parse_invocation_rerank``)."""
        return RerankEndpoint(self._service, invocations=True)

    @property
    def max_documents(self) -> int:
        """The most documents one request may rank (``EMB_MAX_DOCUMENTS``)."""
        return self._service.max_documents

    def parse(self, body: bytes, content_type: str | None, accept: str | None) -> ParsedRerank:
        mime = check_content_type(content_type)
        if self._cohere:
            if mime != JSON or negotiate_accept(accept) != JSON:
                raise UnsupportedMediaTypeError(f"Cohere's v2 rerank API reads and answers {JSON} only")
            return ParsedRerank(parse_cohere_rerank(decode_json(body)), JSON)
        answer = negotiate_accept(accept, default=JSON if mime == JSON else JSONLINES)
        if mime == JSON:
            parse = parse_invocation_rerank if self._invocations else parse_rerank_request
            return ParsedRerank(parse(decode_json(body)), answer)
        return ParsedRerank(decode_rerank_records(body, mime), answer)

    def run(
        self, parsed: ParsedRerank, deadline: float | None = None, cancelled: threading.Event | None = None
    ) -> Reply:
        deadline = self._service.default_deadline() if deadline is None else deadline

        def rerank(request: RerankRequest) -> RerankResult:
            return self._service.rerank(request, deadline, cancelled)

        if isinstance(parsed.body, RerankCall):
            result = rerank(parsed.body.request)
            payload = build_response(parsed.body, result)
            lines, tokens = [payload], result.tokens
        else:
            lines, tokens = rerank_records(parsed.body, rerank)
            payload = lines
        if parsed.accept == JSONLINES:
            content = encode_jsonlines(lines)
        else:
            content = dumps(payload)
        return Reply(content, parsed.accept, units=parsed.inputs, tokens=tokens)
