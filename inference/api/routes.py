"""Routes: SageMaker (/ping, /invocations, /execution-parameters), Azure ML aliases, OpenAI /v1/embeddings.

Every route is a thin adapter over ``EmbeddingService``; no try/except here (see api/errors.py).
Embedding responses carry ``X-Amzn-Inference-Metering`` (one ``inference.count`` unit per input), which
SageMaker passes to AWS Marketplace for products with inference pricing; error responses carry none.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, Response, g, request

from ..codecs.decode import JSON, JSONLINES, check_content_type, decode_request, negotiate_accept
from ..codecs.encode import build_response, dumps
from ..codecs.records import RecordDefaults, decode_records, embed_records, encode_jsonlines
from ..errors import ModelNotReadyError
from ..service import EmbeddingService
from ..settings import Settings
from .errors import error_response
from .openapi import openapi_spec

METERING_HEADER = "X-Amzn-Inference-Metering"


def _json(payload: object, status: int = 200) -> Response:
    return Response(dumps(payload), status=status, mimetype="application/json")


def metering(units: int) -> str:
    """The AWS Marketplace usage report for a 2XX response: ``inference.count`` is the only dimension."""
    return f'{{"Dimension": "inference.count", "ConsumedUnits": {units}}}'


def build_routes(
    service: EmbeddingService, settings: Settings, peers_ready: Callable[[], bool] = lambda: True
) -> Blueprint:
    routes = Blueprint("embeddings", __name__)
    record_defaults = RecordDefaults(settings.record_options, max_inputs=settings.max_inputs)

    def health() -> Response:
        if not service.ready:
            reason = f"model failed to load: {service.load_error}" if service.load_error else "model is loading"
            return error_response(ModelNotReadyError(reason))
        if not peers_ready():
            return error_response(ModelNotReadyError("other workers are still loading the model"))
        return _json({"status": "ready", "model": service.info.name})

    def live() -> Response:
        return _json({"status": "alive"})

    def embeddings(name: str | None = None) -> Response:
        mime = check_content_type(request.content_type)
        accept = negotiate_accept(request.headers.get("Accept"), default=JSON if mime == JSON else JSONLINES)
        body = request.get_data(cache=False)
        if mime == JSON:
            embed_request = decode_request(body, mime, max_inputs=settings.max_inputs)
            g.n_inputs = len(embed_request.inputs)
            payload = build_response(service.embed(embed_request), embed_request)
        else:  # Batch Transform records: one input per line
            records = decode_records(body, mime, record_defaults)
            g.n_inputs = len(records)
            payload = embed_records(records, service.embed, max_inputs=settings.max_inputs)
        g.tokens = payload["usage"]["prompt_tokens"]
        content = encode_jsonlines(payload["data"]) if accept == JSONLINES else dumps(payload)
        response = Response(content, mimetype=accept)
        response.headers[METERING_HEADER] = metering(g.n_inputs)
        return response

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
    spec = dumps(openapi_spec(settings))
    routes.add_url_rule("/openapi.json", "openapi", lambda: Response(spec, mimetype=JSON), methods=["GET"])
    for rule in ("/invocations", "/v1/embeddings", "/embeddings", settings.azure_score_route):
        routes.add_url_rule(rule, f"embed:{rule}", embeddings, methods=["POST"])
    routes.add_url_rule("/endpoints/<name>/invocations", "embed:endpoint", embeddings, methods=["POST"])
    return routes


def register_routes(
    app: Flask, service: EmbeddingService, settings: Settings, peers_ready: Callable[[], bool] = lambda: True
) -> None:
    app.register_blueprint(build_routes(service, settings, peers_ready))
