#!/usr/bin/env python3
"""Summarise an embeddings response read from stdin (used by container/local.sh): model, vectors, a few values."""

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


def main() -> int:
    text = sys.stdin.read()
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        print(f"  (not JSON) {text[:300]}")
        return 1
    if "error" in body or "data" not in body:
        print(f"  {json.dumps(body)[:500]}")
        return 1
    print(f"  model={body.get('model')} vectors={len(body['data'])} usage={body.get('usage')}")
    for item in body["data"]:
        print(f"  [{item['index']}] {describe(item['embedding'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
