"""The classify wire schemas (pydantic), converted to a ``ClassifyCall``. Unknown fields are a 400 naming them.

- Jina: ``{"model", "input": str | [str | {"text"} | {"image"}], "labels": [str]}`` (``POST /v1/classify``)
- Hugging Face TEI: ``{"inputs", "raw_scores", "truncate", "truncation_direction"}`` (``POST /predict``), where
  ``inputs`` is a text, ``[text]``, a pair ``[text, text_pair]``, or a batch ``[[text], [text, text_pair], ...]``
- Infinity: ``{"input": [str], "model", "raw_scores"}`` (``POST /classify``)

``/invocations`` reads TEI's body when it has ``inputs``, else Jina's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from ...core.types import ImageInput, InputItem, TextInput
from ...errors import InvalidInputError
from ..embeddings.schema import ImageItem, TextItem  # the same items as an embeddings input
from ..fields import check_fields, validation_error
from .types import ClassifyCall, ClassifyInput, ClassifyRequest

MAX_LABELS = 256  # Jina's zero-shot limit of classes per request
AUTO = "auto"  # /invocations: TEI's body when it has ``inputs``, else Jina's


class JinaClassifyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: StrictStr | list[StrictStr | TextItem | ImageItem] = Field(
        description="A text, or a list of texts, `{\"text\"}` and `{\"image\"}` items (images: embedding models "
        "with the image modality, zero-shot only)")
    labels: list[StrictStr] | None = Field(
        None, description=f"Embedding models: the candidate labels (1 to {MAX_LABELS}, required). Classifier "
        "models: a subset of the model's own labels to answer (default: all of them)")
    model: StrictStr | None = Field(None, description="Accepted for compatibility; the container serves one model")


class TeiPredictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: StrictStr | list[StrictStr] | list[list[StrictStr]] = Field(
        description="A text, `[text]`, a pair `[text, text_pair]`, or a batch `[[text], [text, text_pair], ...]`")
    raw_scores: StrictBool = Field(False, description="The logits instead of the activation")
    truncate: StrictBool | None = Field(
        False, description="Cut long inputs at the model's max length; `false` (default): an over-long input is a 400")
    truncation_direction: Literal["Right", "right"] = Field("Right", description="Only `Right` is supported")


class InfinityClassifyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: list[StrictStr] = Field(description="The texts to classify")
    model: StrictStr | None = Field(None, description="Accepted for compatibility; the container serves one model")
    raw_scores: StrictBool = Field(False, description="The logits instead of the activation")


def _validate(model: type[BaseModel], body: dict[str, Any]) -> Any:
    check_fields(body, list(model.model_fields))
    try:
        return model.model_validate(body)
    except ValidationError as err:
        first = err.errors()[0]
        if first["type"] == "literal_error" and first["loc"] == ("truncation_direction",):
            raise InvalidInputError("truncation_direction: only 'Right' is supported",
                                    param="truncation_direction") from None  # fmt: skip
        raise validation_error(err) from None


def _checked(inputs: list[ClassifyInput], max_inputs: int, field: str) -> tuple[ClassifyInput, ...]:
    if not inputs:
        raise InvalidInputError(f"'{field}' must not be empty", param=field)
    if len(inputs) > max_inputs:
        raise InvalidInputError(f"too many inputs: {len(inputs)} > limit {max_inputs}", param=field)
    for index, item in enumerate(inputs):
        texts = item if isinstance(item, tuple) else (item.text,) if isinstance(item, TextInput) else ()
        if any(not text.strip() for text in texts):
            raise InvalidInputError(f"{field}[{index}] is empty", param=f"{field}[{index}]")
    return tuple(inputs)


def _labels(labels: list[str] | None) -> tuple[str, ...] | None:
    if labels is None:
        return None
    if not labels:
        raise InvalidInputError("'labels' must not be empty: send the labels to choose from", param="labels")
    if len(labels) > MAX_LABELS:
        raise InvalidInputError(f"too many labels: {len(labels)} > limit {MAX_LABELS}", param="labels")
    for index, label in enumerate(labels):
        if not label.strip():
            raise InvalidInputError(f"labels[{index}] is empty", param=f"labels[{index}]")
        if label in labels[:index]:
            raise InvalidInputError(f"labels[{index}] {label!r} is sent twice; labels must be distinct",
                                    param=f"labels[{index}]")  # fmt: skip
    return tuple(labels)


def _item(item: str | TextItem | ImageItem) -> InputItem:
    if isinstance(item, str):
        return TextInput(item)
    return TextInput(item.text) if isinstance(item, TextItem) else ImageInput(item.image)


def _tei_inputs(inputs: str | list[str] | list[list[str]]) -> tuple[list[ClassifyInput], bool]:
    """TEI's reading: a string or a list of strings is one input (``[text]`` or ``[text, text_pair]``); a list of
    lists is a batch, each a text or a pair. Returns the inputs and whether one was sent alone."""
    if isinstance(inputs, str):
        return [TextInput(inputs)], True
    if inputs and isinstance(inputs[0], str):
        if len(inputs) > 2:
            raise InvalidInputError(
                f"inputs: a list of strings is one input, [text] or [text, text_pair], not {len(inputs)} strings; "
                "send a batch as a list of lists: [[text], [text, text_pair], ...]", param="inputs")
        return [_sequence(inputs, "inputs")], True
    return [_sequence(item, f"inputs[{i}]") for i, item in enumerate(inputs)], False


def _sequence(values: Sequence[str], where: str) -> ClassifyInput:
    if len(values) == 1:
        return TextInput(values[0])
    if len(values) == 2:
        return (values[0], values[1])
    raise InvalidInputError(f"{where}: a batch item is [text] or [text, text_pair], not {len(values)} strings",
                            param=where)  # fmt: skip


def parse_classify_request(body: Any, shape: str, max_inputs: int) -> ClassifyCall:
    """Validate a decoded JSON body of ``shape`` (``jina``, ``tei``, ``infinity`` or ``auto``) and return the call.
    Raises ``InvalidInputError``."""
    if not isinstance(body, dict):
        raise InvalidInputError("request body must be a JSON object")
    if shape == AUTO:
        shape = "tei" if "inputs" in body else "jina"
    if shape == "tei":
        tei: TeiPredictBody = _validate(TeiPredictBody, body)
        items, single = _tei_inputs(tei.inputs)
        request = ClassifyRequest(_checked(items, max_inputs, "inputs"), None, tei.raw_scores, bool(tei.truncate))
        return ClassifyCall(request, "tei", single)
    if shape == "infinity":
        infinity: InfinityClassifyBody = _validate(InfinityClassifyBody, body)
        texts: list[ClassifyInput] = [TextInput(text) for text in infinity.input]
        return ClassifyCall(ClassifyRequest(_checked(texts, max_inputs, "input"), None, infinity.raw_scores),
                            "infinity")  # fmt: skip
    jina: JinaClassifyBody = _validate(JinaClassifyBody, body)
    raw = [jina.input] if isinstance(jina.input, str) else jina.input
    inputs = _checked([_item(item) for item in raw], max_inputs, "input")
    return ClassifyCall(ClassifyRequest(inputs, _labels(jina.labels)), "jina")
