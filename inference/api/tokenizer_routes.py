"""The tokenizer routes' views (``/tokenize``, ``/decode``, ``/v1/segment``): the served model's tokenizer, whatever
the model's kind, and no model work. Each is reserved as one request and no tokens (``TOKENIZER_DEMAND``; the
access hooks keep these routes off the tokens bucket), is never refused for queued model work, and counts its
texts (or id sequences) as inputs and no tokens in the metrics (``api="tokenize"``)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, g, request

from ..core.engine import ModelEngine
from ..endpoints.demand import TOKENIZER_DEMAND
from ..endpoints.tokenize.endpoint import TokenizerEndpoint
from ..endpoints.tokenize.service import TokenizeService
from ..errors import ResponseTooLargeError
from ..settings import MB, Settings
from .access_hooks import reserve_work
from .route_table import DECODE, SEGMENT, TOKENIZE

View = Callable[..., Response]


def _view(endpoint: TokenizerEndpoint, settings: Settings) -> View:
    limit = settings.max_response_bytes()

    def view() -> Response:
        parsed = endpoint.parse(request.get_data(cache=False), request.content_type, request.headers.get("Accept"))
        reserve_work(TOKENIZER_DEMAND)  # rate limits: 429 when the caller has no request left
        reply = endpoint.run(parsed)
        if limit is not None and len(reply.content) > limit:
            raise ResponseTooLargeError(
                f"the answer is {len(reply.content) / MB:.2f} MB, more than the {limit / MB:g} MB this endpoint "
                "returns (EMB_MAX_RESPONSE_MB): send less text"
            )
        g.n_inputs, g.tokens = reply.units, reply.tokens
        return Response(reply.content, mimetype=reply.mime)

    return view


def tokenizer_views(engine: ModelEngine, settings: Settings) -> dict[str, View]:
    service = TokenizeService(engine, settings.max_inputs, settings.max_response_bytes())
    return {action: _view(TokenizerEndpoint(service, action), settings) for action in (TOKENIZE, DECODE, SEGMENT)}
