"""The web pages (``EMB_PLAYGROUND``): the playground at ``/``, Swagger UI over ``/openapi.json`` at ``/docs``,
and their files at ``/ui/<name>``. Everything is served from the installed package (no CDN, fonts or anything
else from another host: the image runs without network), from a fixed list of files (no path from the request
reaches the file system), under a strict Content-Security-Policy: scripts and styles from this server only, no
inline script, no frames, requests to this server only."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from flask import Response, request

from ..errors import NotFoundError
from .route_table import ASSET, DOCS, PLAYGROUND

OWN = files(__package__) / "static"
SWAGGER = files("swagger_ui") / "static"
HTML, JS, CSS = "text/html; charset=utf-8", "text/javascript; charset=utf-8", "text/css; charset=utf-8"
# name under /ui/ -> (file, media type)
ASSETS: dict[str, tuple[Traversable, str]] = {
    "playground.js": (OWN / "playground.js", JS),
    "playground.css": (OWN / "playground.css", CSS),
    "docs.js": (OWN / "docs.js", JS),
    "swagger-ui-bundle.js": (SWAGGER / "swagger-ui-bundle.js", JS),
    "swagger-ui.css": (SWAGGER / "swagger-ui.css", CSS),
}
PAGES = {PLAYGROUND: (OWN / "playground.html", HTML), DOCS: (OWN / "docs.html", HTML)}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
       "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")  # fmt: skip
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",  # revalidated: a new image's page never runs with the old one's script
}


@cache
def _content(name: str) -> tuple[bytes, str, str]:
    """A page's (route action) or file's (``/ui/<name>``) bytes, media type and ETag, read and hashed once per
    process: the files are part of the installed package."""
    path, mime = PAGES[name] if name in PAGES else ASSETS[name]
    data = path.read_bytes()
    return data, mime, hashlib.sha1(data, usedforsecurity=False).hexdigest()


def _file(name: str) -> Response:
    data, mime, etag = _content(name)
    response = Response(data, mimetype=None, content_type=mime)
    response.headers.update(SECURITY_HEADERS)
    response.set_etag(etag)
    response.make_conditional(request)  # 304 when the browser has this version
    return response


def ui_views() -> dict[str, Callable[..., Response]]:
    def asset(name: str) -> Response:
        if name not in ASSETS:
            raise NotFoundError(f"no file /ui/{name}")
        return _file(name)

    return {PLAYGROUND: lambda: _file(PLAYGROUND), DOCS: lambda: _file(DOCS), ASSET: asset}
