"""The image serving its embedded model as it runs on a network-isolated SageMaker endpoint.

One container for the module: default user (non-root), ``--network none``, read-only root filesystem with a
tmpfs /tmp, no arguments (the image's CMD). Requests come from inside it (see container_harness).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from container_harness import TEXTS, Container, assert_matches_reference, floats, health

pytestmark = pytest.mark.container

ALL_TYPES = ["float", "base64", "binary", "ubinary"]


@pytest.fixture(scope="module")
def server(image: str, unique: str, metrics: dict) -> Iterator[Container]:
    container = Container.run(
        image, f"embed-test-main-{unique}", docker_args=("--read-only", "--tmpfs", "/tmp")
    )
    try:
        metrics["startup to ready, embedded model (s)"] = round(container.wait_ready(), 1)
        yield container
    finally:
        container.remove()


def test_ping_ready(server: Container) -> None:
    reply = server.get("/ping")
    assert reply.status == 200
    body = reply.json()
    assert health(body) == {"status": "ready", "model": "all-MiniLM-L6-v2"}
    assert body["queued_tokens"] == 0 and body["queued_requests"] == 0 and body["tokens_per_s"] > 0  # calibrated


def test_isolated_read_only_non_root(server: Container) -> None:
    assert server.inspect("{{.HostConfig.NetworkMode}}") == "none"
    assert server.inspect("{{.HostConfig.ReadonlyRootfs}}") == "true"
    interfaces = server.exec("cat", "/proc/net/dev").stdout.decode().splitlines()[2:]
    assert [line.split(":")[0].strip() for line in interfaces] == ["lo"]
    status = server.exec("cat", "/proc/1/status").stdout.decode()
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    assert uid_line.split()[1:] == ["10001"] * 4
    # PID 1 is gunicorn's master itself (serve used exec), so SIGTERM reaches it directly.
    cmdline = server.exec("cat", "/proc/1/cmdline").stdout.decode().replace("\0", " ")
    assert "embed-serve" in cmdline
    # The master never loads torch (so no CUDA context exists before workers fork); the worker does.
    master_maps = server.exec("cat", "/proc/1/maps").stdout.decode()
    assert "libtorch" not in master_maps


def test_float_embeddings_match_sentence_transformers(server: Container, reference: np.ndarray) -> None:
    reply = server.post("/invocations", {"input": TEXTS})
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["model"] == "all-MiniLM-L6-v2"
    assert [item["index"] for item in body["data"]] == list(range(len(TEXTS)))
    assert body["usage"]["prompt_tokens"] > len(TEXTS)
    vectors = floats(body)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert_matches_reference(vectors, reference)
    # Meaning survives: the paraphrase is closer than the unrelated sentence.
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


def test_all_embedding_types_encode_the_same_vector(server: Container) -> None:
    reply = server.post("/invocations", {"input": TEXTS, "embedding_type": ALL_TYPES})
    assert reply.status == 200, reply.body
    rows = [item["embedding"] for item in reply.json()["data"]]
    assert all(sorted(row) == sorted(ALL_TYPES) for row in rows)
    as_float = np.asarray([row["float"] for row in rows], dtype=np.float32)
    from_b64 = np.stack([np.frombuffer(base64.b64decode(row["base64"]), dtype="<f4") for row in rows])
    assert np.array_equal(from_b64, as_float)  # bit-identical float32
    ubinary = np.asarray([row["ubinary"] for row in rows])
    binary = np.asarray([row["binary"] for row in rows])
    assert ubinary.shape == (len(TEXTS), 384 // 8)
    assert np.array_equal(ubinary, np.packbits(as_float > 0, axis=1))  # sign bits, MSB first
    assert np.array_equal(binary, ubinary.astype(np.int16) - 128)
    assert binary.min() >= -128 and binary.max() <= 127


def test_single_type_requests(server: Container, reference: np.ndarray) -> None:
    b64 = server.post("/invocations", {"input": TEXTS, "encoding_format": "base64"}).json()
    vectors = np.stack([np.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4") for item in b64["data"]])
    assert_matches_reference(vectors, reference)
    ubin = server.post("/invocations", {"input": TEXTS, "embedding_type": "ubinary"}).json()
    assert np.array_equal(np.asarray([item["embedding"] for item in ubin["data"]]), np.packbits(reference > 0, axis=1))


def test_jina_sagemaker_body_and_dimensions(server: Container, reference: np.ndarray) -> None:
    body = {"data": [{"text": t} for t in TEXTS[:2]], "parameters": {"dimensions": 128, "task": "retrieval.query"}}
    reply = server.post("/invocations", body)
    assert reply.status == 200, reply.body
    vectors = floats(reply.json())
    expected = reference[:2, :128] / np.linalg.norm(reference[:2, :128], axis=1, keepdims=True)
    assert vectors.shape == (2, 128)
    assert np.allclose(vectors, expected, atol=2e-3)


@pytest.mark.parametrize("path", ["/v1/embeddings", "/embeddings", "/score", "/endpoints/my-endpoint/invocations"])
def test_alias_routes(server: Container, path: str, reference: np.ndarray) -> None:
    reply = server.post(path, {"input": TEXTS[:1]})
    assert reply.status == 200, (path, reply.body)
    assert_matches_reference(floats(reply.json()), reference[:1])


def test_azure_health_routes(server: Container) -> None:
    assert server.get("/health/live").json() == {"status": "alive"}
    assert server.get("/health/ready").status == 200


def test_execution_parameters(server: Container, model_dir: Path) -> None:
    """MaxConcurrentTransforms is the worker count: on CPU one per core (the container has no CPU limit here,
    so it plans with this host's cores and memory)."""
    from inference.runtime.worker_plan import available_memory_bytes, plan_workers, usable_cores, weight_bytes

    workers = plan_workers(
        gpus=0, cores=usable_cores(), memory=available_memory_bytes(), weights=weight_bytes(model_dir)
    ).workers
    reply = server.get("/execution-parameters")
    assert reply.status == 200
    params = reply.json()
    # MaxPayloadInMB: what a worker embeds in half the request deadline, within 1..EMB_MAX_BODY_MB (6); a CPU
    # worker (a few thousand tokens/s) gets the floor, 1 (README "Admission by work and deadline").
    assert params == {"MaxConcurrentTransforms": workers, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 1}


@pytest.mark.parametrize("content_type", ["application/jsonlines", "text/csv"])
def test_batch_transform_records_round_trip_in_order(
    server: Container, reference: np.ndarray, content_type: str
) -> None:
    """A MultiRecord Batch Transform body: one output line per input line, in order, the model's vectors."""
    if content_type == "text/csv":
        lines = ['"' + text.replace('"', '""') + '"' for text in TEXTS]
    else:
        lines = [json.dumps({"text": text}) for text in TEXTS]
    body = ("\n".join(lines) + "\n").encode()
    reply = server.request(
        "POST", "/invocations", body, content_type=content_type, accept="application/jsonlines"
    )
    assert reply.status == 200, reply.body
    records = [json.loads(line) for line in reply.body.decode().splitlines()]
    assert [record["index"] for record in records] == list(range(len(TEXTS)))
    assert_matches_reference(np.array([r["embedding"] for r in records], dtype=np.float32), reference)


def test_errors_are_json(server: Container) -> None:
    bad = server.post("/invocations", b"{not json")
    assert bad.status == 400
    assert bad.json()["error"]["type"]
    empty = server.post("/invocations", {"input": []})
    assert empty.status == 400


def test_ping_stays_fast_while_busy(server: Container, metrics: dict) -> None:
    """SageMaker fails health checks that take 2 s; /ping must not queue behind embedding work."""
    heavy = {"input": [f"document {i}: " + "lorem ipsum dolor sit amet " * 40 for i in range(40)]}
    background = [server.start_request("POST", "/invocations", heavy, timeout=300) for _ in range(2)]

    def both_in_flight() -> bool:
        for i, proc in enumerate(background):
            if proc.poll() is not None:
                # On a slow, shared machine a worker's measured throughput can make admission shed a heavy request
                # (503 + Retry-After, by design): send it again, as a client honouring Retry-After would.
                shed = Container.finish(proc)
                assert shed.status == 503, shed.body[:300]
                background[i] = server.start_request("POST", "/invocations", heavy, timeout=300)
        return server.established_connections() >= 2

    server.wait_until(both_in_flight, "two heavy requests in flight")
    pings = []
    while all(proc.poll() is None for proc in background) and len(pings) < 20:
        reply = server.get("/ping", timeout=10)
        assert reply.status == 200
        pings.append(reply.ms)
    results = [Container.finish(proc) for proc in background]
    assert all(r.status == 200 for r in results)
    assert len(pings) >= 3, "the heavy requests finished too fast to measure /ping under load"
    metrics["/ping under load, max (ms)"] = round(max(pings), 1)
    metrics["/ping under load, pings"] = len(pings)
    metrics["heavy request, 40 inputs x 256 tokens (ms)"] = round(max(r.ms for r in results), 1)
    assert max(pings) < 2000, pings


def test_playground_and_api_docs_are_served_without_network(server: Container) -> None:
    """EMB_PLAYGROUND's default in the image: `/` and `/docs` with their files, all from the installed package."""
    for path in ("/", "/docs", "/ui/playground.js", "/ui/playground.css", "/ui/docs.js", "/ui/swagger-ui-bundle.js",
                 "/ui/swagger-ui.css"):  # fmt: skip
        reply = server.get(path)
        assert reply.status == 200 and reply.body, path
    info = server.get("/info").json()
    assert info["model"] == "all-MiniLM-L6-v2" and info["dimensions"] == 384 and info["kind"] == "embed"


def test_sigterm_idle_shutdown(server: Container, metrics: dict) -> None:
    """Runs last: SageMaker sends SIGTERM and kills after 30 s; the server must be gone well before."""
    seconds, code = server.terminate()
    metrics["SIGTERM -> exit, idle (s)"] = round(seconds, 1)
    assert code == 0, server.logs()
    assert seconds < 30
    assert "Shutting down" in server.logs()
