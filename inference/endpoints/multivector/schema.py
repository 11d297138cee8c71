"""The multi-vector wire schema (pydantic), converted to a ``MultiVectorCall``.

Accepted shapes (strict: a field the schema does not define is a 400 naming it):
- Jina's ``/v1/multi-vector``: ``{"input": str | [str | {"text"}], "model", "input_type": "query" | "document",
  "dimensions", "normalized", "embedding_type" (or "encoding_format"), "truncate"}``; ``/v1/embeddings`` with
  ``"return_multivector": true`` reads the same body (Jina's task names ``retrieval.query`` /
  ``retrieval.passage`` stand for the input types there);
- Jina's SageMaker form: ``{"data": [{"text"}], "parameters": {...the same options...}}``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from ...core.types import DOCUMENT, QUERY, TextInput
from ...errors import InvalidInputError, WrongModelKindError
from ..embeddings.fields import check_inputs
from ..embeddings.schema import TextItem, TypeName
from ..embeddings.types import ResponseFormat
from ..fields import check_fields, validation_error
from .types import MultiVectorCall, MultiVectorRequest

# Jina's embedding task names for the two sides of a late-interaction model.
TASK_INPUT_TYPES = {"retrieval.query": QUERY, "retrieval.passage": DOCUMENT, "query": QUERY, "document": DOCUMENT,
                    "passage": DOCUMENT}  # fmt: skip
RERANK_BODY = "a rerank body ('query' with 'documents'): send it to POST /v1/rerank or /rerank"


class MultiVectorBody(BaseModel):
    """Jina's multi-vector request body."""

    model_config = ConfigDict(extra="forbid")

    input: StrictStr | list[StrictStr | TextItem] = Field(description="A text, or a list of texts or `{\"text\"}`")
    model: StrictStr | None = Field(None, description="Accepted for compatibility; the container serves one model")
    input_type: Literal["query", "document"] | None = Field(
        None, description="`query`: the query marker and expansion to the model's query length; `document` "
        "(default): the document marker, padding and skip-list tokens (punctuation) left out")
    task: StrictStr | None = Field(
        None, description="Jina's task names for the input type: `retrieval.query` or `retrieval.passage`")
    dimensions: StrictInt | None = Field(
        None, ge=1, description="One of the widths the model declares (`GET /info`: `dimension_options`); each "
        "token vector keeps its first N values, then is re-normalised when `normalized`")
    normalized: StrictBool = Field(True, description="L2-normalise each token vector")
    embedding_type: TypeName | Annotated[list[TypeName], Field(min_length=1)] | None = Field(
        None, description="`float` (default), `base64`, `binary`, `ubinary`, `int8`, `uint8`, per token vector; a "
        "list makes `embeddings` an object keyed by type")
    encoding_format: Literal["float", "base64"] | None = Field(None, description="OpenAI's name for `embedding_type`")
    truncate: StrictBool = Field(
        True, description="Cut documents at the model's max length; `false`: an over-long document is a 400")
    return_multivector: StrictBool | None = Field(
        None, description="Jina's flag on `/v1/embeddings`: a late-interaction model answers token vectors only")
    late_chunking: StrictBool = Field(False, description="Not offered by late-interaction models (`true` is a 400)")
    user: StrictStr | None = Field(None, description="Accepted and ignored (OpenAI compatibility)")


REQUEST_FIELDS: tuple[str, ...] = tuple(MultiVectorBody.model_fields)
OPTION_FIELDS: tuple[str, ...] = tuple(name for name in REQUEST_FIELDS if name != "input")


def _sagemaker(body: dict[str, Any]) -> dict[str, Any]:
    check_fields(body, ("data", "parameters"))
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise InvalidInputError("'parameters' must be an object", param="parameters")
    check_fields(params, OPTION_FIELDS, where="parameters")
    return {**params, "input": body["data"]}


def _input_type(req: MultiVectorBody) -> str:
    if req.task is not None and req.task not in TASK_INPUT_TYPES:
        raise InvalidInputError(f"unknown task {req.task!r} for a late-interaction model; send input_type "
                                "'query' or 'document' (or task 'retrieval.query' / 'retrieval.passage')",
                                param="task")  # fmt: skip
    from_task = TASK_INPUT_TYPES.get(req.task or "")
    if req.input_type and from_task and req.input_type != from_task:
        raise InvalidInputError(f"task {req.task!r} contradicts input_type {req.input_type!r}", param="task")
    return req.input_type or from_task or DOCUMENT


def parse_multivector_request(body: Any, *, max_inputs: int, flagged: bool = False) -> MultiVectorCall:
    """Validate a decoded JSON body and return the call; ``InvalidInputError`` (400) names what is wrong.
    ``flagged``: the body must say ``"return_multivector": true`` (the OpenAI-shaped embeddings paths, whose
    clients read one ``embedding`` per input and would find none)."""
    if not isinstance(body, dict):
        raise InvalidInputError("request body must be a JSON object")
    if "query" in body and ("documents" in body or "texts" in body):
        raise WrongModelKindError(RERANK_BODY)
    if "input" not in body and "data" in body:
        body = _sagemaker(body)
    check_fields(body, REQUEST_FIELDS)
    try:
        req = MultiVectorBody.model_validate(body)
    except ValidationError as err:
        raise validation_error(err) from None
    if flagged and req.return_multivector is None:
        raise InvalidInputError("this model is a late-interaction model: it answers one vector per token, in "
                                "'embeddings' (a list per input), not one 'embedding' per input; send "
                                "\"return_multivector\": true, or POST /v1/multi-vector", param="return_multivector")
    if req.return_multivector is False:
        raise InvalidInputError("this model is a late-interaction model: it answers one vector per token only "
                                "(return_multivector=true, or POST /v1/multi-vector)", param="return_multivector")
    if req.late_chunking:
        raise InvalidInputError("late_chunking is not offered by late-interaction models", param="late_chunking")
    raw = [req.input] if isinstance(req.input, str) else req.input
    items = check_inputs([TextInput(item if isinstance(item, str) else item.text) for item in raw], max_inputs,
                         "input")  # fmt: skip
    requested = req.embedding_type if req.embedding_type is not None else (req.encoding_format or "float")
    types = tuple(dict.fromkeys(requested)) if isinstance(requested, list) else (requested,)
    texts = tuple(item.text for item in items if isinstance(item, TextInput))
    request = MultiVectorRequest(texts, _input_type(req), req.dimensions, req.normalized, req.truncate)
    return MultiVectorCall(request, ResponseFormat(types, as_dict=isinstance(requested, list)))
