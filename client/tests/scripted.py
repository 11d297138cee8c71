"""``Scripted``: a real ``http.server`` that first plays queued replies (errors) and then answers
embeddings whose values encode each input text (rerank bodies: a score that encodes each document, results
in the server's order), so order and splitting are checkable. Vertex AI ``:predict`` bodies (``instances`` and
``parameters``) get Vertex's answer: ``predictions[i]`` = the native ``data[i]["embedding"]`` (rerank: the
``results`` of the one instance), with Vertex's own fields around them."""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import numpy as np


def text_vector(text: str) -> np.ndarray:
    """What the scripted server embeds ``text`` as: its length, first code point, and a sign pattern."""
    return np.array([len(text), ord(text[0]), -1.5, 0.25, 3, -2, 1, -1], dtype=np.float32)


def expected(texts: list[str]) -> np.ndarray:
    """The scripted server's vectors for ``texts``, in order."""
    return np.stack([text_vector(text) for text in texts])


def recording(client: Any) -> list[float]:
    """Record the client's backoff sleeps instead of sleeping; jitter fixed at 0.5."""
    sleeps: list[float] = []
    client._sleep, client._random = sleeps.append, lambda: 0.5
    return sleeps


def send_json(handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str]) -> None:
    """Answer ``handler``'s request with ``body`` as JSON (HTTP/1.1, with its length)."""
    payload = json.dumps(body).encode()
    handler.send_response(status)
    for key, value in {"Content-Type": "application/json", **headers}.items():
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


def text_score(document: str) -> float:
    """What the scripted server scores ``document`` as (whatever the query): shorter is better, ties happen."""
    return 1.0 / len(document)


def _rerank(request: dict[str, Any]) -> dict[str, Any]:
    scores = [text_score(document) for document in request["documents"]]
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[: request.get("top_n")]
    results = [{"index": i, "relevance_score": scores[i]} for i in order]
    if request.get("return_documents", True):
        for result in results:
            result["document"] = {"text": request["documents"][result["index"]]}
    tokens = sum(len(request["query"].split()) + len(document.split()) for document in request["documents"])
    return {"model": "scripted-reranker", "object": "list", "usage": {"total_tokens": tokens}, "results": results}


def _encode(vector: np.ndarray, kind: str) -> Any:
    if kind == "float":
        return vector.tolist()
    if kind == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode()
    packed = np.packbits(vector > 0)
    return packed.tolist() if kind == "ubinary" else (packed.astype(np.int16) - 128).tolist()


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Scripted:
    """The scripted server's URL, the replies still queued, and the requests it has seen."""

    url: str
    queue: list[Reply] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        request = json.loads(body)
        with self.lock:
            self.seen.append({"path": path, "headers": headers, "body": request, "size": len(body)})
            if self.queue:
                return self.queue.pop(0)
        if "instances" in request:
            return Reply(200, _vertex_predict(request))
        return _native(request)

    def answer_get(self, path: str, headers: dict[str, str]) -> Reply:
        """A GET (a Vertex endpoint resource read): the next queued reply, recorded with ``body`` None."""
        with self.lock:
            self.seen.append({"path": path, "headers": headers, "body": None, "size": 0})
            return self.queue.pop(0) if self.queue else Reply(404, {"error": {"code": 404, "status": "NOT_FOUND"}})


def _native(request: dict[str, Any]) -> Reply:
    if "query" in request:
        return Reply(200, _rerank(request))
    types = request["embedding_type"]
    data = [
        {"object": "embedding", "index": i, "embedding": {kind: _encode(text_vector(text), kind) for kind in types}}
        for i, text in enumerate(request["input"])
    ]
    return Reply(200, {"object": "list", "model": "scripted", "data": data, "usage": {"prompt_tokens": 1}})


VERTEX_FIELDS = {"deployedModelId": "4242", "model": "projects/p/locations/r/models/7",
                 "modelDisplayName": "scripted-vertex", "modelVersionId": "1"}  # fmt: skip


def _vertex_predict(request: dict[str, Any]) -> dict[str, Any]:
    """Vertex ``:predict``: ``{"instances", "parameters"}`` -> ``{"predictions", ...}`` (one per instance)."""
    parameters = request.get("parameters", {})
    instances = request["instances"]
    if instances and isinstance(instances[0], dict) and "query" in instances[0]:
        predictions = [_native({**parameters, **instance}).body["results"] for instance in instances]
    else:
        predictions = [entry["embedding"] for entry in _native({**parameters, "input": instances}).body["data"]]
    return {"predictions": predictions, **VERTEX_FIELDS}


def handler_for(state: Scripted) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            reply = state.answer(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            send_json(self, reply.status, reply.body, reply.headers)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            reply = state.answer_get(self.path, {k.lower(): v for k, v in self.headers.items()})
            send_json(self, reply.status, reply.body, reply.headers)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
