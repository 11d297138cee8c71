"""A few megabytes of rerank query against a real server (gunicorn, one worker, a tiny BERT cross-encoder on CPU).

TEI's ``POST /rerank`` with a 5.8 MB query (under the 6 MiB body limit) and 8 documents used to tokenise the query
once per document, in full, before the length check of ``truncate=false`` ran: 400 after 44.8 s with a real
tokenizer, 4.1 GB more memory (here, with the tiny model's word-level tokenizer: 400 after 34 s, +2.3 GB peak;
``truncate=true``: 200 after 38 s, or a 503 past the deadline). Now the query is tokenised once, only as far as
the model's max length needs: the refusal (``truncate=false``) and the scores (``truncate=true``, equal to
``CrossEncoder.predict`` on the query's head, since the query is cut to at most the max length either way) come
back fast. The worker's peak RSS (``VmHWM``, reset through ``/proc/<pid>/clear_refs`` before the request) bounds
the request's memory.
"""

from __future__ import annotations

import numpy as np
import pytest
from sentence_transformers import CrossEncoder

from tests.reliability.harness import Server, clean_env, peak_rss_mib, post_json, reset_peak_rss
from tests.tiny_rerankers import WORDS, build_tiny_bert_reranker

QUERY_BYTES = 5_800_000
DOCUMENTS = [
    "paris is the capital of france",
    "the river",
    "search engine vector query document rank",
    "hello world",
    "bonjour le monde",
    "the best answer",
    "a city on a river",
    "hola mundo",
]
# The goal is under 2 s and 500 MB; measured here: 0.2 s and about 100 MiB (70 of them orjson's peak while
# it decodes a 5.8 MB string), on a shared 2-core machine.
SECONDS_LIMIT = 2.0
PEAK_GROWTH_LIMIT_MIB = 250


def huge_query() -> str:
    words = " ".join(WORDS[i * 7 % len(WORDS)] for i in range(len(WORDS)))
    return (words + " ") * (QUERY_BYTES // (len(words) + 1))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_tiny_bert_reranker(tmp_path_factory.mktemp("huge-query") / "reranker")


@pytest.fixture(scope="module")
def server(folder):
    with Server(clean_env(MODEL_DIR=str(folder))) as server:
        server.wait_ready()
        yield server


def send(server, body):
    """The reply, and the worker's peak RSS growth (MiB) while it was served."""
    [worker] = server.workers()
    reset_peak_rss(worker)
    before = peak_rss_mib(worker)
    reply = post_json(server.port, body, path="/rerank", timeout=120)
    return reply, peak_rss_mib(worker) - before


@pytest.mark.parametrize("truncate", [False, True])
def test_a_huge_query_is_answered_fast_in_bounded_memory(server, folder, truncate):
    query = huge_query()
    assert len(query) > 5_000_000
    body = {"query": query, "texts": DOCUMENTS, "truncate": truncate}
    assert post_json(server.port, {"query": "q", "texts": ["a"]}, path="/rerank").status == 200  # warm
    reply, growth = send(server, body)
    print(f"truncate={truncate}: {reply.status} in {reply.seconds:.2f} s, worker peak RSS +{growth:.0f} MiB")
    if truncate:
        assert reply.status == 200, reply.body[:300]
        head = query[:2000]  # far more words than the max length: the server's query is cut to the same tokens
        expected = CrossEncoder(str(folder), device="cpu").predict([(head, document) for document in DOCUMENTS])
        scores = [item["score"] for item in sorted(reply.json(), key=lambda item: item["index"])]
        np.testing.assert_allclose(scores, expected, atol=1e-5)
    else:
        assert reply.status == 400, reply.body[:300]
        error = reply.json()["error"]
        assert error["param"] == "query" and "more than the model's maximum of 24" in error["message"]
    assert reply.seconds < SECONDS_LIMIT
    assert growth < PEAK_GROWTH_LIMIT_MIB
    assert server.ping() == 200
