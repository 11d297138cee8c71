"""The embeddings wire schema (pydantic) for JSON bodies, converted to an ``EmbeddingsCall``: the service's
``EmbedRequest`` plus the ``ResponseFormat``.

Accepted shapes:
- OpenAI / Jina: ``{"input": str | [str | {"text"} | {"image"}], "model", "task", "dimensions",
  "normalized", "embedding_type" (or OpenAI's "encoding_format"), "truncate", "late_chunking"}``
- Jina SageMaker: ``{"data": [{"text": ...}], "parameters": {...same options...}}``
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from ...core.types import ImageInput, InputItem, TextInput
from ...errors import InvalidInputError
from .types import EmbeddingsCall, EmbedRequest, ResponseFormat

TypeName = Literal["float", "base64", "binary", "ubinary"]


class TextItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: StrictStr


class ImageItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image: StrictStr


class EmbeddingsRequest(BaseModel):
    """The OpenAI/Jina embeddings request body."""

    model_config = ConfigDict(extra="ignore")

    input: StrictStr | list[StrictStr | TextItem | ImageItem]
    model: StrictStr | None = None
    task: StrictStr | None = None
    dimensions: StrictInt | None = Field(None, ge=1)
    normalized: StrictBool = True
    embedding_type: TypeName | list[TypeName] | None = None
    encoding_format: Literal["float", "base64"] | None = None
    truncate: StrictBool = True
    late_chunking: StrictBool = False
    user: StrictStr | None = None


def _from_jina_sagemaker(body: dict[str, Any]) -> dict[str, Any]:
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise InvalidInputError("'parameters' must be an object", param="parameters")
    return {**params, "input": body["data"]}


def _format_error(err: ValidationError) -> tuple[str, str | None]:
    first = err.errors()[0]
    loc = ".".join(str(part) for part in first["loc"] if not str(part).startswith(("function-", "union")))
    loc = loc.replace("str.", "").replace("list[", "[")
    return f"{loc or 'body'}: {first['msg']}", loc or None


def _to_item(item: str | TextItem | ImageItem) -> InputItem:
    if isinstance(item, str):
        return TextInput(item)
    if isinstance(item, TextItem):
        return TextInput(item.text)
    return ImageInput(item.image)


def parse_embeddings_request(body: Any, *, max_inputs: int) -> EmbeddingsCall:
    """Validate a decoded JSON body and return the internal call. Raises ``InvalidInputError``."""
    if not isinstance(body, dict):
        raise InvalidInputError("request body must be a JSON object")
    if "input" not in body and "data" in body:
        body = _from_jina_sagemaker(body)
    try:
        req = EmbeddingsRequest.model_validate(body)
    except ValidationError as err:
        message, param = _format_error(err)
        raise InvalidInputError(message, param=param) from None
    raw_items = [req.input] if isinstance(req.input, str) else req.input
    if not raw_items:
        raise InvalidInputError("'input' must not be empty", param="input")
    if len(raw_items) > max_inputs:
        raise InvalidInputError(f"too many inputs: {len(raw_items)} > limit {max_inputs}", param="input")
    items = tuple(_to_item(item) for item in raw_items)
    for index, item in enumerate(items):
        if isinstance(item, TextInput) and not item.text.strip():
            raise InvalidInputError(f"input[{index}] is empty", param=f"input[{index}]")
    requested = req.embedding_type if req.embedding_type is not None else (req.encoding_format or "float")
    types = tuple(dict.fromkeys(requested)) if isinstance(requested, list) else (requested,)
    if not types:
        raise InvalidInputError("'embedding_type' list must not be empty", param="embedding_type")
    request = EmbedRequest(
        inputs=items,
        task=req.task,
        dimensions=req.dimensions,
        normalized=req.normalized,
        truncate=req.truncate,
        late_chunking=req.late_chunking,
    )
    return EmbeddingsCall(request, ResponseFormat(types, as_dict=isinstance(requested, list)))
