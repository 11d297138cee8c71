"""Routes: every entry of the route table bound to a thin adapter; no try/except here (see api/errors.py).

Embedding responses carry ``X-Amzn-Inference-Metering`` (one ``inference.count`` unit per input), which
SageMaker passes to AWS Marketplace for products with inference pricing; error responses carry none. The embed
view passes the request's deadline and cancellation event, which the HTTP front puts in the WSGI environ
(request_context.py), to the endpoint.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, g, request

from ..codecs.json import dumps
from ..core.budget import BODY_BYTES
from ..core.engine import ModelEngine
from ..core.types import CLASSIFY as CLASSIFY_KIND
from ..core.types import EMBED as EMBED_KIND
from ..core.types import MULTIVECTOR as MULTIVECTOR_KIND
from ..core.types import RERANK as RERANK_KIND
from ..core.types import SPARSE as SPARSE_KIND
from ..core.types import ModelInfo
from ..endpoints.classify.endpoint import ClassifyEndpoint
from ..endpoints.classify.service import ClassifyService
from ..endpoints.demand import demand
from ..endpoints.embeddings.endpoint import EmbeddingsEndpoint
from ..endpoints.embeddings.schema import EMBEDDING_TYPES
from ..endpoints.multivector.endpoint import MultiVectorEndpoint
from ..endpoints.multivector.invoke import LateInteractionInvocations
from ..endpoints.rerank.endpoint import RerankEndpoint
from ..endpoints.response_size import check_reply, check_response, response_limit
from ..endpoints.sparse.endpoint import SparseEndpoint
from ..endpoints.vertex import VertexEndpoint
from ..errors import ModelNotReadyError
from ..metrics import CONTENT_TYPE, exposition
from ..mime import JSON
from ..settings import Settings
from .access_hooks import reserve_work
from .model_router import EngineGroup
from .openapi import openapi_spec
from .request_context import CANCELLED, DEADLINE
from .route_table import (
    CLASSIFY,
    CLASSIFY_INFINITY,
    COHERE_EMBED,
    COHERE_RERANK,
    EMBED,
    EXECUTION_PARAMETERS,
    HEALTH,
    INFO,
    INVOKE,
    LIVE,
    METRICS,
    MODELS,
    MULTIVECTOR,
    OPENAPI,
    PREDICT,
    RERANK,
    SPARSE,
    VERTEX,
    route_table,
)
from .tokenizer_routes import tokenizer_views
from .web_ui import ui_views

METERING_HEADER = "X-Amzn-Inference-Metering"
View = Callable[..., Response]
# MaxPayloadInMB: a Batch Transform request must fit the deadline. ~4 bytes of text per token (English-like text;
# JSON Lines quoting and text cut at the model's limit only lower the tokens per byte, so this errs safe), and
# half the deadline, so that two payloads queued on one worker (connections do not spread evenly) both make it.
BYTES_PER_TOKEN = 4
PAYLOAD_DEADLINE_SHARE = 0.5
MIB = 1024 * 1024


def _json(payload: object, status: int = 200) -> Response:
    return Response(dumps(payload), status=status, mimetype=JSON)


def metering(units: int) -> str:
    """The AWS Marketplace usage report for a 2XX response: ``inference.count`` is the only dimension."""
    return f'{{"Dimension": "inference.count", "ConsumedUnits": {units}}}'


def max_payload_mb(tokens_per_s: float | None, deadline_s: float, max_body_mb: float) -> int:
    """The Batch Transform payload this worker embeds within half the deadline: at most the body limit, at
    least 1 (SageMaker's floor: integer MB). Without a throughput estimate yet, the body limit."""
    limit = max_body_mb
    if tokens_per_s is not None:
        limit = min(limit, tokens_per_s * deadline_s * PAYLOAD_DEADLINE_SHARE * BYTES_PER_TOKEN / MIB)
    return max(1, int(limit))


def info_body(model: ModelInfo, settings: Settings) -> dict[str, object]:
    """``/info``'s description of one model."""
    return {"model": model.name, "kind": model.kind, "dimensions": model.dimensions, "max_length": model.max_length,
            "tasks": list(model.tasks), "modalities": sorted(model.modalities), "late_chunking": model.late_chunking,
            "pooling": model.pooling, "device": model.device, "dtype": model.dtype, "backend": model.backend,
            "dimension_options": list(model.dimension_options or (model.dimensions,)),
            "query_length": model.query_length, "labels": list(model.labels), "embedding_types": list(EMBEDDING_TYPES),
            "max_inputs": settings.max_inputs, "max_documents": settings.max_documents,
            "api_key_required": settings.keys_on}  # fmt: skip


def platform_views(engine: ModelEngine | EngineGroup, settings: Settings,
                   models_of: Callable[[], list[ModelInfo]] | None = None) -> dict[str, View]:  # fmt: skip
    """Health, liveness, execution parameters, models, info, OpenAPI and metrics. ``engine``: the model's (or a
    set's, which answers for all: model_router.py); ``models_of``: every served model (default: ``engine``'s)."""
    listed = models_of or (lambda: [engine.info])

    def health() -> Response:
        if not engine.ready:
            raise ModelNotReadyError(engine.not_ready_reason())
        work = engine.work()
        rate = None if work.tokens_per_s is None else round(work.tokens_per_s, 1)
        return _json({"status": "ready", "model": engine.info.name, "queued_tokens": work.queued_tokens,
                      "queued_requests": work.queued_requests, "tokens_per_s": rate})  # fmt: skip

    def execution_parameters() -> Response:
        rate = engine.work().tokens_per_s
        return _json(
            {
                "MaxConcurrentTransforms": max(1, settings.workers or 1),
                "BatchStrategy": "MULTI_RECORD",
                "MaxPayloadInMB": max_payload_mb(rate, settings.request_deadline_s, settings.max_body_mb),
            }
        )

    def info() -> Response:
        """What the playground and clients need to know of the served model (503 until it is loaded); with several
        models, the default one's, and each model's under ``models``."""
        if not engine.ready:
            raise ModelNotReadyError(engine.not_ready_reason())
        served = [info_body(model, settings) for model in listed()]
        return _json({**info_body(engine.info, settings), "models": served})

    def models() -> Response:
        return _json({"object": "list", "data": [{"id": model.name, "object": "model", "owned_by": "self",
                                                  "kind": model.kind} for model in listed()]})  # fmt: skip

    spec = dumps(openapi_spec(settings))
    return {
        HEALTH: health,
        LIVE: lambda: _json({"status": "alive"}),
        EXECUTION_PARAMETERS: execution_parameters,
        MODELS: models,
        INFO: info,
        OPENAPI: lambda: Response(spec, mimetype=JSON),
        METRICS: lambda: Response(exposition(), content_type=CONTENT_TYPE),
    }


def _endpoint_view(
    endpoint: EmbeddingsEndpoint | RerankEndpoint | MultiVectorEndpoint | LateInteractionInvocations | VertexEndpoint
    | ClassifyEndpoint | SparseEndpoint,
    engine: ModelEngine,
    kind_check: Callable[[], object], settings: Settings,
) -> View:
    """parse -> bound the answer's size (413 when the platform could not return it) -> reserve (rate limits) ->
    run -> respond for one slice; the reply is metered by its units (inputs or documents).
    ``kind_check`` raises ``WrongModelKindError`` when the loaded model is of the other kind: checked first (once
    loaded), so a body is never judged by the wrong slice's schema."""

    def view(name: str | None = None) -> Response:
        if engine.ready:
            kind_check()
        body = request.get_data(cache=False)
        parsed = endpoint.parse(body, request.content_type, request.headers.get("Accept"))
        g.n_inputs = parsed.inputs
        limit = response_limit(parsed, settings)
        if engine.ready:  # else run answers 503 (settled as a request that failed before its reservation)
            check_response(parsed, engine.info, limit)  # 413 at once, before any model work
            reserve_work(demand(parsed, engine.info.max_length))  # rate limits: 429 when the caller is short
        deadline, cancelled = request.environ.get(DEADLINE), request.environ.get(CANCELLED)
        sized = BODY_BYTES.set(len(body))  # the work budget learns its least cost per byte (head refusals)
        try:
            reply = endpoint.run(
                parsed,  # type: ignore[arg-type]  # each slice's parse feeds its own run
                deadline=float(deadline) if isinstance(deadline, int | float) else None,
                cancelled=cancelled if isinstance(cancelled, threading.Event) else None,
            )
        finally:
            BODY_BYTES.reset(sized)
        check_reply(parsed, len(reply.content), limit)
        g.tokens = reply.tokens
        response = Response(reply.content, mimetype=reply.mime)
        response.headers[METERING_HEADER] = metering(reply.units)
        return response

    return view


def _invoke_view(engine: ModelEngine, views: dict[str, View]) -> View:
    """``/invocations`` and its aliases: the loaded model's kind decides the API (503 until it is loaded)."""

    def invoke(name: str | None = None) -> Response:
        return views[engine.info.kind](name)

    return invoke


def _embed_view(engine: ModelEngine, embed: View, multivector: View) -> View:
    """The embeddings routes: a late-interaction model answers them with token vectors when the body says Jina's
    ``"return_multivector": true`` (else a 400 saying so); any other kind goes to the embeddings slice (which
    refuses it when it is not an embedding model)."""

    def view(name: str | None = None) -> Response:
        return multivector(name) if engine.ready and engine.info.kind == MULTIVECTOR_KIND else embed(name)

    return view


@dataclass(frozen=True)
class Endpoints:
    """The endpoint slices over one engine, one per API."""

    embeddings: EmbeddingsEndpoint
    reranking: RerankEndpoint
    multivector: MultiVectorEndpoint
    classify: ClassifyService
    sparse: SparseEndpoint


def _classify_views(engine: ModelEngine, service: ClassifyService, settings: Settings) -> dict[str, View]:
    """Jina's ``/v1/classify`` (an embedding model answers it zero-shot), TEI's ``/predict`` and Infinity's
    ``/classify`` (classifiers only), and a classifier's ``/invocations`` (TEI's body, or Jina's)."""

    def classifier_or_embedder() -> object:
        return engine.info.kind == EMBED_KIND or engine.classifier

    shapes = {CLASSIFY: ("jina", classifier_or_embedder), PREDICT: ("tei", lambda: engine.classifier),
              CLASSIFY_INFINITY: ("infinity", lambda: engine.classifier), INVOKE: ("auto", lambda: engine.classifier)}
    return {action: _endpoint_view(ClassifyEndpoint(service, shape, settings.max_inputs), engine, check, settings)
            for action, (shape, check) in shapes.items()}  # fmt: skip


def model_views(engine: ModelEngine, endpoints: Endpoints, settings: Settings) -> dict[str, View]:
    """The views of one model's routes (every route but the platform ones: health, info, models, metrics ...)."""
    embed = _endpoint_view(endpoints.embeddings, engine, lambda: engine.handler, settings)
    rerank = _endpoint_view(endpoints.reranking, engine,
                            lambda: engine.info.kind == MULTIVECTOR_KIND or engine.reranker, settings)  # fmt: skip
    multivector = _endpoint_view(endpoints.multivector, engine, lambda: engine.multivector, settings)
    flagged = _endpoint_view(endpoints.multivector.flagged(), engine, lambda: engine.multivector, settings)
    late_interaction = LateInteractionInvocations(endpoints.multivector, endpoints.reranking)
    classify = _classify_views(engine, endpoints.classify, settings)
    sparse = _endpoint_view(endpoints.sparse, engine, lambda: engine.sparse, settings)
    cohere = {COHERE_EMBED: _endpoint_view(endpoints.embeddings.cohere(), engine, lambda: engine.handler, settings),
              COHERE_RERANK: _endpoint_view(endpoints.reranking.cohere(), engine,
                                            lambda: engine.info.kind == MULTIVECTOR_KIND or engine.reranker,
                                            settings)}  # fmt: skip
    # the invocation paths read Cohere's v2 bodies too (answered in Cohere's shape): docs/api/cohere.md
    invoke_embed = _endpoint_view(endpoints.embeddings.invocations(), engine, lambda: engine.handler, settings)
    invoke_rerank = _endpoint_view(endpoints.reranking.invocations(), engine,
                                   lambda: engine.info.kind == MULTIVECTOR_KIND or engine.reranker,
                                   settings)  # fmt: skip
    by_kind = {EMBED_KIND: invoke_embed, RERANK_KIND: invoke_rerank, CLASSIFY_KIND: classify.pop(INVOKE),
               SPARSE_KIND: sparse,
               MULTIVECTOR_KIND: _endpoint_view(late_interaction, engine, lambda: None, settings)}  # fmt: skip
    vertex = VertexEndpoint(endpoints.embeddings, endpoints.reranking, endpoints.multivector,
                            lambda: engine.info.kind, settings.max_inputs,
                            ClassifyEndpoint(endpoints.classify, "jina", settings.max_inputs),
                            sparse=endpoints.sparse)  # fmt: skip
    return {EMBED: _embed_view(engine, embed, flagged), RERANK: rerank, MULTIVECTOR: multivector, SPARSE: sparse,
            INVOKE: _invoke_view(engine, by_kind), **classify, VERTEX: _endpoint_view(vertex, engine, lambda: None,
            settings), **tokenizer_views(engine, settings), **cohere}  # fmt: skip


def blueprint(views: dict[str, View], settings: Settings) -> Blueprint:
    """Every route of the route table bound to its action's view."""
    routes = Blueprint("api", __name__)
    for route in route_table(settings):
        routes.add_url_rule(route.path, route.operation_id, views[route.action], methods=[route.method])
    return routes


def build_routes(engine: ModelEngine, endpoints: Endpoints, settings: Settings) -> Blueprint:
    views = {**platform_views(engine, settings), **model_views(engine, endpoints, settings), **ui_views()}
    return blueprint(views, settings)


def register_routes(app: Flask, engine: ModelEngine, endpoints: Endpoints, settings: Settings) -> None:
    app.register_blueprint(build_routes(engine, endpoints, settings))
