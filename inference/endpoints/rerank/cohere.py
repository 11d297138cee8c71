"""Cohere's v2 rerank API (``POST /v2/rerank``): ``{"model", "query", "documents": [str], "top_n",
"max_tokens_per_doc", "priority"}`` -> ``{"id", "results": [{"index", "relevance_score"}], "meta"}``, best first
(response.py writes it). Strict: an unknown field is a 400 naming it. ``max_tokens_per_doc`` is refused (each
query-document pair is cut at the model's maximum length), ``priority`` accepted and ignored; documents are
never echoed (v2 has no ``return_documents``). Amazon Bedrock's ``api_version`` (2) is accepted and ignored.

The platform invocation paths read this body too (``parse_invocation_rerank``): one with a field only Cohere's
body has (``max_tokens_per_doc``, ``priority``, ``api_version``) is Cohere's; ``{"query", "documents"}`` with
at most ``model`` and ``top_n`` is also a valid Jina body, and gets Jina's answer (its ``results`` hold the same
``index`` and ``relevance_score``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from ...errors import InvalidInputError
from ..fields import check_fields, validation_error
from .schema import parse_rerank_request
from .types import RerankCall, RerankRequest


class CohereRerankBody(BaseModel):
    """Cohere's v2 rerank request."""

    model_config = ConfigDict(extra="forbid")

    model: StrictStr | None = Field(None, description="Accepted for compatibility; the container serves one model")
    query: StrictStr = Field(description="The query the documents are ranked for")
    documents: list[StrictStr] = Field(description="The texts to rank (1 to `EMB_MAX_DOCUMENTS`)")
    top_n: StrictInt | None = Field(None, ge=1, description="Return only the n best (default: all, best first)")
    max_tokens_per_doc: StrictInt | None = Field(
        None, description="Not supported: each pair is cut at the model's maximum length")
    priority: StrictInt | None = Field(None, description="Accepted and ignored")
    api_version: StrictInt | None = Field(None, description="Amazon Bedrock's API version (2): accepted and ignored")


COHERE_ONLY = ("max_tokens_per_doc", "priority", "api_version")  # fields no Jina or TEI rerank body has


def parse_cohere_rerank(body: Any) -> RerankCall:
    """Validate a decoded Cohere v2 rerank body. Raises ``InvalidInputError``."""
    if not isinstance(body, dict):
        raise InvalidInputError("request body must be a JSON object")
    check_fields(body, list(CohereRerankBody.model_fields))
    try:
        parsed = CohereRerankBody.model_validate(body)
    except ValidationError as err:
        raise validation_error(err) from None
    if parsed.max_tokens_per_doc is not None:
        raise InvalidInputError("max_tokens_per_doc is not supported: each query-document pair is cut at the "
                                "model's maximum length", param="max_tokens_per_doc")  # fmt: skip
    request = RerankRequest(parsed.query, tuple(parsed.documents), parsed.top_n, return_documents=False)
    return RerankCall(request, "cohere")


def is_cohere_rerank(body: Any) -> bool:
    """A rerank body that only Cohere's schema can read: one of its own fields, and no TEI ``texts``."""
    return isinstance(body, dict) and "texts" not in body and any(key in body for key in COHERE_ONLY)


def parse_invocation_rerank(body: Any) -> RerankCall:
    """An invocation path's rerank body: Cohere's v2 (``is_cohere_rerank``), else Jina's or TEI's."""
    return parse_cohere_rerank(body) if is_cohere_rerank(body) else parse_rerank_request(body)
