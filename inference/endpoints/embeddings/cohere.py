"""Cohere's v2 embed API (``POST /v2/embed``, as Bedrock and Azure serve Cohere models): its body, as an
``EmbeddingsCall`` answered in Cohere's shape.

``{"model", "input_type", "texts": [str] | "images": [data URI] | "inputs": [{"content": [{"type": "text",
"text"} | {"type": "image_url", "image_url": {"url"}}]}], "embedding_types": ["float", "int8", ...],
"output_dimension", "truncate": "NONE" | "START" | "END", "priority"}`` ->
``{"id", "embeddings": {type: [[...], ...]}, "texts", "meta", "response_type": "embeddings_by_type"}`` (``texts``
echoes the text inputs; ``meta.billed_units`` counts input tokens and images).

- ``input_type`` picks the model's task or prompt (``INPUT_TYPE_TASKS``: the first name the model has; a model
  with none of them embeds the text as it is);
- ``truncate``: ``END`` (the default) cuts an over-long input's end, ``START`` its start, ``NONE`` answers 400;
- ``output_dimension``: the first N dimensions (Matryoshka), normalised as every embedding is;
- ``max_tokens`` is refused (inputs are cut at the model's maximum), ``priority`` accepted and ignored.

The platform invocation paths read this body too, told apart from the others by ``is_cohere_body``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from ...core.types import ImageInput, InputItem, TextInput
from ...errors import InvalidInputError
from .fields import check_fields, check_inputs, validation_error
from .response import ENCODERS
from .schema import TypeName
from .types import EmbeddingsCall, EmbedRequest, EmbedResult, ResponseFormat

InputType = Literal["search_document", "search_query", "classification", "clustering", "image"]
# Cohere's input_type -> the task (Jina v3) or prompt (sentence-transformers) names it may have, in order.
INPUT_TYPE_TASKS: dict[str, tuple[str, ...]] = {
    "search_document": ("retrieval.passage", "document", "passage", "search_document"),
    "search_query": ("retrieval.query", "query", "search_query"),
    "classification": ("classification",),
    "clustering": ("separation", "clustering"),
    "image": (),
}
TRUNCATE = {"END": "right", "START": "left"}


class CohereImageURL(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: StrictStr


class CohereContentPart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["text", "image_url"]
    text: StrictStr | None = None
    image_url: CohereImageURL | None = None


class CohereInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: list[CohereContentPart] = Field(min_length=1, max_length=1, description="One text or one image part")


class CohereEmbedRequest(BaseModel):
    """Cohere's v2 embed request."""

    model_config = ConfigDict(extra="forbid")

    model: StrictStr | None = Field(None, description="Accepted for compatibility; the container serves one model")
    input_type: InputType = Field(description="search_document, search_query, classification, clustering, image: "
                                  "the model's matching task or prompt, if it has one")  # fmt: skip
    texts: list[StrictStr] | None = Field(None, description="The texts (one of `texts`, `images`, `inputs`)")
    images: list[StrictStr] | None = Field(None, description="Images as data URIs (image models)")
    inputs: list[CohereInput] | None = Field(None, description="Inputs of one text or one `image_url` part each")
    embedding_types: Annotated[list[TypeName], Field(min_length=1)] = Field(
        ["float"], description="float, int8, uint8 (scalar-quantised over [-1, 1]), binary, ubinary, base64")
    output_dimension: StrictInt | None = Field(None, ge=1, description="Keep the first N dimensions (Matryoshka)")
    truncate: Literal["NONE", "START", "END"] = Field("END", description="Which end of an over-long input to "
                                                      "cut; NONE: such an input is a 400")  # fmt: skip
    max_tokens: StrictInt | None = Field(None, description="Not supported: inputs are cut at the model's maximum")
    priority: StrictInt | None = Field(None, description="Accepted and ignored")


COHERE_FIELDS: tuple[str, ...] = tuple(CohereEmbedRequest.model_fields)


def _items(req: CohereEmbedRequest) -> tuple[list[InputItem], str]:
    given = [name for name in ("texts", "images", "inputs") if getattr(req, name) is not None]
    if len(given) != 1:
        raise InvalidInputError("send exactly one of 'texts', 'images' and 'inputs'", param="texts")
    if req.texts is not None:
        return [TextInput(text) for text in req.texts], "texts"
    if req.images is not None:
        return [ImageInput(image) for image in req.images], "images"
    items: list[InputItem] = []
    for index, entry in enumerate(req.inputs or []):
        part = entry.content[0]
        value = part.text if part.type == "text" else (part.image_url.url if part.image_url else None)
        if value is None:
            raise InvalidInputError(f"inputs[{index}]: a {part.type} part needs its '{part.type}'",
                                    param=f"inputs[{index}]")  # fmt: skip
        items.append(TextInput(value) if part.type == "text" else ImageInput(value))
    return items, "inputs"


def is_cohere_body(body: Any) -> bool:
    """Cohere's v2 embed body, as the invocation paths tell it apart: an object without OpenAI/Jina's ``input``,
    Jina SageMaker's ``data`` or a rerank ``query``, holding ``input_type`` (which Cohere requires), ``texts`` or
    ``images``, or ``inputs`` with an object in its list (a content-part input; TEI's ``inputs`` are strings)."""
    if not isinstance(body, dict) or any(key in body for key in ("input", "data", "query")):
        return False
    inputs = body.get("inputs")
    parts = isinstance(inputs, list) and any(isinstance(item, dict) for item in inputs)
    return parts or any(key in body for key in ("input_type", "texts", "images"))


def parse_cohere_request(body: Any, *, max_inputs: int) -> EmbeddingsCall:
    """Validate a decoded Cohere v2 embed body (an unknown field is a 400). Raises ``InvalidInputError``."""
    if not isinstance(body, dict):
        raise InvalidInputError("request body must be a JSON object")
    check_fields(body, COHERE_FIELDS)
    try:
        req = CohereEmbedRequest.model_validate(body)
    except ValidationError as err:
        raise validation_error(err) from None
    if req.max_tokens is not None:
        raise InvalidInputError("max_tokens is not supported: inputs are cut at the model's maximum length "
                                "(truncate: START or END), or refused (NONE)", param="max_tokens")  # fmt: skip
    items, field = _items(req)
    request = EmbedRequest(
        inputs=check_inputs(items, max_inputs, field),
        dimensions=req.output_dimension,
        truncate=req.truncate != "NONE",
        truncation_direction="left" if req.truncate == "START" else "right",
        task_candidates=INPUT_TYPE_TASKS[req.input_type],
    )
    return EmbeddingsCall(request, ResponseFormat(tuple(dict.fromkeys(req.embedding_types)), True, "cohere"))


def cohere_frame(texts: Sequence[str], types: Sequence[str], images: int, tokens: int,
                 answer_id: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The answer without its vectors (``embeddings`` holds an empty list per type): what ``cohere_response``
    fills, and what the response-size bound measures."""
    billed: dict[str, int] = {"input_tokens": tokens}
    if images:
        billed["images"] = images
    return {"id": answer_id or str(uuid.uuid4()), "embeddings": {kind: [] for kind in types}, "texts": list(texts),
            "meta": {"api_version": {"version": "2"}, "billed_units": billed},
            "response_type": "embeddings_by_type"}  # fmt: skip


def input_texts(request: EmbedRequest) -> list[str]:
    return [item.text for item in request.inputs if isinstance(item, TextInput)]


def cohere_response(call: EmbeddingsCall, result: EmbedResult) -> dict[str, Any]:
    """Cohere's by-type answer: each requested type's vectors, in input order."""
    images = len(call.request.inputs) - len(input_texts(call.request))
    payload = cohere_frame(input_texts(call.request), call.format.types, images, result.prompt_tokens)
    payload["embeddings"] = {kind: ENCODERS[kind](result.vectors) for kind in call.format.types}
    return payload
