"""The sparse wire schema (pydantic), converted to a ``SparseRequest``. TEI's ``/embed_sparse`` body:
``{"inputs": str | [str], "truncate", "truncation_direction", "prompt_name"}``; a field it does not define is a
400 naming it. Batch Transform records and Vertex instances are read into the same body (records.py, vertex.py).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from ...core.types import TextInput
from ...errors import InvalidInputError
from ..embeddings.fields import check_inputs
from ..fields import check_fields, validation_error
from .types import SparseRequest


class SparseBody(BaseModel):
    """Hugging Face Text Embeddings Inference's ``/embed_sparse`` body."""

    model_config = ConfigDict(extra="forbid")

    inputs: StrictStr | list[StrictStr] = Field(description="A text or a list of texts")
    truncate: StrictBool | None = Field(
        False, description="Cut long inputs at the model's max length; `false` (default): an over-long input is a 400")
    truncation_direction: Literal["Right", "right"] = Field("Right", description="Only `Right` is supported")
    prompt_name: StrictStr | None = Field(
        None, description="One of the model's named prompts (`GET /info`: `tasks`), prepended to every input; "
        "default: the model's default prompt, if any")


REQUEST_FIELDS: tuple[str, ...] = tuple(SparseBody.model_fields)
OPTION_FIELDS: tuple[str, ...] = tuple(name for name in REQUEST_FIELDS if name != "inputs")


def parse_sparse_request(body: Any, *, max_inputs: int) -> SparseRequest:
    """Validate a decoded JSON body and return the request; ``InvalidInputError`` (400) names what is wrong."""
    if not isinstance(body, dict):
        raise InvalidInputError("request body must be a JSON object")
    check_fields(body, REQUEST_FIELDS)
    try:
        req = SparseBody.model_validate(body)
    except ValidationError as err:
        first = err.errors()[0]
        if first["type"] == "literal_error" and first["loc"] == ("truncation_direction",):
            raise InvalidInputError("truncation_direction: only 'Right' is supported",
                                    param="truncation_direction") from None  # fmt: skip
        raise validation_error(err) from None
    raw = [req.inputs] if isinstance(req.inputs, str) else req.inputs
    items = check_inputs([TextInput(text) for text in raw], max_inputs, "inputs")
    texts = tuple(item.text for item in items if isinstance(item, TextInput))
    return SparseRequest(texts, bool(req.truncate), req.prompt_name)
