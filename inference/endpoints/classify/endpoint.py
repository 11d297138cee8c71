"""The classify slice's entry point: request bytes in, a ``Reply`` out (framework-free).

parse (content type, Accept, JSON or JSON Lines records, in the route's shape) -> the service (zero-shot on an
embedding model for Jina's shape, else the classifier) -> encode (the shape's answer).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ...codecs.json import decode_json, dumps, encode_jsonlines
from ...codecs.negotiation import check_content_type, negotiate_accept
from ...mime import JSON, JSONLINES
from ..reply import Reply
from .records import classify_records, decode_classify_records
from .response import build_response
from .schema import parse_classify_request
from .service import ClassifyService
from .types import ClassifyCall, ClassifyResult


@dataclass(frozen=True, slots=True)
class ParsedClassify:
    body: ClassifyCall | list[tuple[int, ClassifyCall]]  # one JSON call, or Batch Transform records
    accept: str

    @property
    def calls(self) -> list[ClassifyCall]:
        return [self.body] if isinstance(self.body, ClassifyCall) else [call for _, call in self.body]

    @property
    def inputs(self) -> int:
        """Inputs classified (the metered units)."""
        return sum(len(call.request.inputs) for call in self.calls)


class ClassifyEndpoint:
    """One route's reading of classify bodies: ``shape`` is ``jina`` (``/v1/classify``), ``tei`` (``/predict``),
    ``infinity`` (``/classify``) or ``auto`` (``/invocations``: TEI's body when it has ``inputs``, else Jina's)."""

    def __init__(self, service: ClassifyService, shape: str, max_inputs: int) -> None:
        self._service, self._shape, self._max_inputs = service, shape, max_inputs

    def parse(self, body: bytes, content_type: str | None, accept: str | None) -> ParsedClassify:
        mime = check_content_type(content_type)
        answer = negotiate_accept(accept, default=JSON if mime == JSON else JSONLINES)
        if mime == JSON:
            return ParsedClassify(parse_classify_request(decode_json(body), self._shape, self._max_inputs), answer)
        return ParsedClassify(decode_classify_records(body, mime, self._shape, self._max_inputs), answer)

    def run(
        self, parsed: ParsedClassify, deadline: float | None = None, cancelled: threading.Event | None = None
    ) -> Reply:
        deadline = self._service.default_deadline() if deadline is None else deadline

        def classify(call: ClassifyCall) -> ClassifyResult:
            return self._service.classify(call.request, call.shape == "jina", deadline, cancelled)

        if isinstance(parsed.body, ClassifyCall):
            result = classify(parsed.body)
            payload = build_response(parsed.body, result)
            lines, tokens = [payload], result.tokens
        else:
            lines, tokens = classify_records(parsed.body, classify)
            payload = lines
        content = encode_jsonlines(lines) if parsed.accept == JSONLINES else dumps(payload)
        return Reply(content, parsed.accept, units=parsed.inputs, tokens=tokens)
