"""Hugging Face Text Embeddings Inference's ``POST /embed`` body, as an ``EmbeddingsCall`` answered in TEI's shape.

``{"inputs": str | [str], "normalize": true, "truncate": false, "truncation_direction": "Right",
"prompt_name": null, "dimensions": null, "long_input": null}`` -> ``[[float, ...], ...]``, one array per input
(also for one string). As in TEI, an input over the model's maximum is an error unless ``truncate`` is true (or
this server's ``long_input="split"``, not TEI's), and ``prompt_name`` must name one of the model's prompts.
Accepted on ``/embed`` and on every embeddings route: a body with ``inputs`` and no ``input`` is a TEI body.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from ...core.types import TextInput
from .fields import check_fields, check_inputs, validation_error
from .types import EmbeddingsCall, EmbedRequest, ResponseFormat

TEI_PATH = "/embed"
TEI_FORMAT = ResponseFormat(shape="tei")


class TEIEmbedRequest(BaseModel):
    """Text Embeddings Inference's embed request."""

    model_config = ConfigDict(extra="forbid")

    inputs: StrictStr | list[StrictStr] = Field(description="A text, or a list of texts")
    normalize: StrictBool = Field(True, description="L2-normalise each vector (after `dimensions`)")
    truncate: StrictBool | None = Field(
        None,
        description="Cut inputs longer than the model's maximum; false or null (TEI's default): such an input is a 400",
    )
    truncation_direction: Literal["Right", "Left", "right", "left"] = Field(
        "Right", description="Which end `truncate` cuts"
    )
    prompt_name: StrictStr | None = Field(
        None, description="A prompt (or task) of the model, prepended to each input; unknown names are a 400"
    )
    dimensions: StrictInt | None = Field(
        None, ge=1, description="Keep the first `dimensions` values (Matryoshka), then normalise"
    )
    long_input: Literal["split"] | None = Field(
        None, description="Not TEI's: `split` embeds a text past the max length as overlapping windows pooled into "
        "one vector (as on `/v1/embeddings`); `truncate` is then not needed")


TEI_FIELDS: tuple[str, ...] = tuple(TEIEmbedRequest.model_fields)


def is_tei(body: dict[str, Any]) -> bool:
    return "inputs" in body and "input" not in body


def parse_tei_request(body: dict[str, Any], *, max_inputs: int) -> EmbeddingsCall:
    """Validate a decoded TEI body (an unknown field is a 400). Raises ``InvalidInputError``."""
    check_fields(body, TEI_FIELDS)
    try:
        req = TEIEmbedRequest.model_validate(body)
    except ValidationError as err:
        raise validation_error(err) from None
    texts = [req.inputs] if isinstance(req.inputs, str) else req.inputs
    request = EmbedRequest(
        inputs=check_inputs([TextInput(text) for text in texts], max_inputs, "inputs"),
        prompt_name=req.prompt_name,
        dimensions=req.dimensions,
        normalized=req.normalize,
        truncate=bool(req.truncate),
        truncation_direction="left" if req.truncation_direction.lower() == "left" else "right",
        split_long=req.long_input == "split",
    )
    return EmbeddingsCall(request, TEI_FORMAT)
