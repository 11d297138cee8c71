"""What every response must be: a 4xx JSON error that matches the published ``Error`` schema, or a 200
whose body matches the published response schema and carries the right vectors (checked against
single-input requests)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
from jsonschema import Draft202012Validator


class Oracle:
    def __init__(self, spec: dict[str, Any]) -> None:
        def validator(name: str) -> Draft202012Validator:
            return Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": spec["components"]})

        self.error = validator("Error")
        self.embeddings = validator("EmbeddingsResponse")
        self.embedding = validator("Embedding")

    def check(self, status: int, content_type: str | None, body: bytes, context: object = "") -> Any:
        """Assert the response is a 4xx JSON error or a schema-valid 200; return the parsed body."""
        where = f"{status} {content_type!r} {body[:300]!r} for {str(context)[:300]}"
        assert status == 200 or 400 <= status < 500, f"unexpected status: {where}"
        mime = (content_type or "").split(";")[0].strip()
        if status != 200 or mime == "application/json":
            assert mime == "application/json", f"not JSON: {where}"
            payload = orjson.loads(body)
            (self.error if status != 200 else self.embeddings).validate(payload)
            return payload
        assert mime == "application/jsonlines", f"unexpected 200 type: {where}"
        lines = [orjson.loads(line) for line in body.split(b"\n") if line]
        for line in lines:
            self.embedding.validate(line)
        return {"data": lines}


def vectors(entry: Any, types: tuple[str, ...], as_dict: bool) -> dict[str, np.ndarray]:
    """The encoded embeddings of one ``data`` entry, decoded to arrays per type."""
    values = entry if as_dict else {types[0]: entry}
    out = {}
    for name, value in values.items():
        if name == "base64":
            out[name] = np.frombuffer(base64.b64decode(value), dtype="<f4")
        else:
            out[name] = np.asarray(value, dtype=np.float64)
    return out


def requested_types(body: dict[str, Any]) -> tuple[tuple[str, ...], bool]:
    requested = body.get("embedding_type")
    if requested is None:
        requested = body.get("encoding_format") or "float"
    if isinstance(requested, list):
        return tuple(dict.fromkeys(requested)), True
    return (requested,), False


def check_against_singles(
    body: dict[str, Any], response: dict[str, Any], embed_one: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    """Each input's embedding equals the embedding of that input sent alone with the same options."""
    items = body["input"] if isinstance(body["input"], list) else [body["input"]]
    assert [d["index"] for d in response["data"]] == list(range(len(items)))
    if body.get("late_chunking"):
        return  # contextual by design: an input's vector depends on its neighbours
    types, as_dict = requested_types(body)
    for item, entry in zip(items, response["data"], strict=True):
        single = embed_one({**body, "input": [item]})
        got, want = vectors(entry["embedding"], types, as_dict), vectors(single["data"][0]["embedding"], types, as_dict)
        assert got.keys() == want.keys()
        for name in got:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6, err_msg=f"{name} of {item!r}")
