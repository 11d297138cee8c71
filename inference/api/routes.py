"""Routes: SageMaker (/ping, /invocations, /execution-parameters), Azure ML aliases, OpenAI /v1/embeddings.

Every route is a thin adapter over ``EmbeddingService``; no try/except here (see api/errors.py).
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, g, request

from ..codecs.decode import decode_request, negotiate_accept
from ..codecs.encode import build_response, dumps
from ..errors import ModelNotReadyError
from ..service import EmbeddingService
from ..settings import Settings
from .errors import error_response


def _json(payload: object, status: int = 200) -> Response:
    return Response(dumps(payload), status=status, mimetype="application/json")


def build_routes(service: EmbeddingService, settings: Settings) -> Blueprint:
    routes = Blueprint("embeddings", __name__)

    def health() -> Response:
        if not service.ready:
            reason = f"model failed to load: {service.load_error}" if service.load_error else "model is loading"
            return error_response(ModelNotReadyError(reason))
        return _json({"status": "ready", "model": service.info.name})

    def live() -> Response:
        return _json({"status": "alive"})

    def embeddings(name: str | None = None) -> Response:
        accept = negotiate_accept(request.headers.get("Accept"))
        embed_request = decode_request(
            request.get_data(cache=False), request.content_type, max_inputs=settings.max_inputs
        )
        g.n_inputs = len(embed_request.inputs)
        result = service.embed(embed_request)
        g.tokens = result.prompt_tokens
        return Response(dumps(build_response(result, embed_request)), mimetype=accept)

    def execution_parameters() -> Response:
        return _json(
            {
                "MaxConcurrentTransforms": max(1, settings.workers or 1),
                "BatchStrategy": "MULTI_RECORD",
                "MaxPayloadInMB": max(1, int(settings.max_body_mb)),
            }
        )

    def models() -> Response:
        info = service.info
        return _json({"object": "list", "data": [{"id": info.name, "object": "model", "owned_by": "self"}]})

    routes.add_url_rule("/ping", "ping", health, methods=["GET"])
    routes.add_url_rule(settings.azure_ready_route, "ready", health, methods=["GET"])
    routes.add_url_rule(settings.azure_live_route, "live", live, methods=["GET"])
    routes.add_url_rule("/execution-parameters", "execution_parameters", execution_parameters, methods=["GET"])
    routes.add_url_rule("/v1/models", "models", models, methods=["GET"])
    for rule in ("/invocations", "/v1/embeddings", "/embeddings", settings.azure_score_route):
        routes.add_url_rule(rule, f"embed:{rule}", embeddings, methods=["POST"])
    routes.add_url_rule("/endpoints/<name>/invocations", "embed:endpoint", embeddings, methods=["POST"])
    return routes


def register_routes(app: Flask, service: EmbeddingService, settings: Settings) -> None:
    app.register_blueprint(build_routes(service, settings))
