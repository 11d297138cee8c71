"""What every response must be: a 4xx JSON error that matches the published ``Error`` schema, or a 200
whose body matches the published response schema and carries the right vectors (checked against
single-input requests)."""

from __future__ import annotations

import base64
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from jsonschema import Draft202012Validator

from inference.core.types import ModelInfo
from inference.endpoints.embeddings.schema import EmbeddingsRequest
from inference.endpoints.embeddings.service import JINA_TASKS


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


def as_request(body: Any) -> Any:
    """The Jina SageMaker form ``{"data", "parameters"}`` is the same request in another shape."""
    if isinstance(body, dict) and "input" not in body and "data" in body:
        return {**(body.get("parameters") or {}), "input": body["data"]}
    return body


def check_vector(name: str, vector: np.ndarray, dimensions: int, normalized: bool) -> None:
    if name in ("float", "base64"):
        assert vector.shape == (dimensions,), f"{name}: {vector.shape} is not ({dimensions},)"
        assert np.isfinite(vector).all(), f"{name}: non-finite values"
        if normalized:
            assert abs(np.linalg.norm(vector) - 1) < 1e-3, f"{name}: norm {np.linalg.norm(vector)} is not 1"
        return
    low, high = (-128, 127) if name in ("binary", "int8") else (0, 255)
    packed = name in ("binary", "ubinary")  # sign bits packed 8 per byte; int8 / uint8: one byte per dimension
    width = -(-dimensions // 8) if packed else dimensions
    assert vector.shape == (width,), f"{name}: {vector.shape} for {dimensions} dimensions"
    assert (vector == np.round(vector)).all() and low <= vector.min() and vector.max() <= high, name


def check_embeddings(body: Any, payload: dict[str, Any], info: ModelInfo) -> None:
    """A 200 carries real embeddings: one per input, finite, of the asked (or the model's) dimensions, unit-norm
    unless ``normalized`` is false, and a token usage between 1 and the inputs' ``max_length`` budget."""
    request = as_request(body)
    items = request["input"] if isinstance(request["input"], list) else [request["input"]]
    assert [d["index"] for d in payload["data"]] == list(range(len(items)))
    dimensions = request.get("dimensions") or info.dimensions
    types, as_dict = requested_types(request)
    for entry in payload["data"]:
        for name, vector in vectors(entry["embedding"], types, as_dict).items():
            check_vector(name, vector, dimensions, request.get("normalized", True))
    usage = payload["usage"]
    bound = len(items) * info.max_length if request.get("long_input") is None else math.inf  # split: every window
    assert 0 < usage["prompt_tokens"] == usage["total_tokens"] <= bound, usage


REQUEST_FIELDS = frozenset({*EmbeddingsRequest.model_fields, "data", "parameters"})
GENERIC_MESSAGES = ("could not understand", "internal server error", "Traceback")


def check_error_is_meaningful(error: dict[str, Any]) -> None:
    """An error says what is wrong: a real sentence (not a framework's generic text), and when it blames a
    ``param``, that is a request field the message names."""
    message = error["message"]
    assert error["type"] != "internal_error" and len(message.strip()) >= 10, error
    assert not any(text in message for text in GENERIC_MESSAGES), error
    param = error.get("param")
    if param is not None:
        root = re.split(r"[\[.]", param, maxsplit=1)[0]
        assert root in REQUEST_FIELDS and root in message, error



@dataclass(frozen=True)
class Refusal:
    """A reason the server may refuse a request for: the error's ``param`` (a regex; None: no param), a regex its
    message must match, the status; ``more_than``: the message's first number must exceed it (a token count).
    ``certain``: the request is wrong for sure (else it may be: an input too long for the model, say)."""

    param: str | None
    message: str
    more_than: int | None = None
    status: int = 400
    certain: bool = True

    def matches(self, status: int, error: dict[str, Any]) -> bool:
        if status != self.status:
            return False
        param = error.get("param")
        if (param is None) != (self.param is None) or (param is not None and not re.fullmatch(self.param, param)):
            return False
        found = re.search(self.message, error["message"])
        return bool(found) and (self.more_than is None or int(found.group(1)) > self.more_than)


NOT_JSON = Refusal(None, r"^request body is not valid JSON: ")


def text_refusals(i: int, text: str, truncate: bool, info: ModelInfo) -> list[Refusal]:
    refusals = []
    if any("\ud800" <= ch <= "\udfff" for ch in text):  # a lone surrogate: neither valid UTF-8 nor valid JSON
        refusals.append(NOT_JSON)
    if not text.strip():
        refusals.append(Refusal(rf"input\[{i}\]", rf"^input\[{i}\] is empty$"))
    if not truncate:
        too_long = rf"^input\[{i}\] has (\d+) tokens, more than the model's maximum of {info.max_length}; "
        refusals.append(Refusal(rf"input\[{i}\]", too_long, more_than=info.max_length, certain=False))
    return refusals


def option_refusals(body: dict[str, Any], info: ModelInfo) -> list[Refusal]:
    refusals = []
    dimensions = body.get("dimensions")
    if "dimensions" in body and not (type(dimensions) is int and 1 <= dimensions <= info.dimensions):
        refusals.append(Refusal("dimensions", r"^dimensions"))
        if type(dimensions) is int and abs(dimensions) > sys.float_info.max:
            refusals.append(NOT_JSON)  # orjson reads it as a double: infinity
    task = body.get("task")
    if "task" in body and task not in (info.tasks or JINA_TASKS):
        refusals.append(Refusal("task", rf"^unknown task {re.escape(repr(task))}; valid tasks: "))
    if body.get("late_chunking"):
        refusals.append(Refusal(r"input(\[\d+\])?", r"^late_chunking: ", certain=False))
    if body.get("return_multivector") is True:  # an embedding model has no token vectors
        refusals.append(Refusal("return_multivector", r"^return_multivector=true needs a late-interaction"))
    return refusals


def refusals_for(body: dict[str, Any], info: ModelInfo, size: int, max_body_bytes: int) -> list[Refusal]:
    """Every reason a text request ``{"input": [texts], "truncate", options}`` may be refused for: a request
    with no certain one must get a 200 unless a possible one applies, and a refusal must name one of them."""
    refusals = [Refusal(None, r"^request body is larger than", status=413)] if size > max_body_bytes else []
    for i, text in enumerate(body["input"]):
        refusals += text_refusals(i, text, body.get("truncate", True), info)
    return refusals + option_refusals(body, info)


def check_refusal(status: int, payload: dict[str, Any], refusals: list[Refusal]) -> None:
    """A 200 only when nothing is certainly wrong with the request; a refusal names one of its faults, certain or
    possible (so a request with no possible fault must get a 200)."""
    if status == 200:
        assert not any(r.certain for r in refusals), f"accepted a faulty request: {refusals}"
        return
    assert any(r.matches(status, payload["error"]) for r in refusals), f"{status} {payload} is none of {refusals}"


def schema_body_refusals(body: Any, info: ModelInfo, size: int, max_body_bytes: int,
                         max_inputs: int) -> list[Refusal] | None:  # fmt: skip
    """The refusals a schema-shaped request may get, when all of its inputs are texts (None: it holds an image
    or is not an embeddings request, and only the generic oracle applies). Every field the schema allows is
    accounted for, so a text request with no possible fault must get a 200."""
    request = as_request(body)
    if not isinstance(request, dict) or "input" not in request:
        return None
    items = request["input"] if isinstance(request["input"], list) else [request["input"]]
    texts = [item if isinstance(item, str) else item.get("text") if isinstance(item, dict) else None
             for item in items]  # fmt: skip
    if any(not isinstance(text, str) for text in texts):
        return None
    options = {key: value for key, value in request.items() if value is not None}  # null: the field's default
    refusals = refusals_for({**options, "input": texts}, info, size, max_body_bytes)
    if not texts:
        refusals.append(Refusal("input", r"^input is empty"))
    if len(texts) > max_inputs:
        refusals.append(Refusal("input", rf"^{len(texts)} inputs, more than the limit"))
    if "embedding_type" in request and "encoding_format" in request:  # both: they may disagree
        refusals.append(Refusal(r"embedding_type|encoding_format", r".", certain=False))
    return refusals
