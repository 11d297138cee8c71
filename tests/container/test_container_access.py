"""`docker run -e EMB_API_KEY=...`: the image refuses calls without the key (401 + WWW-Authenticate), serves the
reference vectors with it, leaves /ping and /metrics open, applies a rate limit, and never logs the key."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from container_harness import TEXTS, Container, assert_matches_reference, floats

pytestmark = pytest.mark.container

KEY = "sk-container-5d41402abc4b2a76b9719d91"


@pytest.fixture(scope="module")
def keyed(image: str, unique: str) -> Iterator[Container]:
    container = Container.run(image, f"embed-test-keys-{unique}", docker_args=(
        "-e", f"EMB_API_KEY={KEY}", "-e", "EMB_RATE_LIMIT_RPM=5", "-e", "EMB_WORKERS=2"))  # fmt: skip
    try:
        container.wait_ready()
        yield container
    finally:
        container.remove()


def test_401_without_the_key_and_the_reference_vectors_with_it(keyed: Container, reference: np.ndarray) -> None:
    for authorization in ("", "Bearer sk-wrong-key-000000"):
        refused = keyed.request("POST", "/invocations", {"input": TEXTS}, authorization=authorization)
        assert refused.status == 401 and refused.json()["error"]["type"] == "authentication_error"
        assert refused.headers["WWW-Authenticate"].startswith('Bearer realm="embeddings"')
    served = keyed.request("POST", "/v1/embeddings", {"input": TEXTS}, authorization=f"Bearer {KEY}")
    assert served.status == 200
    assert_matches_reference(floats(served.json()), reference)
    assert served.headers["X-RateLimit-Limit-Requests"] == "5"


def test_probes_and_metrics_stay_open(keyed: Container) -> None:
    assert keyed.get("/ping").status == 200 and keyed.get("/health/live").status == 200
    scrape = keyed.get("/metrics")
    # the 401s were answered from the request head, before any route saw them (runtime/head_admission.py)
    assert scrape.status == 200 and b'embed_requests_total{route="front",status="401"}' in scrape.body


def test_the_rate_limit_holds_across_the_workers_and_the_key_is_never_logged(keyed: Container) -> None:
    statuses = [keyed.request("POST", "/v1/embeddings", {"input": "x"}, authorization=f"Bearer {KEY}").status
                for _ in range(8)]  # fmt: skip
    assert statuses.count(200) <= 5 and statuses[-1] == 429  # 5 per minute (one used above; refill: 1 per 12 s)
    assert KEY not in keyed.logs(tail=2000)
