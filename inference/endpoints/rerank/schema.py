"""The rerank wire schemas (pydantic), converted to a ``RerankCall``. Unknown fields are a 400 naming them.

- Jina / Cohere: ``{"model", "query", "documents": [str | {"text"}], "top_n", "return_documents", "truncate",
  "raw_scores"}`` (``POST /v1/rerank``, ``/invocations``)
- Hugging Face TEI: ``{"query", "texts", "raw_scores", "return_text", "truncate", "truncation_direction"}``
  (``POST /rerank``, ``/invocations``)
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from ...errors import InvalidInputError, WrongModelKindError
from ..fields import check_fields, validation_error
from .types import RerankCall, RerankRequest


class DocumentItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: StrictStr


class JinaRerankBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: StrictStr | DocumentItem = Field(description="The query the documents are ranked for")
    documents: list[StrictStr | DocumentItem] = Field(description="The texts to rank (1 to `EMB_MAX_DOCUMENTS`)")
    model: StrictStr | None = Field(None, description="Accepted for compatibility; the container serves one model")
    top_n: StrictInt | None = Field(None, ge=1, description="Return only the n best (default: all, best first)")
    return_documents: StrictBool = Field(True, description="Include each document's text in its result")
    truncate: StrictBool = Field(True, description="Cut long pairs at the model's max length; `false`: a 400")
    raw_scores: StrictBool = Field(
        False, description="The logit instead of the activation (the sigmoid, unless the model names another)")


class TeiRerankBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: StrictStr
    texts: list[StrictStr]
    raw_scores: StrictBool = False
    return_text: StrictBool = False
    truncate: StrictBool = False
    truncation_direction: Literal["Right", "right"] = "Right"


def _error(err: ValidationError) -> InvalidInputError:
    first = err.errors()[0]
    if first["type"] == "literal_error" and first["loc"] == ("truncation_direction",):
        return InvalidInputError("truncation_direction: only 'Right' is supported", param="truncation_direction")
    return validation_error(err)


def _text(item: str | DocumentItem) -> str:
    return item if isinstance(item, str) else item.text


def parse_rerank_request(body: Any) -> RerankCall:
    """Validate a decoded JSON body (TEI's when it has ``texts``) and return the call. Raises ``InvalidInputError``."""
    if not isinstance(body, dict):
        raise InvalidInputError("request body must be a JSON object")
    if "query" not in body and any(key in body for key in ("input", "inputs", "data")):
        raise WrongModelKindError(
            "this is an embeddings request, but this endpoint serves a reranker: send {query, documents} to "
            "POST /v1/rerank or /invocations ({query, texts} to /rerank); embeddings need an embedding model"
        )
    model: type[BaseModel] = TeiRerankBody if "texts" in body and "documents" not in body else JinaRerankBody
    check_fields(body, list(model.model_fields))
    try:
        parsed = model.model_validate(body)
    except ValidationError as err:
        raise _error(err) from None
    if isinstance(parsed, TeiRerankBody):
        request = RerankRequest(parsed.query, tuple(parsed.texts), None, parsed.return_text, parsed.raw_scores,
                                parsed.truncate)  # fmt: skip
        return RerankCall(request, "tei")
    assert isinstance(parsed, JinaRerankBody)
    documents = tuple(_text(item) for item in parsed.documents)
    request = RerankRequest(_text(parsed.query), documents, parsed.top_n, parsed.return_documents,
                            parsed.raw_scores, parsed.truncate)  # fmt: skip
    return RerankCall(request, "jina")
