"""Routes: every entry of the route table bound to a thin adapter; no try/except here (see api/errors.py).

Embedding responses carry ``X-Amzn-Inference-Metering`` (one ``inference.count`` unit per input), which
SageMaker passes to AWS Marketplace for products with inference pricing; error responses carry none.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, Response, g, request

from ..codecs.json import dumps
from ..core.engine import ModelEngine
from ..endpoints.embeddings.endpoint import EmbeddingsEndpoint
from ..errors import ModelNotReadyError
from ..mime import JSON
from ..settings import Settings
from .openapi import openapi_spec
from .route_table import EMBED, EXECUTION_PARAMETERS, HEALTH, LIVE, MODELS, OPENAPI, route_table

METERING_HEADER = "X-Amzn-Inference-Metering"
View = Callable[..., Response]


def _json(payload: object, status: int = 200) -> Response:
    return Response(dumps(payload), status=status, mimetype=JSON)


def metering(units: int) -> str:
    """The AWS Marketplace usage report for a 2XX response: ``inference.count`` is the only dimension."""
    return f'{{"Dimension": "inference.count", "ConsumedUnits": {units}}}'


def _platform_views(engine: ModelEngine, settings: Settings) -> dict[str, View]:
    def health() -> Response:
        if not engine.ready:
            raise ModelNotReadyError(engine.not_ready_reason())
        return _json({"status": "ready", "model": engine.handler.info.name})

    def execution_parameters() -> Response:
        return _json(
            {
                "MaxConcurrentTransforms": max(1, settings.workers or 1),
                "BatchStrategy": "MULTI_RECORD",
                "MaxPayloadInMB": max(1, int(settings.max_body_mb)),
            }
        )

    def models() -> Response:
        name = engine.handler.info.name
        return _json({"object": "list", "data": [{"id": name, "object": "model", "owned_by": "self"}]})

    spec = dumps(openapi_spec(settings))
    return {
        HEALTH: health,
        LIVE: lambda: _json({"status": "alive"}),
        EXECUTION_PARAMETERS: execution_parameters,
        MODELS: models,
        OPENAPI: lambda: Response(spec, mimetype=JSON),
    }


def _embed_view(endpoint: EmbeddingsEndpoint) -> View:
    def embed(name: str | None = None) -> Response:
        parsed = endpoint.parse(request.get_data(cache=False), request.content_type, request.headers.get("Accept"))
        g.n_inputs = parsed.inputs
        reply = endpoint.run(parsed)
        g.tokens = reply.tokens
        response = Response(reply.content, mimetype=reply.mime)
        response.headers[METERING_HEADER] = metering(reply.units)
        return response

    return embed


def build_routes(engine: ModelEngine, embeddings: EmbeddingsEndpoint, settings: Settings) -> Blueprint:
    views = {**_platform_views(engine, settings), EMBED: _embed_view(embeddings)}
    routes = Blueprint("api", __name__)
    for route in route_table(settings):
        routes.add_url_rule(route.path, route.operation_id, views[route.action], methods=[route.method])
    return routes


def register_routes(app: Flask, engine: ModelEngine, embeddings: EmbeddingsEndpoint, settings: Settings) -> None:
    app.register_blueprint(build_routes(engine, embeddings, settings))
