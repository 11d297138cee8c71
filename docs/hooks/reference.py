"""MkDocs hook: the references that are generated, not written.

A page asks for generated Markdown with a marker on a line of its own:

    <!-- generated: openapi -->      the endpoint reference, from the OpenAPI document the server publishes
                                     (``inference.api.openapi.openapi_spec``, the document of ``GET /openapi.json``)
    <!-- generated: env-table -->    the configuration table, from ``inference.settings`` (``inference.env_table``)

``on_page_markdown`` replaces each marker before the page is rendered, so the generated headings get anchors
and their links are checked like hand-written ones. ``on_files`` also publishes the OpenAPI document itself as
``api/openapi.json``. The rendering functions are plain functions of the document, used by tests/docs too.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the hook runs from the checkout; `inference` may not be installed
    sys.path.insert(0, str(REPO))

MARKER = re.compile(r"^<!-- generated: (?P<name>[a-z-]+) -->$", re.MULTILINE)
SCHEMA_PREFIX = "#/components/schemas/"
# The Vertex AI routes exist only where Vertex sets AIP_PREDICT_ROUTE / AIP_HEALTH_ROUTE; the reference shows
# them under the routes infra/vertexai deploys with (its config's predict_route and health_route defaults).
VERTEX_ROUTES = {"vertex_predict_route": "/predict", "vertex_health_route": "/health"}


# --- the OpenAPI document -------------------------------------------------------------------------------------


def openapi_documents() -> tuple[dict[str, Any], dict[str, Any]]:
    """The document of a server with default settings (plus the Vertex AI routes), and of the same server with
    API keys and rate limits on (which adds the bearer scheme, 401 and 429)."""
    from pydantic import SecretStr

    from inference.api.openapi import openapi_spec
    from inference.settings import Settings

    plain = openapi_spec(Settings.model_construct(**VERTEX_ROUTES))
    guarded = openapi_spec(
        Settings.model_construct(**VERTEX_ROUTES, api_key=SecretStr("docs"), rate_limit_rpm=60, rate_limit_tpm=1)
    )
    return plain, guarded


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _schema_anchor(name: str) -> str:
    return f"schema-{_slug(name)}"


def _cell(text: str) -> str:
    """Text for one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def type_of(schema: dict[str, Any]) -> str:
    """A short Markdown rendering of a JSON Schema's type (links to named schemas)."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(SCHEMA_PREFIX)
        return f"[{name}](#{_schema_anchor(name)})"
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{value}`" for value in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " or ".join(type_of(option) for option in schema[key])
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items")
        return f"array of ({type_of(items)})" if items else "array"
    if isinstance(kind, list):
        return " or ".join(f"`{k}`" for k in kind)
    if kind:
        return f"`{kind}`"
    return "any"


LIMITS = {
    "minimum": "≥ {}",
    "exclusiveMinimum": "> {}",
    "maximum": "≤ {}",
    "minItems": "at least {} items",
    "maxItems": "at most {} items",
    "minLength": "at least {} characters",
    "maxLength": "at most {} characters",
}


def limits_of(schema: dict[str, Any]) -> list[str]:
    """The bounds a schema (or the options of its anyOf) declares."""
    found = [text.format(schema[key]) for key, text in LIMITS.items() if key in schema]
    for key in ("anyOf", "oneOf"):
        for option in schema.get(key, []):
            found += limits_of(option)
    if "items" in schema and isinstance(schema["items"], dict):
        found += [f"items {limit}" for limit in limits_of(schema["items"])]
    return found


def fields_table(schema: dict[str, Any]) -> list[str]:
    """One row per property of an object schema."""
    properties = schema.get("properties", {})
    if not properties:
        return []
    required = set(schema.get("required", []))
    rows = ["| Field | Type | Required | Default | Limits | Description |", "| --- | --- | --- | --- | --- | --- |"]
    for name, prop in properties.items():
        default = f"`{json.dumps(prop['default'])}`" if "default" in prop else ""
        rows.append(
            f"| `{name}` | {_cell(type_of(prop))} | {'yes' if name in required else ''} | {_cell(default)} "
            f"| {_cell('; '.join(limits_of(prop)))} | {_cell(prop.get('description', ''))} |"
        )
    return rows


def _responses(plain: dict[str, Any], guarded: dict[str, Any]) -> list[str]:
    rows = ["| Status | When | Body |", "| --- | --- | --- |"]
    for status in sorted(set(plain) | set(guarded)):
        response = plain.get(status) or guarded[status]
        content = response.get("content", {})
        body = "; ".join(f"`{mime}`: {type_of(media.get('schema', {}))}" for mime, media in content.items())
        when = response.get("description", "")
        if "Retry-After" in response.get("headers", {}):
            when += "; carries `Retry-After` (seconds)"
        if status not in plain:
            condition = {"401": "API keys are on", "429": "rate limits are on"}.get(status, "keys or limits are on")
            when += f" — only when {condition} ([API keys and rate limits](../guides/api-keys.md))"
        rows.append(f"| {status} | {_cell(when)} | {_cell(body)} |")
    return rows


def _request_body(operation: dict[str, Any]) -> list[str]:
    body = operation.get("requestBody")
    if not body:
        return []
    lines = ["**Request body**", "", "| Content type | Schema |", "| --- | --- |"]
    for mime, media in body.get("content", {}).items():
        schema = media.get("schema", {})
        text = type_of(schema)
        if schema.get("description"):
            text += f" ({schema['description']})"
        lines.append(f"| `{mime}` | {_cell(text)} |")
    return [*lines, ""]


def _parameters(operation: dict[str, Any]) -> str:
    """`` (path parameter `name`: `string`)`` for an operation with path parameters, else nothing."""
    params = [f"`{p['name']}`: {type_of(p.get('schema', {}))}" for p in operation.get("parameters", [])]
    return f" (path parameter {', '.join(params)})" if params else ""


def _group_key(operation: dict[str, Any]) -> str:
    """Operations that differ only by their id and path parameters are one entry (the platform aliases)."""
    same = {k: v for k, v in operation.items() if k not in ("operationId", "parameters")}
    return json.dumps(same, sort_keys=True)


def _operation_markdown(members: list[tuple[str, str, dict[str, Any]]], guarded: dict[str, Any]) -> list[str]:
    """One operation (and the alias paths that share it): summary, description, security, body, responses."""
    path, method, operation = members[0]
    out = [f"### `{method.upper()} {path}` {{#{_slug(f'{method} {path}')}}}", ""]
    if len(members) > 1:
        aliases = ", ".join(f"`{p}`" + _parameters(op) for p, _, op in members[1:])
        out += [f"Same operation on: {aliases}.", ""]
    out += [f"**{operation.get('summary', '')}**", ""]
    if operation.get("description"):
        out += [operation["description"], ""]
    if operation.get("parameters"):
        out += [f"Path{_parameters(operation).rstrip(')').replace(' (path', '')}.", ""]
    guarded_op = guarded["paths"].get(path, {}).get(method, {})
    if guarded_op.get("security"):
        out += ["With API keys on, it needs `Authorization: Bearer <key>`.", ""]
    out += _request_body(operation)
    return [*out, "**Responses**", "", *_responses(operation["responses"], guarded_op.get("responses", {})), ""]


def _schema_markdown(name: str, schema: dict[str, Any]) -> list[str]:
    out = [f"### {name} {{#{_schema_anchor(name)}}}", ""]
    if schema.get("description"):
        out += [schema["description"], ""]
    rows = fields_table(schema)
    out += [*rows, ""] if rows else [f"Type: {type_of(schema)}.", ""]
    return out + _object_notes(schema)


def openapi_markdown(plain: dict[str, Any], guarded: dict[str, Any]) -> str:
    """The endpoint reference: every path and method, summaries, request bodies, responses and every schema."""
    groups: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, methods in plain["paths"].items():
        for method, operation in methods.items():
            groups.setdefault(_group_key(operation), []).append((path, method, operation))
    out = [
        f"Generated from the OpenAPI {plain['openapi']} document the server publishes at `GET /openapi.json` "
        f"(title “{plain['info']['title']}”, default settings; the Vertex AI routes shown under "
        f"`{VERTEX_ROUTES['vertex_predict_route']}` and `{VERTEX_ROUTES['vertex_health_route']}`). "
        "Download it: [openapi.json](openapi.json).",
        "",
        "## Endpoints",
        "",
        "| Method | Path | Summary |",
        "| --- | --- | --- |",
    ]
    for members in groups.values():
        anchor = _slug(f"{members[0][1]} {members[0][0]}")
        for path, method, operation in members:
            out.append(f"| {method.upper()} | [`{path}`](#{anchor}) | {_cell(operation.get('summary', ''))} |")
    out.append("")
    for members in groups.values():
        out += _operation_markdown(members, guarded)
    out += ["## Schemas", ""]
    for name, schema in plain["components"]["schemas"].items():
        out += _schema_markdown(name, schema)
    return "\n".join(out).rstrip() + "\n"


def _object_notes(schema: dict[str, Any]) -> list[str]:
    """A closed object's rule, and the fields of its nested objects."""
    notes = []
    if schema.get("additionalProperties") is False:
        notes += ["No other field is allowed (in a request body, an unknown field is a 400 that names it).", ""]
    for name, prop in schema.get("properties", {}).items():
        if prop.get("type") == "object" and prop.get("properties"):
            notes += [f"`{name}` holds:", "", *fields_table(prop), ""]
    return notes


# --- the configuration table ----------------------------------------------------------------------------------


def env_table_markdown() -> str:
    from inference.env_table import env_table

    return env_table() + "\n"


GENERATORS = {
    "openapi": lambda: openapi_markdown(*openapi_documents()),
    "env-table": env_table_markdown,
}


def render_markers(markdown: str) -> str:
    """Replace every ``<!-- generated: NAME -->`` line; an unknown name is an error."""

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in GENERATORS:
            raise ValueError(f"unknown generated block {name!r}; known: {', '.join(GENERATORS)}")
        return GENERATORS[name]().rstrip("\n")

    return MARKER.sub(replace, markdown)


# --- MkDocs events --------------------------------------------------------------------------------------------


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    try:
        return render_markers(markdown)
    except ValueError as err:
        from mkdocs.exceptions import PluginError

        raise PluginError(f"{page.file.src_uri}: {err}") from err


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    document = json.dumps(openapi_documents()[0], indent=2) + "\n"
    files.append(File.generated(config, "api/openapi.json", content=document))
    return files
