"""Flask application factory: the engine (model), the endpoint slices over it, routes, errors and logging."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from ..access.keys import KeyRing
from ..codecs.images import ImagePolicy
from ..core.engine import Loader, ModelEngine, Progress
from ..endpoints.classify.service import ClassifyService
from ..endpoints.embeddings.endpoint import EmbeddingsEndpoint
from ..endpoints.embeddings.service import EmbeddingService
from ..endpoints.multivector.endpoint import MultiVectorEndpoint
from ..endpoints.multivector.service import MultiVectorService
from ..endpoints.rerank.endpoint import RerankEndpoint
from ..endpoints.rerank.service import RerankService
from ..endpoints.sparse.endpoint import SparseEndpoint
from ..endpoints.sparse.service import SparseService
from ..handlers import load_handler
from ..settings import Settings
from .access_hooks import install_access
from .errors import register_error_handlers
from .head_gate import HEAD_GATE, HeadGate
from .metrics_hooks import install_metrics
from .request_log import configure_logging, install_request_log
from .route_table import RouteIndex, probe_paths
from .routes import Endpoints, register_routes

ENGINE = "model_engine"  # app.extensions key: the runtime waits on the engine's readiness


def create_app(settings: Settings | None = None, loader: Loader = load_handler, *,
               load_in_background: bool = True, state_dir: Path | None = None,
               progress: Progress | None = None) -> Flask:  # fmt: skip
    """Create the WSGI app. The model loads in a background thread; /ping is 503 until it is warm.
    ``state_dir``: where state shared by the server's workers lives (the rate limits); the gunicorn master
    makes one per server. Without it (an app alone, in tests) a fresh temporary folder. ``progress``: what the
    503 says while the loader waits (the copy of ``AIP_STORAGE_URI``)."""
    settings = settings or Settings()
    configure_logging(settings.log_level)
    engine = ModelEngine(settings, loader, progress)
    embedding_service = EmbeddingService(engine, ImagePolicy.from_settings(settings))
    embeddings = EmbeddingsEndpoint(embedding_service, settings)
    late_interaction = MultiVectorService(engine)
    reranking = RerankEndpoint(RerankService(engine, settings.max_documents, late_interaction))
    endpoints = Endpoints(embeddings, reranking, MultiVectorEndpoint(late_interaction, settings),
                          ClassifyService(engine, embedding_service),  # zero-shot embeds through the same service
                          SparseEndpoint(SparseService(engine), settings))
    app = Flask("inference")
    # No redirects: "//" in a path would get an HTML 308 to a Location built from the Host header.
    app.url_map.merge_slashes = False
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions[ENGINE] = engine
    register_error_handlers(app)
    install_request_log(app, probe_paths(settings))
    install_metrics(app, engine, RouteIndex(settings))
    keys = KeyRing.from_settings(settings.api_key, settings.api_keys_file)
    install_access(app, settings, state_dir, keys)
    register_routes(app, engine, endpoints, settings)
    app.extensions[HEAD_GATE] = HeadGate(app, settings, engine, keys)  # the front's checks before a body is read
    if load_in_background:
        engine.start_loading()
    else:
        engine.load()
    return app
