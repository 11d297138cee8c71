"""API keys and rate limits on a real server (gunicorn, two workers, the embedded all-MiniLM-L6-v2): the OpenAI
client with the key gets sentence-transformers' vectors, without it a 401; probes and /metrics stay open; a key
file rotated on disk applies at once; one allowance is shared by both workers; no key ever reaches the log."""

from __future__ import annotations

import json
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import openai
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sentence_transformers import SentenceTransformer

from tests.reliability.harness import Server, clean_env

ENV_KEY = "sk-env-7f3a9c2e41d8b605"
SEARCH, BULK, LATE = "sk-search-a1b2c3d4e5f6", "sk-bulk-0f1e2d3c4b5a", "sk-late-99887766554433"
BURST = "sk-burst-5e6f7a8b9c0d1e2f"
TEXTS = ["The quick brown fox jumps over the lazy dog.", "Embeddings map text to vectors."]
TEXTS_WORDS = 14  # what a request of TEXTS reserves: a lower bound of its tokens, from its words
BURST_TPM = 600


def write_keys(path: Path, entries: list[dict[str, object]]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"keys": entries}))
    tmp.replace(path)  # atomic, as editors and the kubelet do


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    write_keys(path, [{"name": "search", "key": SEARCH, "rpm": 20},
                      {"name": "bulk", "key": BULK, "rpm": 10000, "tpm": 120},
                      {"name": "burst", "key": BURST, "rpm": 10000, "tpm": BURST_TPM}])  # fmt: skip
    return path


@pytest.fixture(scope="module")
def server(keys_file: Path):
    env = clean_env(EMB_WORKERS="2", EMB_THREADS="8", EMB_LOG_LEVEL="INFO", EMB_API_KEY=ENV_KEY,
                    EMB_API_KEYS_FILE=str(keys_file))  # fmt: skip
    with Server(env) as running:
        running.wait_ready()
        yield running


def post(server: Server, key: str | None, texts: list[str] = TEXTS) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.post(f"{server.url}/v1/embeddings", json={"input": texts}, headers=headers, timeout=60)


def test_openai_client_with_the_key_gets_the_reference_vectors(server: Server, minilm_dir: Path) -> None:
    client = openai.OpenAI(api_key=ENV_KEY, base_url=f"{server.url}/v1", max_retries=0)
    got = np.array([d.embedding for d in client.embeddings.create(model="all-MiniLM-L6-v2", input=TEXTS).data])
    expected = SentenceTransformer(str(minilm_dir), device="cpu").encode(TEXTS, normalize_embeddings=True)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(api_key="sk-wrong-key-000000", base_url=f"{server.url}/v1", max_retries=0).embeddings.create(
            model="all-MiniLM-L6-v2", input=TEXTS)


def test_without_a_key_401_and_the_open_routes_answer(server: Server) -> None:
    for key in (None, "sk-wrong-key-000000"):
        refused = post(server, key)
        assert refused.status_code == 401 and refused.json()["error"]["type"] == "authentication_error"
        assert refused.headers["WWW-Authenticate"].startswith('Bearer realm="embeddings"')
    refused = requests.post(f"{server.url}/invocations", json={"input": "x"}, timeout=30)
    assert refused.status_code == 401
    for path in ("/ping", "/health/ready", "/health/live", "/openapi.json"):
        assert requests.get(f"{server.url}{path}", timeout=10).status_code == 200, path
    scrape = requests.get(f"{server.url}/metrics", timeout=10)
    assert scrape.status_code == 200
    families = {family.name: family for family in text_string_to_metric_families(scrape.text)}
    refused_counts = [s for s in families["embed_requests"].samples
                      if s.name == "embed_requests_total" and s.labels["status"] == "401"]  # fmt: skip
    assert sum(s.value for s in refused_counts) >= 3


def test_one_allowance_across_both_workers(server: Server) -> None:
    """30 concurrent requests, each on its own connection (spread over both workers): exactly the key's 20 pass,
    plus one per 3 s the burst took (the bucket refills at 20 a minute: none on a machine that keeps up)."""
    started = time.monotonic()
    with ThreadPoolExecutor(10) as pool:
        replies = list(pool.map(lambda _: post(server, SEARCH, ["x"]), range(30)))
    refilled = math.floor((time.monotonic() - started) * 20 / 60)
    statuses = sorted(reply.status_code for reply in replies)
    passed = statuses.count(200)
    assert 20 <= passed <= 20 + refilled and statuses == [200] * passed + [429] * (30 - passed), (statuses, refilled)
    limited = next(reply for reply in replies if reply.status_code == 429)
    assert limited.json()["error"]["type"] == "rate_limit_exceeded"
    assert int(limited.headers["Retry-After"]) >= 1 and limited.headers["X-RateLimit-Limit-Requests"] == "20"
    served_by = {record["pid"] for record in server.log_records()
                 if record.get("key") == "search" and record.get("status") == 200}  # fmt: skip
    assert len(served_by) == 2, "both workers served the key's requests"


def test_tokens_per_minute_reached_first(server: Server) -> None:
    used, statuses = 0, []
    while len(statuses) < 60 and (not statuses or statuses[-1] == 200):
        reply = post(server, BULK, TEXTS)
        statuses.append(reply.status_code)
        if reply.status_code == 200:
            used += reply.json()["usage"]["total_tokens"]
            assert int(reply.headers["X-RateLimit-Limit-Tokens"]) == 120
    assert statuses[-1] == 429 and int(reply.headers["X-RateLimit-Remaining-Tokens"]) < TEXTS_WORDS
    assert "120 tokens per minute" in reply.json()["error"]["message"]
    assert f"this request needs {TEXTS_WORDS} tokens" in reply.json()["error"]["message"]
    assert int(reply.headers["X-RateLimit-Remaining-Requests"]) > 9000  # the request limit was far away
    assert used > 120 - TEXTS_WORDS  # admitted while the bucket covered the estimate (plus what refilled meanwhile)


def test_concurrent_requests_do_not_overshoot_tokens_per_minute(server: Server) -> None:
    """16 requests at once (one per app thread of the two workers), each reserving 120 tokens (its words) of a
    600-token minute: the usage they are charged exceeds the allowance (and what refilled meanwhile) by less than
    one request's estimate. Admitting while any token was left let all of them through, 2048 tokens."""
    texts = ["hello " * 30] * 4  # 120 words; the model's usage is 128 (with [CLS] and [SEP])
    gate = threading.Barrier(16)

    def burst(_: int) -> requests.Response:
        gate.wait(timeout=60)
        return post(server, BURST, texts)

    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(burst, range(16)))
    refilled = (time.monotonic() - started) * BURST_TPM / 60
    statuses = [reply.status_code for reply in replies]
    assert set(statuses) == {200, 429}, statuses
    used = sum(reply.json()["usage"]["total_tokens"] for reply in replies if reply.status_code == 200)
    assert BURST_TPM - 120 < used <= BURST_TPM + refilled + 120, (used, refilled, statuses)


def test_a_rotated_key_file_applies_without_restart(server: Server, keys_file: Path) -> None:
    assert post(server, LATE).status_code == 401
    write_keys(keys_file, [{"name": "late", "key": LATE}])  # search and bulk revoked, late added
    assert post(server, LATE).status_code == 200
    assert post(server, SEARCH).status_code == 401
    assert post(server, ENV_KEY).status_code == 200  # EMB_API_KEY is not in the file: unaffected


def test_no_key_reaches_the_log(server: Server) -> None:
    post(server, "sk-wrong-key-000000")
    log = server.log_text()
    for key in (ENV_KEY, SEARCH, BULK, BURST, LATE, "sk-wrong-key-000000"):
        assert key not in log
    assert any(record.get("key") == "default" for record in server.log_records())  # keys appear by name


def test_a_bad_key_file_stops_the_server_before_it_starts(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text('{"keys": [{"key": "sk-typo-in-file-1234", "rpm": "many"}]}')
    with Server(clean_env(EMB_API_KEYS_FILE=str(path))) as server:
        assert server.proc is not None and server.proc.wait(timeout=60) != 0
        log = server.log_text()
    assert f"EMB_API_KEYS_FILE {path}: keys.0.rpm" in log and "sk-typo-in-file-1234" not in log
