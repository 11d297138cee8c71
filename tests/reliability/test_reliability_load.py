"""Nothing lost under concurrent load: every input gets exactly its own vector, in order, checked against
the vector the same server returns for that input sent alone. Real gunicorn server, real model, real HTTP."""

from __future__ import annotations

import random

import numpy as np
import orjson

from tests.reliability.harness import closed_loop, post_json

SUBJECTS = ["The cat", "A stock market", "Quantum physics", "My grandmother", "The new phone", "Rain in Berlin",
            "Der Zug", "La cuisine", "東京の夜", "A long meeting", "The football match", "Compilers"]
VERBS = ["surprised", "bored", "changed", "confused", "delighted", "worried"]
OBJECTS = ["everyone at dinner", "the committee", "three engineers", "a small village", "the quiet reader",
           "nobody at all", "the night shift"]
CLIENTS, REQUESTS = 8, 8


def corpus(n: int, seed: int = 7) -> list[str]:
    """Distinct sentences of varied length (so micro-batches mix paddings)."""
    rng = random.Random(seed)
    texts: set[str] = set()
    while len(texts) < n:
        head = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
        tail = " and ".join(rng.choice(OBJECTS) for _ in range(rng.randrange(0, 6)))
        texts.add(f"{head} {tail}".strip())
    return sorted(texts)


def vectors(body: bytes) -> np.ndarray:
    data = orjson.loads(body)["data"]
    assert [d["index"] for d in data] == list(range(len(data)))
    return np.array([d["embedding"] for d in data], dtype=np.float32)


def test_every_input_gets_its_own_vector_in_order_under_concurrent_load(minilm_server):
    texts = corpus(32)
    singles = {}
    for text in texts:
        reply = post_json(minilm_server.port, {"input": [text]})
        assert reply.status == 200, reply.body
        singles[text] = vectors(reply.body)[0]
    reference = np.stack([singles[t] for t in texts])
    assert (reference @ reference.T - 2 * np.eye(len(texts))).max() < 0.999  # distinct: a swap would show

    rng = random.Random(1)
    plans = {(c, i): rng.sample(texts, rng.randint(1, 6)) for c in range(CLIENTS) for i in range(REQUESTS)}

    def body(client: int, i: int) -> bytes:
        return orjson.dumps({"input": plans[(client, i)]})

    def check(client: int, i: int, status: int, payload: bytes) -> str | None:
        if status != 200:
            return f"{client}:{i} status {status}: {payload[:200]!r}"
        got = vectors(payload)
        want = np.stack([singles[t] for t in plans[(client, i)]])
        if got.shape != want.shape:
            return f"{client}:{i} shape {got.shape} != {want.shape}"
        cos = (got * want).sum(1)
        return None if cos.min() >= 0.9999 else f"{client}:{i} cosines {cos.round(5).tolist()}"

    stats = closed_loop(minilm_server.port, body, clients=CLIENTS, requests_per_client=REQUESTS, max_seconds=300,
                        check=check)
    assert not stats.errors and not stats.bad_bodies, (stats.errors[:3], stats.bad_bodies[:3])
    assert len(stats.results) == len(plans) == stats.count(200)
