"""Flask application factory: the engine (model), the endpoint slices over it, routes, errors and logging."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from ..access.keys import KeyRing
from ..codecs.images import ImagePolicy
from ..core.engine import Loader, ModelEngine, Progress
from ..core.forward import Handler
from ..core.types import CLASSIFY, EMBED, MULTIVECTOR, RERANK, SPARSE
from ..endpoints.classify.service import ClassifyService
from ..endpoints.embeddings.endpoint import EmbeddingsEndpoint
from ..endpoints.embeddings.service import EmbeddingService
from ..endpoints.multivector.endpoint import MultiVectorEndpoint
from ..endpoints.multivector.service import MultiVectorService
from ..endpoints.rerank.endpoint import RerankEndpoint
from ..endpoints.rerank.service import RerankService
from ..endpoints.sparse.endpoint import SparseEndpoint
from ..endpoints.sparse.service import SparseService
from ..handlers import RERANK_FAMILIES, load_handler, model_family
from ..model_set import ModelSetError, ServedModel, model_settings, served_models, weight_bytes
from ..settings import Settings
from .access_hooks import install_access
from .errors import register_error_handlers
from .head_gate import HEAD_GATE, HeadGate
from .metrics_hooks import install_metrics
from .model_router import EngineGroup, ModelSlot, route_views
from .request_log import configure_logging, install_request_log
from .route_table import RouteIndex, probe_paths
from .routes import Endpoints, blueprint, model_views, platform_views
from .web_ui import ui_views

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
    try:
        served = served_models(settings)
    except ModelSetError as err:  # the server stays up, unready, saying why (/ping); it never crash-loops
        served, loader = [], _refusing(err)
    if served:  # several models: one engine and one set of endpoint slices each (model_router.py)
        slots = [_slot(model, model_settings(settings, model), loader, progress) for model in served]
        group = EngineGroup(slots)
        engine: ModelEngine | EngineGroup = group
        views = {**platform_views(group, settings, group.infos), **route_views(slots, list(slots[0].views))}
    else:
        engine = ModelEngine(settings, loader, progress)
        views = {**platform_views(engine, settings), **model_views(engine, _endpoints(engine, settings), settings)}
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
    app.register_blueprint(blueprint({**views, **ui_views()}, settings))
    app.extensions[HEAD_GATE] = HeadGate(app, settings, engine, keys)  # the front's checks before a body is read
    if load_in_background:
        engine.start_loading()
    else:
        engine.load()
    return app


def _endpoints(engine: ModelEngine, settings: Settings) -> Endpoints:
    """The endpoint slices over one model's engine."""
    embedding_service = EmbeddingService(engine, ImagePolicy.from_settings(settings))
    late_interaction = MultiVectorService(engine)
    return Endpoints(EmbeddingsEndpoint(embedding_service, settings),
                     RerankEndpoint(RerankService(engine, settings.max_documents, late_interaction)),
                     MultiVectorEndpoint(late_interaction, settings),
                     ClassifyService(engine, embedding_service),  # zero-shot embeds through the same service
                     SparseEndpoint(SparseService(engine), settings))  # fmt: skip


def _slot(model: ServedModel, settings: Settings, loader: Loader, progress: Progress | None) -> ModelSlot:
    family = settings.handler if settings.handler not in ("auto", "fake") else model_family(model.folder)
    kinds = {"classify": CLASSIFY, "multivector": MULTIVECTOR, "sparse": SPARSE}
    kind = RERANK if family in RERANK_FAMILIES else kinds.get(family, EMBED)
    engine = ModelEngine(settings, loader, progress)
    views = model_views(engine, _endpoints(engine, settings), settings)
    return ModelSlot(model.name, kind, engine, views, weight_bytes(model.folder))


def _refusing(err: ModelSetError) -> Loader:
    def load(settings: Settings) -> Handler:
        raise err

    return load
