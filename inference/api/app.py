"""Flask application factory. Builds Settings once, starts the model loader, wires routes and errors."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from ..handlers import EmbeddingHandler, load_handler
from ..service import EmbeddingService
from ..settings import Settings
from .errors import register_error_handlers
from .request_log import configure_logging, install_request_log
from .routes import register_routes


def create_app(
    settings: Settings | None = None,
    loader: Callable[[Settings], EmbeddingHandler] = load_handler,
    *,
    load_in_background: bool = True,
    peers_ready: Callable[[], bool] = lambda: True,
) -> Flask:
    """Create the WSGI app. The model loads in a background thread; /ping is 503 until it is warm and
    ``peers_ready()`` (the server's other workers take no connections they cannot serve yet; readiness.py)."""
    settings = settings or Settings()
    configure_logging(settings.log_level)
    service = EmbeddingService(settings, loader)
    app = Flask("inference")
    # No redirects: "//" in a path would get an HTML 308 to a Location built from the Host header.
    app.url_map.merge_slashes = False
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["embedding_service"] = service
    register_error_handlers(app)
    install_request_log(app)
    register_routes(app, service, settings, peers_ready)
    if load_in_background:
        service.start_loading()
    else:
        service.load()
    return app
