"""The published OpenAPI 3.1 description of the HTTP API, served at ``GET /openapi.json``.

Paths come from the route table; each endpoint slice describes its own operation and schemas (the embeddings
request schema is generated from its pydantic model). Per-deployment limits come from ``Settings``. Responses
are checked against real responses by the fuzz suite (tests/fuzz). A server of several models (model_set.py) lists
them under ``info["x-models"]``, says how a request names one, and documents the ``X-Model`` header.
"""

from __future__ import annotations

from typing import Any

from ..core import types as kinds
from ..endpoints import cohere_docs as cohere_doc
from ..endpoints.classify import openapi as classify_doc
from ..endpoints.docs import error_doc, ref
from ..endpoints.embeddings import openapi as embeddings_doc
from ..endpoints.multivector import openapi as multivector_doc
from ..endpoints.rerank import openapi as rerank_doc
from ..endpoints.sparse import openapi as sparse_doc
from ..endpoints.tokenize import openapi as tokenize_doc
from ..errors import AuthenticationError, ModelNotReadyError, NotFoundError, RateLimitedError
from ..handlers import RERANK_FAMILIES, model_family
from ..metrics import CONTENT_TYPE
from ..mime import JSON
from ..model_set import ModelSetError, model_settings, served_models
from ..settings import Settings
from .route_table import (
    CLASSIFY,
    CLASSIFY_INFINITY,
    COHERE_EMBED,
    COHERE_RERANK,
    EMBED,
    HEALTH,
    INVOKE,
    METRICS,
    MULTIVECTOR,
    PREDICT,
    RERANK,
    SPARSE,
    VERTEX,
    Route,
    route_table,
)

OPENAPI_VERSION = "3.1.0"
DESCRIPTION = "OpenAI/Jina/TEI-compatible embeddings and reranking"
FAMILY_KINDS = {"classify": kinds.CLASSIFY, "multivector": kinds.MULTIVECTOR, "sparse": kinds.SPARSE}

COMMON_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {
                    "type": {"type": "string"},
                    "message": {"type": "string"},
                    "param": {"type": "string"},
                },
            }
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "description": "`/ping` and the readiness probe, once ready, also report the answering worker's work: "
        "tokens queued (admitted, not yet through the model), requests they belong to, and the measured "
        "throughput (null until measured). Further fields may be added.",
        "properties": {
            "status": {"type": "string"},
            "model": {"type": "string"},
            "queued_tokens": {"type": "integer", "minimum": 0},
            "queued_requests": {"type": "integer", "minimum": 0},
            "tokens_per_s": {"type": ["number", "null"], "minimum": 0},
        },
        "additionalProperties": True,
    },
}


def _get(route: Route) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK"}
    if route.action == METRICS:
        ok["content"] = {CONTENT_TYPE.split(";")[0]: {"schema": {"type": "string"}}}
    elif route.probe:
        ok["content"] = {JSON: {"schema": ref("Health")}}
    responses = {"200": ok}
    if route.action == HEALTH:
        responses["503"] = error_doc(ModelNotReadyError, "Model loading or failed to load")
    return {"operationId": route.operation_id, "summary": route.summary, "responses": responses}


def _with_vertex_bodies(operation: dict[str, Any]) -> dict[str, Any]:
    """Vertex AI's predict route: ``{"instances", "parameters"}`` in, ``{"predictions"}`` out (one per instance);
    the native bodies are read too (``rawPredict``)."""
    operation["summary"] = "Vertex AI prediction: instances -> predictions (native bodies too)"
    body = operation["requestBody"]["content"][JSON]["schema"]
    body["anyOf"] = [{"type": "object", "required": ["instances"],
                      "properties": {"instances": {"type": "array"}, "parameters": {"type": "object"}}},
                     *body["anyOf"]]  # fmt: skip
    answer = operation["responses"]["200"]["content"][JSON]
    vertex = {"type": "object", "required": ["predictions"], "properties": {"predictions": {"type": "array"}}}
    answer["schema"] = {"anyOf": [vertex, answer["schema"]]}
    return operation


def _operation(route: Route) -> dict[str, Any]:
    if route.tokenizer_only:
        return tokenize_doc.operation(route.action, route.operation_id)
    if route.action in (CLASSIFY, PREDICT, CLASSIFY_INFINITY, SPARSE):
        chosen: dict[str, Any] = (sparse_doc if route.action == SPARSE else classify_doc).operation(route.operation_id)
        return chosen
    if route.action in (COHERE_EMBED, COHERE_RERANK):
        cohere: dict[str, Any] = cohere_doc.operation(route.operation_id, rerank=route.action == COHERE_RERANK)
        return cohere
    if route.action not in (EMBED, RERANK, INVOKE, VERTEX, MULTIVECTOR):
        return _get(route)
    if route.action == RERANK:
        operation = rerank_doc.operation(route.operation_id)
    elif route.action == MULTIVECTOR:
        operation = multivector_doc.operation(route.operation_id)
    else:
        operation = embeddings_doc.operation(route.operation_id)
    if route.action in (INVOKE, VERTEX):
        operation = sparse_doc.with_sparse_bodies(rerank_doc.with_rerank_bodies(operation))
    if route.action in (EMBED, INVOKE, VERTEX):
        operation = multivector_doc.with_multivector_bodies(operation)
    if route.action == INVOKE:
        operation = cohere_doc.with_invocation_note(classify_doc.with_classify_bodies(operation))
    if route.action == VERTEX:
        operation = _with_vertex_bodies(operation)
    names = [part[1:-1] for part in route.openapi_path.split("/") if part.startswith("{")]
    if names:
        operation["parameters"] = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                                   for n in names]  # fmt: skip
    return operation


def served_kinds(settings: Settings) -> list[dict[str, str]]:
    """``[{"name", "kind"}]`` of each model of a set, in order (``[]``: one model, or a bad set), each kind read
    from its folder before it loads, as the app's model slots read it (app.py ``_slot``)."""
    try:
        models = served_models(settings)
    except ModelSetError:  # the server stays up, unready, saying why (app.py): its document a single model's
        return []
    listed = []
    for model in models:
        handler = model_settings(settings, model).handler
        family = handler if handler not in ("auto", "fake") else model_family(model.folder)
        kind = kinds.RERANK if family in RERANK_FAMILIES else FAMILY_KINDS.get(family, kinds.EMBED)
        listed.append({"name": model.name, "kind": kind})
    return listed


def _choosing(models: list[dict[str, str]]) -> str:
    served = ", ".join(f"`{model['name']}` ({model['kind']})" for model in models)
    return (
        f"{DESCRIPTION}.\n\nThis server serves several models: {served} (`GET /v1/models` lists them). A request "
        "names its model in the body's `model` field (OpenAI, Jina, Cohere; Vertex's `parameters.model`) or in "
        "the `X-Model` header (bodies without such a field: TEI's, Batch Transform records). An unknown name is "
        "a 404 that lists the served models. Without a name, a route takes the first served model of a kind it "
        "answers (`/v1/embeddings` the first embedding model, `/v1/rerank` the first reranker); `/invocations` "
        "sends a body with a `query` to the first reranker, and any other body to the first model."
    )


def _with_model_choice(operation: dict[str, Any], models: list[dict[str, str]]) -> None:
    """A model-work operation of a set: the ``X-Model`` header (one of the served names) and the unknown name's 404."""
    header = {
        "name": "X-Model",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "enum": [model["name"] for model in models]},
        "description": "The served model to run (for a body without a `model` field; the header wins over "
        "the body's). Without it and the body's `model`: the route's first model of its kind.",
    }
    operation["parameters"] = [*operation.get("parameters", []), header]
    operation["responses"]["404"] = error_doc(NotFoundError, "No served model of the requested name")


def _model_fields(schemas: dict[str, Any], models: list[dict[str, str]]) -> dict[str, Any]:
    """The schemas with each body's ``model`` field described as the choice of a served model (copies: the endpoint
    modules' schemas stay as they are)."""
    names = ", ".join(f"`{model['name']}`" for model in models)
    chosen = {}
    for name, schema in schemas.items():
        field = schema.get("properties", {}).get("model") if isinstance(schema, dict) else None
        if isinstance(field, dict) and "description" in field:
            described = {
                **field,
                "description": f"The served model to run: one of {names} (default: the route's "
                "first model of its kind)",
            }
            schema = {**schema, "properties": {**schema["properties"], "model": described}}
        chosen[name] = schema
    return chosen


def openapi_spec(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document for a server with these settings."""
    paths: dict[str, Any] = {}
    keys, limited = settings.keys_on, settings.limits_on  # bearer keys: Swagger UI's "Authorize"
    models = served_kinds(settings)
    for route in route_table(settings):
        if route.ui:
            continue  # web pages, not the API
        operation = _operation(route)
        if keys and not route.open:
            operation["security"] = [{"bearer": []}]
            operation["responses"]["401"] = error_doc(AuthenticationError, "No valid API key (docs/guides/api-keys.md)")
        if limited and (route.model_work or route.tokenizer_only):
            used_up = "Requests per minute used up" if route.tokenizer_only else "Requests or tokens per minute used up"
            operation["responses"]["429"] = error_doc(RateLimitedError, used_up)
        if models and (route.model_work or route.tokenizer_only):
            _with_model_choice(operation, models)
        paths.setdefault(route.openapi_path, {})[route.method.lower()] = operation
    schemas = {
        **embeddings_doc.schemas(settings.max_inputs),
        **rerank_doc.schemas(settings.max_documents),
        **multivector_doc.schemas(settings.max_inputs),
        **sparse_doc.schemas(settings.max_inputs),
        **tokenize_doc.schemas(),
        **classify_doc.schemas(settings.max_inputs),
        **cohere_doc.schemas(settings.max_inputs, settings.max_documents),
        **COMMON_SCHEMAS,
    }
    components: dict[str, Any] = {"schemas": _model_fields(schemas, models) if models else schemas}
    if keys:
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    info: dict[str, Any] = {
        "title": "Embedding service",
        "version": "1",
        "description": _choosing(models) if models else DESCRIPTION,
    }
    if models:
        info["x-models"] = models
    return {"openapi": OPENAPI_VERSION, "info": info, "paths": paths, "components": components}
