"""``/invocations`` for a late-interaction model (framework-free): a rerank body (``query`` with ``documents`` or
``texts``; Cohere's v2 body answered in Cohere's shape, see rerank/cohere.py) is scored by MaxSim through the
rerank slice; any other body is a multi-vector request."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from ...codecs.json import decode_json
from ...codecs.negotiation import check_content_type, negotiate_accept
from ...mime import JSON
from ..reply import Reply
from ..rerank.cohere import parse_invocation_rerank
from ..rerank.endpoint import ParsedRerank, RerankEndpoint
from .endpoint import MultiVectorEndpoint, ParsedMultiVector


def is_rerank_body(body: Any) -> bool:
    """A query with documents (Jina / Cohere) or texts (TEI), also inside Jina SageMaker's ``data``."""
    if not isinstance(body, Mapping):
        return False
    data = body.get("data")
    return any("query" in shape and ("documents" in shape or "texts" in shape)
               for shape in (body, data if isinstance(data, Mapping) else {}))  # fmt: skip


class LateInteractionInvocations:
    def __init__(self, multivector: MultiVectorEndpoint, reranking: RerankEndpoint) -> None:
        self._multivector, self._reranking = multivector, reranking

    def parse(self, body: bytes, content_type: str | None, accept: str | None) -> ParsedMultiVector | ParsedRerank:
        if check_content_type(content_type) == JSON:
            decoded = decode_json(body)
            if is_rerank_body(decoded):
                return ParsedRerank(parse_invocation_rerank(decoded), negotiate_accept(accept, default=JSON))
        return self._multivector.parse(body, content_type, accept)

    def run(self, parsed: ParsedMultiVector | ParsedRerank, deadline: float | None = None,
            cancelled: threading.Event | None = None) -> Reply:  # fmt: skip
        if isinstance(parsed, ParsedRerank):
            return self._reranking.run(parsed, deadline, cancelled)
        return self._multivector.run(parsed, deadline, cancelled)
