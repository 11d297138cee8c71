"""The route list: the one place that says which paths exist. Routing (routes.py), request logging
(request_log.py), the OpenAPI document (openapi.py) and the runtime's health bypass all read it.

Platform routes are aliases: SageMaker (``/ping``, ``/invocations``, ``/endpoints/<name>/invocations``,
``/execution-parameters``), Azure ML (``EMB_AZURE_*_ROUTE``), Vertex AI (``AIP_HEALTH_ROUTE``,
``AIP_PREDICT_ROUTE``: literal paths such as ``/v1/endpoints/1/deployedModels/2:predict``), OpenAI
(``/v1/embeddings``, ``/v1/models``), TEI (``/embed``, ``/embed_sparse``, ``/rerank``, ``/tokenize``, ``/decode``),
Jina / Cohere (``/v1/rerank``), Cohere v2 (``/v2/embed``, ``/v2/rerank``), Jina's Segmenter (``/v1/segment``,
``/segment``: any model kind, no model work). The platform invocation paths serve the loaded model's kind (embeddings or
rerank); ``/v1/embeddings`` and ``/v1/rerank`` one kind each. Vertex's predict route (VERTEX) reads
``{"instances", "parameters"}`` bodies and the native ones (rawPredict).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..settings import Settings

EMBED, RERANK, INVOKE, HEALTH, LIVE = "embed", "rerank", "invoke", "health", "live"
EXECUTION_PARAMETERS, MODELS, OPENAPI, VERTEX = "execution_parameters", "models", "openapi", "vertex"
METRICS, INFO = "metrics", "info"
MULTIVECTOR = "multivector"  # Jina's /v1/multi-vector: a late-interaction model's token vectors
SPARSE = "sparse"  # TEI's /embed_sparse: a SPLADE model's sparse vectors
COHERE_EMBED, COHERE_RERANK = "cohere_embed", "cohere_rerank"  # Cohere's v2 API: /v2/embed, /v2/rerank
# The served model's tokenizer (TEI's /tokenize and /decode, Jina's Segmenter): no model work, any model kind.
TOKENIZE, DECODE, SEGMENT = "tokenize", "decode", "segment"
# Classification: Jina's /v1/classify (zero-shot on embedding models too), TEI's /predict, Infinity's /classify.
CLASSIFY, PREDICT, CLASSIFY_INFINITY = "classify", "predict", "classify_infinity"
PLAYGROUND, DOCS, ASSET = "playground", "docs", "asset"  # the web pages (EMB_PLAYGROUND) and their files
UI = frozenset({PLAYGROUND, DOCS, ASSET})
# Answered in the front's event loop even when the worker is saturated, logged at DEBUG: the health probes and
# the Prometheus scrape (cheap: counters read from memory or the metrics folder, no model work).
PROBES = frozenset({HEALTH, LIVE, METRICS})
# With API keys on, these stay open (the platforms and Kubernetes probe without credentials; the API document
# describes the API to people about to call it); every other route needs a key. Model work is rate-limited.
OPEN = PROBES | UI | {OPENAPI, INFO}
# Rate-limited as requests only (one each, no tokens, as Jina's Segmenter), and never refused for queued model work.
TOKENIZER_WORK = frozenset({TOKENIZE, DECODE, SEGMENT})
MODEL_WORK = frozenset({EMBED, RERANK, INVOKE, VERTEX, MULTIVECTOR, SPARSE, CLASSIFY, PREDICT, CLASSIFY_INFINITY,
                        COHERE_EMBED, COHERE_RERANK})


@dataclass(frozen=True, slots=True)
class Route:
    path: str  # Flask rule syntax: ``<name>`` is a path parameter
    method: str
    action: str  # what answers it: one of the names above
    operation_id: str
    summary: str = ""

    @property
    def probe(self) -> bool:
        """A health probe or the metrics scrape: logged at DEBUG only, and answered even when the worker is
        saturated."""
        return self.action in PROBES

    @property
    def open(self) -> bool:
        """Answered without an API key even when keys are on."""
        return self.action in OPEN

    @property
    def ui(self) -> bool:
        """A web page or its file, not part of the API (left out of the OpenAPI document)."""
        return self.action in UI

    @property
    def model_work(self) -> bool:
        """Runs the model: counted against requests- and tokens-per-minute limits."""
        return self.action in MODEL_WORK

    @property
    def tokenizer_only(self) -> bool:
        """Answered by the served model's tokenizer alone: counted against requests per minute, never tokens."""
        return self.action in TOKENIZER_WORK

    @property
    def openapi_path(self) -> str:
        return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", self.path)


def _model_routes(settings: Settings) -> list[Route]:
    """SageMaker's and Azure ML's paths serve the loaded model's kind (INVOKE); the API-named paths one kind each."""
    invoke = dict.fromkeys(["/invocations", settings.azure_score_route])
    routes = [Route(path, "POST", INVOKE, "embed" + path.replace("/", "_")) for path in invoke]
    routes.append(Route("/endpoints/<name>/invocations", "POST", INVOKE, "embed_endpoint"))
    if settings.vertex_predict_route:
        routes.append(Route(settings.vertex_predict_route, "POST", VERTEX, "vertex_predict", "Vertex AI prediction"))
    # "/embed": Hugging Face Text Embeddings Inference's path (every embeddings route reads TEI bodies too).
    routes += [Route(path, "POST", EMBED, "embed" + path.replace("/", "_"))
               for path in ("/v1/embeddings", "/embeddings", "/embed")]  # fmt: skip
    routes.append(Route("/v1/multi-vector", "POST", MULTIVECTOR, "multi_vector",
                        "Token vectors of a late-interaction (ColBERT) model (Jina)"))  # fmt: skip
    routes.append(Route("/embed_sparse", "POST", SPARSE, "embed_sparse",
                        "Sparse vectors of a SPLADE model (Text Embeddings Inference)"))  # fmt: skip
    routes.append(Route("/v1/rerank", "POST", RERANK, "rerank_v1_rerank", "Rerank documents (Jina / Cohere)"))
    routes.append(Route("/rerank", "POST", RERANK, "rerank_tei", "Rerank texts (Text Embeddings Inference)"))
    routes += [Route("/v2/embed", "POST", COHERE_EMBED, "embed_cohere_v2", "Embed (Cohere v2)"),
               Route("/v2/rerank", "POST", COHERE_RERANK, "rerank_cohere_v2", "Rerank documents (Cohere v2)")]
    routes += [Route("/v1/classify", "POST", CLASSIFY, "classify_v1_classify", "Classify inputs (Jina)"),
               Route("/predict", "POST", PREDICT, "predict_tei", "Classify texts (Text Embeddings Inference)"),
               Route("/classify", "POST", CLASSIFY_INFINITY, "classify_infinity", "Classify texts (Infinity)")]
    routes += [Route("/tokenize", "POST", TOKENIZE, "tokenize", "Tokenize with the served model's tokenizer (TEI)"),
               Route("/decode", "POST", DECODE, "decode", "Decode token ids (Text Embeddings Inference)"),
               *(Route(path, "POST", SEGMENT, "segment" + path.replace("/", "_"), "Count tokens, cut text into "
                       "chunks (Jina Segmenter)") for path in ("/v1/segment", "/segment"))]  # fmt: skip
    return routes


def _ui_routes() -> list[Route]:
    return [Route("/", "GET", PLAYGROUND, "playground", "The playground page"),
            Route("/docs", "GET", DOCS, "docs", "Interactive API documentation (Swagger UI)"),
            Route("/ui/<name>", "GET", ASSET, "ui_asset", "A file of the web pages")]  # fmt: skip


def route_table(settings: Settings) -> tuple[Route, ...]:
    """Every route of a server with these settings (a path configured twice keeps its first meaning)."""
    routes = [
        Route("/ping", "GET", HEALTH, "ping", "SageMaker health: 200 once the model is loaded and warm"),
        Route(settings.azure_ready_route, "GET", HEALTH, "ready", "Readiness (same as /ping)"),
        Route(settings.azure_live_route, "GET", LIVE, "live", "Liveness"),
        *([Route(settings.vertex_health_route, "GET", HEALTH, "vertex_health", "Vertex AI health (same as /ping)")]
          if settings.vertex_health_route else []),
        Route("/execution-parameters", "GET", EXECUTION_PARAMETERS, "execution_parameters",
              "SageMaker Batch Transform parameters"),
        Route("/v1/models", "GET", MODELS, "models", "The served model"),
        Route("/openapi.json", "GET", OPENAPI, "openapi", "This document"),
        Route("/info", "GET", INFO, "info", "The served model: name, kind, dimensions, max length, tasks, inputs"),
        Route("/metrics", "GET", METRICS, "metrics", "Prometheus metrics (text format; docs/guides/metrics.md)"),
        *_model_routes(settings),
        *(_ui_routes() if settings.playground_on else []),
    ]  # fmt: skip
    unique: dict[tuple[str, str], Route] = {}
    for route in routes:
        unique.setdefault((route.path, route.method), route)
    return tuple(unique.values())


class RouteIndex:
    """The route table by Flask rule and method (a HEAD request is its GET route's): what the access hooks and the
    front's head gate look a matched rule up in."""

    def __init__(self, settings: Settings) -> None:
        self._routes = {(route.path, route.method): route for route in route_table(settings)}

    def get(self, rule: str, method: str) -> Route | None:
        return self._routes.get((rule, "GET" if method == "HEAD" else method))


def probe_paths(settings: Settings) -> frozenset[str]:
    """Health probes (liveness and readiness) and the metrics scrape: answered in the front's loop."""
    return frozenset(route.path for route in route_table(settings) if route.probe)


def readiness_paths(settings: Settings) -> frozenset[str]:
    """Readiness probes: 200 only when the model is loaded and warm."""
    return frozenset(route.path for route in route_table(settings) if route.action == HEALTH)
