"""Hypothesis strategies for the fuzz suite: request bodies drawn from the published OpenAPI schema,
hostile unicode, huge numbers, arbitrary JSON, mutated and truncated bytes, content types.

``from_schema`` walks the JSON Schema subset that pydantic emits (``$ref``, ``anyOf``, ``type``, ``enum``,
``const``, ``minimum``, ``minItems``/``maxItems``, ``properties``/``required``/``additionalProperties``), so
the generated bodies follow whatever ``GET /openapi.json`` publishes.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

# Strings that broke text services before: NUL and control characters, bidi overrides, zero-width and
# joiner sequences, combining marks, BOM, non-characters, astral planes, very long words.
HOSTILE_TEXTS = [
    "\x00", "a\x00b", "\x01\x02\x1f\x7f", "\u202eevil\u202c", "\u200f\u05e9\u05dc\u05d5\u05dd", "\u200b\u200c\u200d",
    "\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466", "e\u0301" * 300, "\ufeffbom", "\ufffe\uffff",
    "\U0010fffd", "Z\u0351\u0352\u0353" * 200, "x" * 100_000, "word " * 20_000, "\t\n\r\x0b\x0c text",
    "\u0000\u0000\u0000", "日本語のテキスト", "🙂" * 5000, "\\u0000", "null", "</script>", "%s%n%x", "' OR 1=1 --",
]
LONE_SURROGATES = ["\ud800", "a\udfffb", "\udbff"]  # invalid in UTF-8: only JSON escapes can carry them
HUGE_NUMBERS = [
    0, -1, 1, 2**31, 2**63 - 1, 2**63, -(2**63), 2**64, 10**30, 10**400, 1e308, -1e308, 5e-324, 0.5, 1.0, -0.0,
]
CONTENT_TYPES = [
    None, "", "application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "application/json;;",
    "application/jsonlines", "text/csv", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
    "application/octet-stream", "image/png", "application/xml", "*/*", "application/", "json", ";", "\x7f",
    "application/json; charset=latin-1", "application/vnd.api+json", "application/x-ndjson",
]
ACCEPTS = [None, "", "*/*", "application/json", "application/jsonlines", "text/html", "application/*;q=0.1",
           "application/json;q=0", "application/json;q=abc", "application/jsonlines, application/json;q=0.5", ","]


def text_strategy(max_size: int = 40, surrogates: bool = False) -> st.SearchStrategy[str]:
    """Plain and hostile text; ``surrogates`` adds lone surrogates (never valid UTF-8: always a 400)."""
    extra = [st.sampled_from(LONE_SURROGATES)] if surrogates else []
    return st.one_of(
        *extra,
        st.text(max_size=max_size),
        st.text(st.characters(codec="utf-8"), min_size=1, max_size=max_size),
        st.sampled_from(HOSTILE_TEXTS),
        st.lists(st.sampled_from(["alpha", "beta", "gamma", "delta", "über", "東京", "🙂"]), min_size=1,
                 max_size=12).map(" ".join),
    )


def _scalar(kind: str, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if kind == "string":
        return text_strategy()
    if kind == "integer":
        low = schema.get("minimum")
        return st.one_of(st.integers(min_value=low, max_value=(low or 0) + 64), st.sampled_from(HUGE_NUMBERS))
    if kind == "number":
        return st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(HUGE_NUMBERS))
    return st.booleans() if kind == "boolean" else st.none()


def from_schema(schema: dict[str, Any], root: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """A strategy for instances of ``schema`` (refs resolved in ``root``, an OpenAPI document)."""
    if "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        return from_schema(node, root, depth + 1)
    if "anyOf" in schema:
        return st.one_of([from_schema(branch, root, depth + 1) for branch in schema["anyOf"]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind in ("string", "integer", "number", "boolean", "null"):
        return _scalar(kind, schema)
    if kind == "array":
        items = from_schema(schema.get("items", {}), root, depth + 1)
        low = schema.get("minItems", 0)
        return st.lists(items, min_size=low, max_size=min(schema.get("maxItems", low + 6), low + 6))
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = set(schema.get("required", ()))
        fixed = {k: from_schema(v, root, depth + 1) for k, v in properties.items() if k in required}
        optional = {k: from_schema(v, root, depth + 1) for k, v in properties.items() if k not in required}
        return st.fixed_dictionaries(fixed, optional=optional)
    return json_values()


def json_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Arbitrary JSON: any shape, hostile strings and huge numbers at the leaves."""
    leaves = st.one_of(
        st.none(), st.booleans(), st.sampled_from(HUGE_NUMBERS), st.integers(), st.floats(allow_nan=False),
        text_strategy(surrogates=True),
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(text_strategy(10), inner, max_size=5)),
        max_leaves=max_leaves,
    )


# Keys the server knows, so arbitrary values land on real fields often.
KNOWN_KEYS = ["input", "data", "parameters", "model", "task", "dimensions", "normalized", "embedding_type",
              "encoding_format", "truncate", "late_chunking", "user", "text", "image"]


def shaped_bodies() -> st.SearchStrategy[Any]:
    """Objects with the server's keys holding values of any JSON shape."""
    return st.one_of(
        json_values(),
        st.dictionaries(st.sampled_from(KNOWN_KEYS), json_values(8), min_size=1, max_size=6),
        st.fixed_dictionaries({"input": json_values(8)}),
        st.fixed_dictionaries({"data": json_values(8), "parameters": json_values(8)}),
    )


def encode_json(value: Any, ensure_ascii: bool) -> bytes:
    """JSON bytes; lone surrogates survive as escapes (ASCII) or as invalid UTF-8 (surrogatepass)."""
    return json.dumps(value, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")


@st.composite
def mutated(draw: st.DrawFn, body: bytes) -> bytes:
    """``body`` truncated, with bytes flipped, inserted or deleted, or duplicated."""
    how = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "double", "prefix"]))
    if not body:
        return draw(st.binary(max_size=64))
    at = draw(st.integers(0, len(body) - 1))
    if how == "truncate":
        return body[:at]
    if how == "flip":
        return body[:at] + bytes([body[at] ^ draw(st.integers(1, 255))]) + body[at + 1 :]
    if how == "insert":
        return body[:at] + draw(st.binary(min_size=1, max_size=8)) + body[at:]
    if how == "delete":
        return body[:at] + body[at + draw(st.integers(1, 8)) :]
    if how == "double":
        return body + body
    return draw(st.sampled_from([b"\xef\xbb\xbf", b"\x00", b" ", b"\xff\xfe"])) + body
