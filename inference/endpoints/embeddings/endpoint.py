"""The embeddings slice's entry point: request bytes in, a ``Reply`` out (framework-free).

parse (content type, Accept, JSON or records) -> the service (validate, tokenise, batch, model) -> encode.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ...codecs.json import decode_json, dumps, encode_jsonlines
from ...codecs.negotiation import check_content_type, negotiate_accept
from ...errors import UnsupportedMediaTypeError
from ...mime import JSON, JSONLINES
from ...settings import Settings
from ..reply import Reply
from .cohere import cohere_response, is_cohere_body, parse_cohere_request
from .records import RecordDefaults, Records, decode_records, embed_records
from .response import build_response, response_lines
from .schema import parse_embeddings_request
from .service import EmbeddingService
from .types import EmbeddingsCall, EmbedRequest, EmbedResult


@dataclass(frozen=True, slots=True)
class Parsed:
    """A decoded request: one JSON call, or Batch Transform records; ``accept`` is the response type."""

    body: EmbeddingsCall | Records
    accept: str

    @property
    def inputs(self) -> int:
        return len(self.body) if isinstance(self.body, Records) else len(self.body.request.inputs)


class EmbeddingsEndpoint:
    def __init__(self, service: EmbeddingService, settings: Settings, *, cohere: bool = False,
                 invocations: bool = False) -> None:  # fmt: skip
        self._service = service
        self._settings = settings
        self._cohere, self._invocations = cohere, invocations
        self._max_inputs = settings.max_inputs
        self._record_defaults = RecordDefaults(settings.record_options, max_inputs=settings.max_inputs)

    def cohere(self) -> EmbeddingsEndpoint:
        """This slice reading Cohere's v2 embed bodies (``/v2/embed``: JSON only, answered in Cohere's shape)."""
        return EmbeddingsEndpoint(self._service, self._settings, cohere=True)

    def invocations(self) -> EmbeddingsEndpoint:
        """This slice on the platform invocation paths: it reads Cohere's v2 embed body as well (``is_cohere_body``)."""
        return EmbeddingsEndpoint(self._service, self._settings, invocations=True)

    def _parse_cohere(self, decoded: object, accept: str | None) -> Parsed:
        if negotiate_accept(accept) != JSON:
            raise UnsupportedMediaTypeError(f"Cohere's v2 embed API reads and answers {JSON} only")
        return Parsed(parse_cohere_request(decoded, max_inputs=self._max_inputs), JSON)

    def parse(self, body: bytes, content_type: str | None, accept: str | None) -> Parsed:
        """JSON bodies answer JSON by default, record bodies (jsonlines, CSV) JSON Lines."""
        mime = check_content_type(content_type)
        if self._cohere:
            if mime != JSON:
                raise UnsupportedMediaTypeError(f"Cohere's v2 embed API reads and answers {JSON} only")
            return self._parse_cohere(decode_json(body), accept)
        answer = negotiate_accept(accept, default=JSON if mime == JSON else JSONLINES)
        if mime == JSON:
            decoded = decode_json(body)
            if self._invocations and is_cohere_body(decoded):
                return self._parse_cohere(decoded, accept)
            return Parsed(parse_embeddings_request(decoded, max_inputs=self._max_inputs), answer)
        return Parsed(decode_records(body, mime, self._record_defaults), answer)

    def run(self, parsed: Parsed, deadline: float | None = None, cancelled: threading.Event | None = None) -> Reply:
        """Embed ``parsed`` by ``deadline`` (absolute ``time.monotonic()``; default: ``EMB_REQUEST_DEADLINE_S``
        from now); ``cancelled`` is set when the client is gone. Records share one deadline."""
        deadline = self._service.default_deadline() if deadline is None else deadline

        def embed(request: EmbedRequest) -> EmbedResult:
            return self._service.embed(request, deadline, cancelled)

        if isinstance(parsed.body, Records):
            payload = embed_records(parsed.body, embed, max_inputs=self._max_inputs)
            tokens = int(payload["usage"]["prompt_tokens"])
        else:
            call = parsed.body
            result = embed(call.request)
            tokens, cohere = result.prompt_tokens, call.format.shape == "cohere"
            payload = cohere_response(call, result) if cohere else build_response(result, call.format)
        content = encode_jsonlines(response_lines(payload)) if parsed.accept == JSONLINES else dumps(payload)
        return Reply(content, parsed.accept, units=parsed.inputs, tokens=tokens)
