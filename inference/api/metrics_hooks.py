"""Request metrics (inference/metrics.py) from the Flask app: each answered request by route and status, its
latency, the inputs and tokens of successful ones by API (the route's, or on the platform paths the loaded model's
kind); the engine's queue as gauges, set after each request and before each scrape."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request

from .. import metrics
from ..core.engine import ModelEngine
from .model_router import EngineGroup
from .route_table import (
    CLASSIFY,
    CLASSIFY_INFINITY,
    COHERE_EMBED,
    COHERE_RERANK,
    DECODE,
    EMBED,
    INVOKE,
    MULTIVECTOR,
    PREDICT,
    RERANK,
    SEGMENT,
    SPARSE,
    TOKENIZE,
    VERTEX,
    RouteIndex,
)

# The ``api`` label of a route's action; the platform paths (/invocations, Vertex) serve the loaded model's kind.
API_OF_ACTION = {EMBED: "embed", RERANK: "rerank", MULTIVECTOR: "multivector", CLASSIFY: "classify",
                 PREDICT: "classify", CLASSIFY_INFINITY: "classify", TOKENIZE: "tokenize", DECODE: "tokenize",
                 SPARSE: "sparse", SEGMENT: "tokenize", COHERE_EMBED: "embed", COHERE_RERANK: "rerank"}  # fmt: skip


def install_metrics(app: Flask, engine: ModelEngine | EngineGroup, routes: RouteIndex) -> None:
    def api() -> str:
        route = routes.get(request.url_rule.rule, request.method) if request.url_rule is not None else None
        if route is None:
            return "other"
        if route.action in (INVOKE, VERTEX):
            return engine.info.kind if engine.ready else "other"
        return API_OF_ACTION.get(route.action, "other")

    def queue() -> None:
        work = engine.work()
        metrics.QUEUED_TOKENS.set(work.queued_tokens)
        metrics.QUEUED_REQUESTS.set(work.queued_requests)

    metrics.set_refresher("queue", queue)

    @app.before_request
    def _start() -> None:
        g.metrics_start = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule is not None else metrics.UNMATCHED
        metrics.REQUESTS.labels(route=route, status=str(response.status_code)).inc()
        metrics.LATENCY.labels(route=route).observe(time.perf_counter() - g.get("metrics_start", time.perf_counter()))
        if 200 <= response.status_code < 300:
            label = api()
            metrics.INPUTS.labels(api=label).inc(g.get("n_inputs") or 0)
            metrics.TOKENS.labels(api=label).inc(g.get("tokens") or 0)
        metrics.refresh()
        return response
