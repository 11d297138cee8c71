#!/usr/bin/env python3
"""Summarise a response read from stdin (used by container/local.sh): an embeddings response (model, vectors, a few
values), a rerank response (Jina/Cohere ``{"results": [...]}`` or TEI's ``[{"index", "score"}]``: the ranking), a
multi-vector response (Jina's ``{"data": [{"embeddings": [...token vectors...]}]}``: tokens and width per input) or
a classification (Jina's ``{"data": [{"prediction", "predictions"}]}`` or TEI's ``[{"score", "label"}]`` per input)
or a sparse (SPLADE) response (TEI's ``[[{"index", "value"}, ...], ...]``: nonzero entries and the largest per input).

The samples of the other kinds are in container/samples/rerank/, multivector/, classify/ and sparse/ (the embedding
samples above would get 400 wrong_model_kind from them):

    for f in container/samples/rerank/*.json; do
      curl -s -H 'Content-Type: application/json' --data-binary "@$f" localhost:8080/invocations \
        | container/samples/show.py
    done
"""

from __future__ import annotations

import base64
import json
import math
import struct
import sys


def describe(embedding: object) -> str:
    if isinstance(embedding, str):  # base64 float32
        raw = base64.b64decode(embedding)
        values = struct.unpack(f"<{len(raw) // 4}f", raw)
        return f"base64  {len(values)} dims, first {[round(v, 4) for v in values[:4]]}"
    if isinstance(embedding, dict):
        return " | ".join(f"{name}: {describe(value)}" for name, value in embedding.items())
    values = list(embedding)  # type: ignore[call-overload]
    if values and all(isinstance(v, int) for v in values):
        return f"{len(values)} packed bytes ({len(values) * 8} bits), first {values[:4]}"
    norm = math.sqrt(sum(v * v for v in values))
    return f"float   {len(values)} dims, norm {norm:.4f}, first {[round(v, 4) for v in values[:4]]}"


def ranking(results: list) -> list[str]:
    """One line per result, best first: index, score and the start of the document when it was returned."""
    lines = []
    for item in results:
        score = item.get("relevance_score", item.get("score"))
        document = item.get("document", {}).get("text") if isinstance(item.get("document"), dict) else item.get("text")
        shown = f"  {document[:60]!r}" if isinstance(document, str) else ""
        lines.append(f"  [{item['index']}] score {score:.4f}{shown}")
    return lines


def tokens(embeddings: object) -> str:
    """One input's token vectors (a list per token, or an object keyed by type): how many, and the first one."""
    if isinstance(embeddings, dict):
        return " | ".join(f"{name}: {tokens(value)}" for name, value in embeddings.items())
    vectors = list(embeddings)  # type: ignore[call-overload]
    return f"{len(vectors)} token vectors, first: {describe(vectors[0])}" if vectors else "0 token vectors"


def labels(scores: list[dict[str, object]]) -> str:
    """A classification's labels and scores, as given (TEI: best first)."""
    return ", ".join(f"{item['label']} {item['score']:.4f}" for item in scores)


def is_sparse(body: object) -> bool:
    """TEI's sparse answer: per input, a list of its nonzero ``{"index", "value"}`` entries."""
    return isinstance(body, list) and bool(body) and all(
        isinstance(entries, list) and all(isinstance(e, dict) and "index" in e and "value" in e for e in entries)
        for entries in body)


def sparse(entries: list[dict[str, float]]) -> str:
    """One input's sparse vector: how many nonzero entries, and the largest few (vocabulary index: weight)."""
    top = sorted(entries, key=lambda e: e["value"], reverse=True)[:4]
    shown = ", ".join(f"{e['index']}: {e['value']:.4f}" for e in top)
    return f"{len(entries)} nonzero, largest {shown}" if entries else "0 nonzero"


def is_tei_labels(body: object) -> bool:
    return isinstance(body, list) and bool(body) and all(isinstance(i, dict) and "label" in i for i in body)


def show_list(body: list) -> int:
    """A TEI answer (a JSON array): a classification, sparse vectors or a ranking."""
    if is_tei_labels(body) or (body and all(is_tei_labels(item) for item in body)):
        batch = body if not is_tei_labels(body) else [body]  # TEI /predict: one input's list, or one per input
        print(f"  inputs={len(batch)} (TEI classification, best first)")
        print(*(f"  [{index}] {labels(scores)}" for index, scores in enumerate(batch)), sep="\n")
        return 0
    if is_sparse(body):  # TEI /embed_sparse
        print(f"  inputs={len(body)} (sparse vectors)")
        print(*(f"  [{index}] {sparse(entries)}" for index, entries in enumerate(body)), sep="\n")
        return 0
    if all(isinstance(item, dict) and "score" in item for item in body):  # TEI /rerank
        print(f"  results={len(body)} (TEI format)", *ranking(body), sep="\n")
        return 0
    print(f"  {json.dumps(body)[:500]}")
    return 1


def main() -> int:
    text = sys.stdin.read()
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        print(f"  (not JSON) {text[:300]}")
        return 1
    if isinstance(body, list):
        return show_list(body)
    if isinstance(body, dict) and isinstance(body.get("results"), list):  # Jina/Cohere rerank
        print(f"  model={body.get('model')} results={len(body['results'])} usage={body.get('usage')}")
        print(*ranking(body["results"]), sep="\n")
        return 0
    if not isinstance(body, dict):
        print(f"  {json.dumps(body)[:500]}")
        return 1
    if "error" in body or "data" not in body:
        print(f"  {json.dumps(body)[:500]}")
        return 1
    items = [item for item in body["data"] if isinstance(item, dict)]
    if items and all("prediction" in item for item in items):  # Jina classification
        print(f"  inputs={len(items)} usage={body.get('usage')}")
        for item in items:
            print(f"  [{item['index']}] {item['prediction']} {item['score']:.4f}  ({labels(item['predictions'])})")
        return 0
    if items and all("embeddings" in item for item in items):  # Jina multi-vector
        print(f"  model={body.get('model')} inputs={len(items)} usage={body.get('usage')}")
        for item in items:
            print(f"  [{item['index']}] {tokens(item['embeddings'])}")
        return 0
    print(f"  model={body.get('model')} vectors={len(body['data'])} usage={body.get('usage')}")
    for item in body["data"]:
        print(f"  [{item['index']}] {describe(item['embedding'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
