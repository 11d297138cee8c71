"""What the HTTP front may decide from a request's head alone, before it reads a byte of the body.

A request that the app would refuse anyway after reading and parsing its body is refused from its head, so
that a refusal costs neither the body's memory nor the CPU to parse it (runtime/front.py answers with
``Connection: close`` and drops the unread body unparsed):

- API keys on and no valid ``Authorization`` on a route that needs one: 401;
- a model or tokenizer route whose ``Content-Type`` is not one the API reads (application/json, or the Batch Transform
  record types): 415; a browser's "simple" cross-site POST (text/plain, forms, or a Blob with no type) never
  makes a keyless local server compute;
- the worker's queued work leaves no room for a request of this size (``WorkBudget.refuse_unread``): 503 with
  ``Retry-After``.

Everything else (unknown paths, methods, health probes, the web pages) passes to the app, which checks the same
things again with the body in hand. Runs in the front's event loop: route matching and arithmetic only.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote

from flask import Flask
from werkzeug.exceptions import HTTPException

from ..access.keys import KeyRing
from ..codecs.negotiation import check_content_type
from ..core.engine import ModelEngine
from ..errors import ServingError
from ..settings import Settings
from .model_router import EngineGroup
from .route_table import Route, RouteIndex

HEAD_GATE = "head_gate"  # app.extensions key: the runtime hands it to the front


class HeadGate:
    """``gate(method, path, headers, content_length)``: the error to answer at once, or None (read the body)."""

    def __init__(self, app: Flask, settings: Settings, engine: ModelEngine | EngineGroup, keys: KeyRing) -> None:
        self._adapter = app.url_map.bind("localhost")
        self._routes = RouteIndex(settings)
        self._engine, self._keys = engine, keys

    def __call__(self, method: str, path: str, headers: Mapping[str, str], length: int | None) -> ServingError | None:
        route = self._route(method, path)
        if route is None or route.open:
            return None
        try:
            if self._keys.enabled:
                self._keys.authenticate(headers.get("authorization"))
            if route.model_work or route.tokenizer_only:
                check_content_type(headers.get("content-type"))
        except ServingError as refused:
            return refused
        if route.model_work and self._engine.ready:
            return self._engine.budget.refuse_unread(length)
        return None

    def _route(self, method: str, path: str) -> Route | None:
        if "//" in path:  # werkzeug's matching would merge the slashes; the app answers such paths itself
            return None
        try:
            rule, _ = self._adapter.match(unquote(path), method, return_rule=True)
        except HTTPException:  # 404 / 405 / a redirect: the app answers those
            return None
        return self._routes.get(rule.rule, method)
