"""API keys and rate limits (inference/access) on the Flask app: before a request, its key (401 without a valid
one) and its caller's allowance (429 when used up); after it, its tokens charged and the ``X-RateLimit-*``
headers. Open routes (health probes, ``/metrics``, ``/openapi.json``) pass untouched; with neither keys nor
limits configured nothing is installed."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from flask import Flask, Response, g, request

from ..access.keys import KeyRing
from ..access.rate_limit import Limits, RateLimiter, rate_headers
from ..settings import Settings
from .route_table import Route, route_table

log = logging.getLogger(__name__)
LIMITS_FILE = "rate-limits.sqlite3"


def install_access(app: Flask, settings: Settings, state_dir: Path | None) -> None:
    """``state_dir``: the server's shared folder (the rate-limit buckets); None: a fresh temporary one."""
    keys = KeyRing.from_settings(settings.api_key, settings.api_keys_file)
    default = Limits(settings.rate_limit_rpm, settings.rate_limit_tpm)
    if not keys.enabled and not default.active:
        return
    if keys.enabled and (settings.vertex_predict_route or settings.azureml_model_dir):
        log.warning("API keys are on behind a cloud platform, which authenticates callers itself and may not "
                    "pass their Authorization header on: unset EMB_API_KEY / EMB_API_KEYS_FILE there")  # fmt: skip
    limiter = RateLimiter((state_dir or Path(tempfile.mkdtemp(prefix="embed-state-"))) / LIMITS_FILE)
    routes = {(route.path, route.method): route for route in route_table(settings)}

    def route_of() -> Route | None:
        rule = request.url_rule
        method = "GET" if request.method == "HEAD" else request.method
        return None if rule is None else routes.get((rule.rule, method))

    @app.before_request
    def _admit() -> None:
        route = route_of()
        if route is None or route.open:  # unknown paths get their 404 / 405 as usual
            return
        caller, limits = f"addr:{request.remote_addr}", default
        if keys.enabled:
            key = keys.authenticate(request.headers.get("Authorization"))
            g.api_key = key.name
            caller, limits = key.name, key.limits(default)
        if route.model_work and limits.active:
            limiter.admit(caller, limits)  # RateLimitedError: 429
            g.rate_caller, g.rate_limits = caller, limits

    @app.after_request
    def _charge(response: Response) -> Response:
        caller = g.pop("rate_caller", None)
        if caller is not None:
            buckets = limiter.charge(caller, g.pop("rate_limits"), int(g.get("tokens") or 0))
            response.headers.extend(rate_headers(buckets))
        return response
