"""Upper bounds of response bodies, from a parsed request and the loaded model, before any model work.

SageMaker returns at most 6 MB (Serverless Inference 4 MB) and a Vertex AI shared endpoint 1.5 MB: a larger
answer fails at the platform, after all the model work, with a message that does not say why. So the answer of
every parsed request is bounded from what parsing knows (inputs, the requested or the model's dimensions, each
``embedding_type``, the documents a rerank echoes) and a request whose bound is over the limit
(``Settings.max_response_bytes``) gets 413 ``response_too_large`` naming how many inputs fit.

The bound is never below the real size (tests/unit/test_response_size.py compares them over random requests):

- an embedding is written by the real writers (response.py's encoders, orjson) from a worst-case vector of the
  request's dimensions: every float value as long as orjson writes a float32 (16 characters, as
  ``-0.0000140372895``; the shortest round-trip text has at most 9 significant digits), every ``binary`` byte
  ``-128``, every ``ubinary`` byte ``255``, every ``int8`` value ``-128`` and ``uint8`` value ``255``; ``base64``
  has a fixed length;
- the envelope, the entries around each embedding and the rerank results come from the real writers too, with
  indices and token counts at their widest and every rerank score as long as a float64 gets (24 characters);
  an echoed document counts its own encoded length (a ``top_n`` answer the longest ``top_n`` of them).

``check_reply`` compares the encoded body with the limit too: a request parsed while the model was loading
(when nothing could be bounded) is never answered past the limit either.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache

import numpy as np

from ..codecs.json import dumps
from ..core.types import ModelInfo
from ..errors import ResponseTooLargeError
from ..settings import MB, Settings
from .bound import MOST_TOKENS, WORST_SCORE, Bound, digits, worst
from .classify.endpoint import ParsedClassify
from .classify.size import classify_bound
from .classify.types import ClassifyCall
from .embeddings.cohere import cohere_frame, input_texts
from .embeddings.endpoint import Parsed
from .embeddings.records import Records
from .embeddings.response import ENCODERS, envelope
from .embeddings.types import EmbeddingsCall, ResponseFormat
from .multivector.endpoint import ParsedMultiVector
from .multivector.size import multivector_bound
from .multivector.types import MultiVectorCall
from .rerank.endpoint import ParsedRerank
from .rerank.response import build_response as rerank_response
from .rerank.types import RerankCall, RerankFormat, RerankRequest, RerankResult
from .sparse.endpoint import ParsedSparse
from .sparse.size import sparse_bound
from .sparse.types import SparseRequest
from .vertex import VertexParsed

log = logging.getLogger(__name__)
AnyParsed = Parsed | ParsedRerank | ParsedMultiVector | ParsedClassify | ParsedSparse | VertexParsed

# Vertex AI adds deployedModelId, model, modelDisplayName and modelVersionId around the container's predictions.
VERTEX_ADDED_BYTES = 1024


@lru_cache(maxsize=512)
def embedding_bytes(fmt: ResponseFormat, dims: int) -> int:
    """The longest JSON one ``embedding`` value of ``fmt`` with ``dims`` dimensions takes."""
    encoded = {kind: ENCODERS[kind](worst(kind, dims))[0] for kind in fmt.types}
    return len(dumps(encoded if fmt.as_dict else encoded[fmt.types[0]]))


@lru_cache(maxsize=1)
def _entry_bytes() -> int:
    """A list answer's ``data`` entry without its index and embedding, with its separator."""
    return len(dumps(envelope([None], "", 0)["data"][0])) - len("0") - len("null") + 1


def _list_frame(model: str) -> int:
    return len(dumps(envelope([], model, MOST_TOKENS)))


def _dims(call: EmbeddingsCall, info: ModelInfo) -> int:
    return min(call.request.dimensions or info.dimensions, info.dimensions)  # more is a 400 later


def _with_advice(
    bound: Bound, call: EmbeddingsCall, info: ModelInfo, limit: int, bound_of: Callable[[EmbeddingsCall], Bound]
) -> Bound:
    """``bound`` with what it answers and what shrinks it (``bound_of``: how another call of its kind is bounded)."""
    fmt = call.format
    what = f"{_dims(call, info)}-dimension {' + '.join(fmt.types)} embeddings"
    if fmt.shape == "tei":
        advice = "split it or ask for fewer dimensions (TEI's answer is floats; POST /v1/embeddings with " \
                 '"embedding_type": "base64" is 2.5 to 3 times smaller)'  # fmt: skip
    elif "float" in fmt.types:
        types = tuple(dict.fromkeys("base64" if kind == "float" else kind for kind in fmt.types))
        fits = bound_of(replace(call, format=replace(fmt, types=types))).fitting(limit)
        advice = 'split it, ask for fewer dimensions, or for "embedding_type": "base64" (little-endian float32: ' \
                 f"{min(fits, len(bound.parts))} of these {bound.unit} fit)"  # fmt: skip
    else:
        advice = "split it or ask for fewer dimensions"
    return replace(bound, what=what, advice=advice)


def _cohere_bound(call: EmbeddingsCall, info: ModelInfo) -> Bound:
    """Cohere's v2 answer: each input's vector under every type, and its text echoed in ``texts``."""
    request, types = call.request, call.format.types
    each = sum(embedding_bytes(ResponseFormat((kind,)), _dims(call, info)) + 1 for kind in types)
    texts = input_texts(request)
    frame = len(dumps(cohere_frame([], types, len(request.inputs), MOST_TOKENS)))
    parts = [each + len(dumps(text)) + 1 for text in texts] + [each] * (len(request.inputs) - len(texts))
    return Bound(frame, parts, "inputs")


def embeddings_bound(call: EmbeddingsCall, info: ModelInfo) -> Bound:
    """A JSON call's answer: the list envelope (JSON Lines writes its entries alone), TEI's bare list, or
    Cohere's by-type object."""
    count = len(call.request.inputs)
    if call.format.shape == "cohere":
        return _cohere_bound(call, info)
    embedding = embedding_bytes(call.format, _dims(call, info))
    if call.format.shape == "tei":
        return Bound(len(b"[]"), [embedding + 1] * count, "inputs")
    part = _entry_bytes() + digits(count) + embedding
    return Bound(_list_frame(info.name), [part] * count, "inputs")


def records_bound(records: Records, info: ModelInfo) -> Bound:
    """Batch Transform records: one list answer, each record's entry with its own options; a Jina CSV row's
    inputs inside its ``{"id", "object", "model", "data"}`` entry."""
    sizes: dict[int, int] = {}  # by the identity of the records' shared option objects
    for options in records.options:
        if id(options) not in sizes:
            sizes[id(options)] = embedding_bytes(options.format, _dims(options, info))
    entry = _entry_bytes() + digits(len(records))
    parts = [entry + sizes[id(options)] for options in records.options]
    rows = sum(len(dumps({"id": row.id, "object": "list", "model": info.name, "data": []})) + 1
               for row in records.rows)  # fmt: skip
    advice = "send fewer records per request (Batch Transform: a lower MaxPayloadInMB), or ask for base64 or " \
             "fewer dimensions in the records' options (EMB_RECORD_OPTIONS)"  # fmt: skip
    return Bound(_list_frame(info.name) + rows, parts, "records", "embeddings", advice)


@lru_cache(maxsize=4)
def _rerank_sizes(fmt: RerankFormat) -> tuple[int, int, int]:
    """(frame, result, echo) of a rerank answer: its bytes around the results (model name empty), one result
    without its document (one-digit index, a separator), what echoing a document adds besides its JSON text."""
    one = RerankCall(RerankRequest("q", ("",), return_documents=False), fmt)
    scores = RerankResult(np.array([WORST_SCORE]), MOST_TOKENS, "")
    frame = len(dumps(rerank_response(replace(one, request=replace(one.request, top_n=0)), scores)))
    bare = len(dumps(rerank_response(one, scores)))
    echoed = len(dumps(rerank_response(replace(one, request=replace(one.request, return_documents=True)), scores)))
    return frame, bare - frame + 1, echoed - bare - len(b'""')


def rerank_bound(call: RerankCall, info: ModelInfo) -> Bound:
    request = call.request
    frame, result, echo = _rerank_sizes(call.format)
    count = len(request.documents)
    shown = count if request.top_n is None else min(request.top_n, count)
    parts = [result + digits(count) - 1] * shown
    if request.return_documents:
        echoed = heapq.nlargest(shown, (len(dumps(text)) for text in request.documents))
        parts = [part + echo + text for part, text in zip(parts, echoed, strict=True)]
    name = "return_text" if call.format == "tei" else "return_documents"
    what = "scores and echoed texts" if request.return_documents else "scores"
    advice = f"send {name}=false (the texts are yours), a smaller top_n, or fewer documents"
    return Bound(frame + len(dumps(info.name)), parts, "documents", what, advice)


def _joined(bounds: list[Bound], frame: int) -> Bound:
    """Answers written one after another (JSON Lines, a JSON list, Vertex's predictions), one separator each."""
    parts = [part for bound in bounds for part in bound.parts]
    return replace(bounds[0], frame=frame + sum(bound.frame + 1 for bound in bounds), parts=parts)


def _native_bound(parsed: Parsed | ParsedRerank | ParsedMultiVector | ParsedClassify | ParsedSparse, info: ModelInfo,
                  limit: int) -> Bound:  # fmt: skip
    if isinstance(parsed, ParsedSparse):
        if isinstance(parsed.body, SparseRequest):
            return sparse_bound(parsed.body, info)
        return _joined([sparse_bound(request, info, frame=0) for _, request in parsed.body], len(b"[]"))
    if isinstance(parsed, ParsedClassify):
        if isinstance(parsed.body, ClassifyCall):
            return classify_bound(parsed.body, info)
        return _joined([classify_bound(call, info) for _, call in parsed.body], len(b"[]"))  # one per record
    if isinstance(parsed, ParsedMultiVector):
        if isinstance(parsed.body, MultiVectorCall):
            return multivector_bound(parsed.body, info)
        return _joined([multivector_bound(call, info, frame=0) for _, call in parsed.body], len(b"[]"))
    if isinstance(parsed, ParsedRerank):
        if isinstance(parsed.body, RerankCall):
            return rerank_bound(parsed.body, info)
        return _joined([rerank_bound(call, info) for _, call in parsed.body], len(b"[]"))  # one per record
    if isinstance(parsed.body, Records):
        return records_bound(parsed.body, info)
    return _with_advice(embeddings_bound(parsed.body, info), parsed.body, info, limit,
                        lambda other: embeddings_bound(other, info))  # fmt: skip


def _vertex_bound(parsed: VertexParsed, info: ModelInfo, limit: int) -> Bound:
    """``{"predictions": [...]}`` with what Vertex adds: each embedding, or each rerank instance's results."""
    frame = len(dumps({"predictions": []})) + VERTEX_ADDED_BYTES
    first = parsed.calls[0]
    if isinstance(first, ParsedSparse) and isinstance(first.body, SparseRequest):
        return sparse_bound(first.body, info, frame=frame)  # an input's list is its prediction
    if isinstance(first, ParsedMultiVector) and isinstance(first.body, MultiVectorCall):
        return multivector_bound(first.body, info, frame=frame)  # an entry's bytes bound its prediction's
    if isinstance(first, ParsedClassify) and isinstance(first.body, ClassifyCall):
        return classify_bound(first.body, info, frame=frame)  # an entry's bytes bound its prediction's
    if isinstance(parsed.calls[0], ParsedRerank):
        return _joined([_native_bound(call, info, limit) for call in parsed.calls], frame)
    call = parsed.calls[0].body
    assert isinstance(call, EmbeddingsCall)

    def predictions(call: EmbeddingsCall) -> Bound:
        embedding = embedding_bytes(call.format, _dims(call, info))
        return Bound(frame, [embedding + 1] * len(call.request.inputs), "instances")

    return _with_advice(predictions(call), call, info, limit, predictions)


def response_bound(parsed: AnyParsed, info: ModelInfo, limit: int) -> Bound:
    """The most bytes ``parsed``'s answer takes on a model described by ``info`` (``limit``: for the advice)."""
    if isinstance(parsed, VertexParsed):
        if parsed.predictions:
            return _vertex_bound(parsed, info, limit)
        parsed = parsed.calls[0]
    return _native_bound(parsed, info, limit)


def _is_records(parsed: AnyParsed) -> bool:
    if isinstance(parsed, VertexParsed):
        return not parsed.predictions and _is_records(parsed.calls[0])
    return isinstance(parsed.body, Records | list)


def response_limit(parsed: AnyParsed, settings: Settings) -> int | None:
    """The largest answer ``parsed`` may have, in bytes (None: no limit)."""
    return settings.max_response_bytes(records=_is_records(parsed))


def _sparse(parsed: AnyParsed) -> bool:
    calls = parsed.calls if isinstance(parsed, VertexParsed) else (parsed,)
    return any(isinstance(call, ParsedSparse) for call in calls)


def check_response(parsed: AnyParsed, info: ModelInfo, limit: int | None) -> None:
    """413 ``response_too_large`` when ``parsed``'s answer could be larger than ``limit`` bytes. A sparse answer is
    not bounded before its model work: a SPLADE vector may hold the whole vocabulary (1.3 MB of JSON at 30,522
    entries) though trained models keep a few hundred, so a bound would refuse every request of more than a few
    texts; ``check_reply`` judges its real size."""
    if limit is None or _sparse(parsed):
        return
    bound = response_bound(parsed, info, limit)
    if bound.bytes <= limit:
        return
    what = f" ({bound.what})" if bound.what else ""
    raise ResponseTooLargeError(
        f"the answer to these {len(bound.parts)} {bound.unit}{what} could take up to {bound.bytes / MB:.2f} MB, "
        f"more than the {limit / MB:g} MB this endpoint returns (EMB_MAX_RESPONSE_MB). At most "
        f"{bound.fitting(limit)} such {bound.unit} fit in one request: {bound.advice}."
    )


def check_reply(parsed: AnyParsed, size: int, limit: int | None) -> None:
    """413 when an encoded answer of ``size`` bytes is over ``limit`` after all (it was not bounded: the
    request was parsed while the model loaded)."""
    added = VERTEX_ADDED_BYTES if isinstance(parsed, VertexParsed) and parsed.predictions else 0
    if limit is None or size + added <= limit:
        return
    log.warning("an answer of %d bytes was over the %d-byte limit after its model work", size, limit)
    raise ResponseTooLargeError(
        f"the answer is {size / MB:.2f} MB, more than the {limit / MB:g} MB this endpoint returns "
        "(EMB_MAX_RESPONSE_MB): split the request, or ask for base64 or fewer dimensions"
    )
