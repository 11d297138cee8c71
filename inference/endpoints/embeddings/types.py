"""The embeddings slice's value types: what the service computes, and how the answer is to be written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ...core.types import InputItem

EmbeddingType = Literal["float", "base64", "binary", "ubinary", "int8", "uint8"]
EMBEDDING_TYPES: tuple[str, ...] = ("float", "base64", "binary", "ubinary", "int8", "uint8")
# How a response is laid out: "list", the OpenAI/Jina ``{"object": "list", "data": [...], "usage"}`` envelope;
# "tei", Hugging Face Text Embeddings Inference's bare ``[[...], ...]`` (one array per input); "cohere", Cohere
# v2's ``{"id", "embeddings": {type: [...]}, "texts", "meta"}`` (cohere.py).
ResponseShape = Literal["list", "tei", "cohere"]


@dataclass(frozen=True, slots=True)
class EmbedRequest:
    """A validated embeddings request: only what the service reads (no wire-format fields).

    ``task``: Jina's semantics (a model without tasks accepts and ignores Jina's task names). ``prompt_name``:
    TEI's (it must be one of the model's prompts or tasks). ``truncation_direction``: which end ``truncate`` cuts.
    ``task_candidates``: Cohere's ``input_type`` as the task or prompt names it may have; the first the model
    has is used, none: no prompt (never an error). ``split_long``: a text longer than the model's maximum is
    embedded as overlapping windows pooled into one vector (with ``late_chunking``: overlapping macro windows),
    never cut or refused (long_inputs.py).
    """

    inputs: tuple[InputItem, ...]
    task: str | None = None
    prompt_name: str | None = None
    dimensions: int | None = None
    normalized: bool = True
    truncate: bool = True
    late_chunking: bool = False
    split_long: bool = False
    truncation_direction: Literal["right", "left"] = "right"
    task_candidates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """How the vectors are written: ``types`` in order; ``as_dict``: the client sent a list of types, so each
    embedding becomes ``{type: value}``; ``shape``: the envelope around them (``ResponseShape``)."""

    types: tuple[str, ...] = ("float",)
    as_dict: bool = False
    shape: ResponseShape = "list"


@dataclass(frozen=True, slots=True)
class EmbeddingsCall:
    """One parsed request body: the service's request and the response format."""

    request: EmbedRequest
    format: ResponseFormat = ResponseFormat()


@dataclass(frozen=True, slots=True)
class EmbedResult:
    vectors: np.ndarray  # (n, d) float32, post-processed (dimensions, normalisation)
    prompt_tokens: int
    model: str
