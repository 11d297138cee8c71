"""The tokenizer slice's wire schemas (pydantic), converted to its request types. Unknown fields are a 400 naming them.

- Hugging Face TEI ``POST /tokenize``: ``{"inputs": str | [str], "add_special_tokens", "prompt_name"}``
- Hugging Face TEI ``POST /decode``: ``{"ids": [int] | [[int]], "skip_special_tokens"}``
- Jina's Segmenter ``POST /v1/segment`` (``/segment``): ``{"content", "tokenizer", "return_tokens",
  "return_chunks", "max_chunk_length", "head", "tail"}``
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from ...errors import InvalidInputError
from ..fields import check_fields, validation_error
from .types import DecodeRequest, SegmentRequest, TokenizeRequest

# A chunk or head/tail budget past this is no budget a text within the body limit could need (a 6 MB body holds
# about 1.5 million tokens): refused as a mistake rather than read as "no limit".
MAX_TOKEN_BUDGET = 10_000_000


class TokenizeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: StrictStr | list[StrictStr] = Field(description="A text, or a list of texts (at most `EMB_MAX_INPUTS`)")
    add_special_tokens: StrictBool = Field(True, description="Add the model's special tokens (`[CLS]`, `</s>`, ...)")
    prompt_name: StrictStr | None = Field(
        None, description="One of the model's named prompts (sentence-transformers `prompts`), put before each text; "
        "offsets then count from the prompt's start")


class DecodeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[StrictInt] | list[list[StrictInt]] = Field(description="Token ids, or a list of sequences of ids")
    skip_special_tokens: StrictBool = Field(True, description="Leave the special tokens out of the text")


class SegmentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: StrictStr = Field(description="The text to count and cut (bounded by the body limit)")
    tokenizer: StrictStr | None = Field(
        None, description="Accepted for compatibility: only the served model's tokenizer (its name, as `model` "
        "in `/info`) is offered")
    return_tokens: StrictBool = Field(False, description="Return the tokens as `[text, [id]]` pairs")
    return_chunks: StrictBool = Field(False, description="Cut the content into chunks; return them and their "
                                      "character positions")
    max_chunk_length: StrictInt | None = Field(
        None, ge=1, le=MAX_TOKEN_BUDGET, description="The most tokens a chunk may have, counted by the served "
        "tokenizer without special tokens (Jina counts characters). Default: what one input of the served model "
        "holds (its maximum length less its special tokens)")
    head: StrictInt | None = Field(None, ge=1, le=MAX_TOKEN_BUDGET, description="Only the first N tokens")
    tail: StrictInt | None = Field(None, ge=1, le=MAX_TOKEN_BUDGET, description="Only the last N tokens")


def _validated(model: type[BaseModel], body: Any) -> Any:
    if not isinstance(body, dict):
        raise InvalidInputError("request body must be a JSON object")
    check_fields(body, list(model.model_fields))
    try:
        return model.model_validate(body)
    except ValidationError as err:
        raise validation_error(err) from None


def parse_tokenize(body: Any) -> TokenizeRequest:
    parsed: TokenizeBody = _validated(TokenizeBody, body)
    texts = (parsed.inputs,) if isinstance(parsed.inputs, str) else tuple(parsed.inputs)
    return TokenizeRequest(texts, parsed.add_special_tokens, parsed.prompt_name)


def parse_decode(body: Any) -> DecodeRequest:
    parsed: DecodeBody = _validated(DecodeBody, body)
    sequences = [item if isinstance(item, list) else [item] for item in parsed.ids]
    if not parsed.ids or not isinstance(parsed.ids[0], list):  # one sequence: its ids
        sequences = [[item for sequence in sequences for item in sequence]]
    return DecodeRequest(tuple(tuple(sequence) for sequence in sequences), parsed.skip_special_tokens)


def parse_segment(body: Any) -> SegmentRequest:
    parsed: SegmentBody = _validated(SegmentBody, body)
    if parsed.head is not None and parsed.tail is not None:
        raise InvalidInputError("head and tail cannot be used together", param="tail")
    return SegmentRequest(parsed.content, parsed.max_chunk_length, parsed.return_tokens, parsed.return_chunks,
                          parsed.head, parsed.tail, parsed.tokenizer)  # fmt: skip
