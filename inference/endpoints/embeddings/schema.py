"""The embeddings wire schemas (pydantic) for JSON bodies, converted to an ``EmbeddingsCall``: the service's
``EmbedRequest`` plus the ``ResponseFormat``.

Accepted shapes (each strict: a field it does not define is a 400 naming it, see fields.py):
- OpenAI / Jina: ``{"input": str | [str | {"text"} | {"image"}], "model", "task", "dimensions",
  "normalized", "embedding_type" (or OpenAI's "encoding_format"), "truncate", "late_chunking", "long_input",
  "user"}``
- Jina SageMaker: ``{"data": [{"text": ...}], "parameters": {...the same options...}}``
- Hugging Face TEI: ``{"inputs": str | [str], "normalize", "truncate", ...}`` (tei.py), answered in TEI's shape
A rerank body (``query`` with ``documents`` or ``texts``) is refused: this slice serves embedding models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from ...core.types import ImageInput, InputItem, TextInput
from ...errors import InvalidInputError
from .fields import check_fields, check_inputs, refuse_rerank, validation_error
from .tei import is_tei, parse_tei_request
from .types import EmbeddingsCall, EmbedRequest, ResponseFormat

TypeName = Literal["float", "base64", "binary", "ubinary", "int8", "uint8"]
EMBEDDING_TYPES: tuple[str, ...] = get_args(TypeName)
LongInput = Literal["split"]
LONG_INPUT_DOC = (
    "`split`: a text longer than the model's max length is embedded as overlapping windows (max length less the "
    "special tokens; consecutive windows share 1/8 of it) whose pooled vectors are averaged, weighted by their "
    "tokens, into its one vector; with `late_chunking`, the joined inputs are encoded in such overlapping macro "
    "windows and each input pooled from its tokens. Never cut, never refused for length; usage counts every "
    "window. Texts only (an image input is a 400). null (default): `truncate` decides")


class TextItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: StrictStr


class ImageItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image: StrictStr


class EmbeddingsRequest(BaseModel):
    """The OpenAI/Jina embeddings request body."""

    model_config = ConfigDict(extra="forbid")

    input: StrictStr | list[StrictStr | TextItem | ImageItem] = Field(
        description="A text, or a list of texts, `{\"text\"}` and `{\"image\"}` items (an image: URL, base64 or "
        "data URI; image models only)")
    model: StrictStr | None = Field(None, description="Accepted for compatibility; the container serves one model")
    task: StrictStr | None = Field(
        None, description="The model's task prompt (`GET /info` lists them); unknown tasks are a 400")
    dimensions: StrictInt | None = Field(
        None, ge=1, description="Matryoshka: keep the first N dimensions (then re-normalised when `normalized`)")
    normalized: StrictBool = Field(True, description="L2-normalise the vectors")
    embedding_type: TypeName | Annotated[list[TypeName], Field(min_length=1)] | None = Field(
        None, description="`float` (default), `base64` (little-endian float32), `binary` (int8 of packed bits), "
        "`ubinary` (uint8), `int8` / `uint8` (one byte per dimension, scalar-quantised over [-1, 1]); a list makes "
        "each `embedding` an object keyed by type")
    encoding_format: Literal["float", "base64"] | None = Field(None, description="OpenAI's name for `embedding_type`")
    truncate: StrictBool = Field(
        True, description="Cut inputs at the model's max length; `false`: an over-long input is a 400")
    late_chunking: StrictBool = Field(
        False, description="Encode the request's inputs as one sequence, each pooled from its own tokens")
    long_input: LongInput | None = Field(None, description=LONG_INPUT_DOC)
    user: StrictStr | None = Field(None, description="Accepted and ignored (OpenAI compatibility)")
    return_multivector: StrictBool = Field(
        False, description="Jina's flag for token vectors: only a late-interaction model has them (`true` on any "
        "other model is a 400)")


REQUEST_FIELDS: tuple[str, ...] = tuple(EmbeddingsRequest.model_fields)
OPTION_FIELDS: tuple[str, ...] = tuple(name for name in REQUEST_FIELDS if name != "input")
SAGEMAKER_FIELDS = ("data", "parameters")


def _from_jina_sagemaker(body: dict[str, Any]) -> dict[str, Any]:
    check_fields(body, SAGEMAKER_FIELDS)
    params = body.get("parameters")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InvalidInputError("'parameters' must be an object", param="parameters")
    check_fields(params, OPTION_FIELDS, where="parameters")
    return {**params, "input": body["data"]}


def _to_item(item: str | TextItem | ImageItem) -> InputItem:
    if isinstance(item, str):
        return TextInput(item)
    if isinstance(item, TextItem):
        return TextInput(item.text)
    return ImageInput(item.image)


def parse_embeddings_request(body: Any, *, max_inputs: int) -> EmbeddingsCall:
    """Validate a decoded JSON body (any accepted shape) and return the internal call. Raises
    ``InvalidInputError``."""
    if not isinstance(body, dict):
        raise InvalidInputError("request body must be a JSON object")
    refuse_rerank(body)
    if is_tei(body):
        return parse_tei_request(body, max_inputs=max_inputs)
    if "input" not in body and "data" in body:
        body = _from_jina_sagemaker(body)
    check_fields(body, REQUEST_FIELDS)
    try:
        req = EmbeddingsRequest.model_validate(body)
    except ValidationError as err:
        raise validation_error(err) from None
    if req.return_multivector:
        raise InvalidInputError("return_multivector=true needs a late-interaction (ColBERT-style) model; this one "
                                "answers one vector per input", param="return_multivector")  # fmt: skip
    raw_items = [req.input] if isinstance(req.input, str) else req.input
    items = check_inputs([_to_item(item) for item in raw_items], max_inputs, "input")
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
        split_long=req.long_input == "split",
    )
    return EmbeddingsCall(request, ResponseFormat(types, as_dict=isinstance(requested, list)))
