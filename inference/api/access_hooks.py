"""API keys and rate limits (inference/access) on the Flask app: before a request, its key (401 without a valid
one) and whether its caller has any allowance left (429 when used up, before the body is parsed); once a
model-work view has parsed the body, its demand reserved (``reserve_work``: 429 when the allowance cannot cover
it); after it, the request settled and the ``X-RateLimit-*`` headers (rate_limit.py says what each step
charges). The tokenizer routes (``/tokenize``, ``/decode``, the segmenter) are limited by requests alone: one each,
never a token. Open routes (health probes, ``/metrics``, ``/openapi.json``) pass untouched; with neither keys nor
limits configured nothing is installed."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Response, g, request

from ..access.keys import KeyRing
from ..access.rate_limit import Limits, RateLimiter, Reservation, rate_headers
from ..endpoints.demand import Demand
from ..errors import RateLimitedError
from ..settings import Settings
from .route_table import Route, RouteIndex

log = logging.getLogger(__name__)
LIMITS_FILE = "rate-limits.sqlite3"
_ADMISSION = "rate_admission"  # flask.g: the request's _Admission, from its check until it is settled


@dataclass(slots=True)
class _Admission:
    """A rate-limited request: whose allowance it draws on, and what it reserved (None: nothing yet)."""

    limiter: RateLimiter
    caller: str
    limits: Limits
    reservation: Reservation | None = None


def reserve_work(demand: Demand) -> None:
    """Reserve a parsed request's ``demand`` before its model work runs: ``RateLimitedError`` (429, costing
    nothing) when its caller's allowance cannot cover it. Does nothing for requests without rate limits."""
    admission: _Admission | None = g.get(_ADMISSION)
    if admission is None or admission.reservation is not None:
        return
    try:
        admission.reservation = admission.limiter.reserve(
            admission.caller, admission.limits, demand.requests, demand.tokens
        )
    except RateLimitedError:
        g.pop(_ADMISSION)  # refused: nothing to settle
        raise


def install_access(app: Flask, settings: Settings, state_dir: Path | None, keys: KeyRing | None = None) -> None:
    """``state_dir``: the server's shared folder (the rate-limit buckets); None: a fresh temporary one. ``keys``:
    the key ring the app shares (with the front's head checks); None: one from ``settings``."""
    keys = keys if keys is not None else KeyRing.from_settings(settings.api_key, settings.api_keys_file)
    default = Limits(settings.rate_limit_rpm, settings.rate_limit_tpm)
    if not keys.enabled and not default.active:
        return
    if keys.enabled and (settings.vertex_predict_route or settings.azureml_model_dir):
        log.warning("API keys are on behind a cloud platform, which authenticates callers itself and may not "
                    "pass their Authorization header on: unset EMB_API_KEY / EMB_API_KEYS_FILE there")  # fmt: skip
    limiter = RateLimiter((state_dir or Path(tempfile.mkdtemp(prefix="embed-state-"))) / LIMITS_FILE)
    routes = RouteIndex(settings)

    def route_of() -> Route | None:
        rule = request.url_rule
        return None if rule is None else routes.get(rule.rule, request.method)

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
        if route.tokenizer_only:  # no model work: one request and no tokens (route_table.TOKENIZER_WORK)
            limits = Limits(limits.rpm, 0)
        if (route.model_work or route.tokenizer_only) and limits.active:
            limiter.check(caller, limits)  # RateLimitedError: 429
            setattr(g, _ADMISSION, _Admission(limiter, caller, limits))

    @app.after_request
    def _settle(response: Response) -> Response:
        admission: _Admission | None = g.pop(_ADMISSION, None)
        if admission is not None:
            used = int(g.get("tokens") or 0) if 200 <= response.status_code < 300 else None
            buckets = limiter.settle(admission.caller, admission.limits, admission.reservation, used)
            response.headers.extend(rate_headers(buckets))
        return response
