"""Hostile clients inside every documented limit, against a real server (gunicorn worker, the HTTP front, the app;
the fake model, small limits): keyless 6 MiB bodies, idle connections holding every slot, a worker full to the
brim, pipelined probe floods, HEAD requests, cross-site "simple" POSTs. The same front in-process, with the
details of each behaviour, is in test_front_hostile.py; the figures at the issue's scale come from
bench/hostile.py."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.front_harness import (
    closed_by_server,
    header,
    json_body,
    kept_alive,
    pipelined_flood,
    read_response,
    request_head,
    status_of,
)
from tests.reliability.gated_server import GatedServer, gated_env
from tests.reliability.harness import HOST, request

KEY = "sk-test-hostile"
AUTH = {"Authorization": f"Bearer {KEY}"}
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatedServer]:
    """One worker, one request thread (+1 waiting), 100 connections, API keys on."""
    gates: Path = tmp_path_factory.mktemp("gates")
    env = gated_env(EMB_API_KEY=KEY, EMB_THREADS="1", EMB_MAX_CONNECTIONS="100", EMB_MAX_CONNECTIONS_PER_CLIENT="100")
    with GatedServer(gates, env) as running:
        running.wait_ready()
        yield running


def connect(server: GatedServer) -> socket.socket:
    return socket.create_connection((HOST, server.port), timeout=10)


def test_keyless_bodies_are_refused_from_the_head_and_never_held(server: GatedServer) -> None:
    """40 connections each announce 6 MiB without a key and send 1 MiB of it: each gets its 401 at once, and the
    worker does not grow by the bodies (before: the whole body was read first, then 408 or 401)."""
    before = server.worker_rss_mib()
    socks, answers = [], []
    for _ in range(40):
        sock = connect(server)
        sock.sendall(request_head("POST", "/invocations", 6 * MIB, Content_Type="application/json") + b" " * MIB)
        socks.append(sock)
    for sock in socks:
        answers.append(read_response(sock))
    assert [status_of(a) for a in answers] == [401] * 40
    assert all(header(a, "Connection") == "close" for a in answers)
    assert server.worker_rss_mib() - before < 100
    for sock in socks:
        sock.close()
    assert request(server.port, "GET", "/ping").status == 200


def test_a_new_client_is_served_while_idle_connections_hold_every_slot(server: GatedServer) -> None:
    idle = kept_alive(server.port, 150, "/ping")  # 150 > EMB_MAX_CONNECTIONS: the oldest made room for newer
    try:
        assert request(server.port, "GET", "/ping", timeout=5).status == 200
        reply = request(server.port, "POST", "/invocations", json.dumps({"input": "one text"}).encode(),
                        {"Content-Type": "application/json", **AUTH}, timeout=10)
        assert reply.status == 200 and len(reply.json()["data"]) == 1
        assert closed_by_server(idle[0]) and not closed_by_server(idle[-1], timeout=0.2)
    finally:
        for sock in idle:
            sock.close()


def test_a_full_worker_refuses_from_the_head_before_the_body_is_sent(server: GatedServer) -> None:
    """The one thread and the one wait slot are held: a 120 KB request gets 503 + Retry-After + close having sent
    only its head (before: its body was read and parsed first)."""
    held = []
    body = json.dumps({"input": "hold this"}).encode()
    for _ in range(2):
        sock = connect(server)
        sock.sendall(request_head("POST", "/invocations", len(body), Content_Type="application/json",
                                  Authorization=AUTH["Authorization"]) + body)  # fmt: skip
        held.append(sock)
    server.wait_forward_held()
    try:
        with connect(server) as sock:
            sock.sendall(request_head("POST", "/invocations", 120_000, Content_Type="application/json",
                                      Authorization=AUTH["Authorization"]))  # fmt: skip
            answer = read_response(sock)
            assert status_of(answer) == 503 and json_body(answer)["error"]["type"] == "overloaded"
            assert header(answer, "Retry-After") and header(answer, "Connection") == "close"
        assert request(server.port, "GET", "/ping", timeout=5).status == 200  # probes still answered
    finally:
        server.release_forward()
        for sock in held:
            assert status_of(read_response(sock)) == 200
            sock.close()
        for gate in server.gate_dir.glob("*forward*"):
            gate.unlink()


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_cross_site_simple_post_gets_415_from_its_head(server: GatedServer, content_type: str | None) -> None:
    fields = {"Authorization": AUTH["Authorization"]} | ({"Content_Type": content_type} if content_type else {})
    with connect(server) as sock:
        sock.sendall(request_head("POST", "/v1/embeddings", 50_000, **fields))  # no body sent
        answer = read_response(sock)
    assert status_of(answer) == 415 and json_body(answer)["error"]["type"] == "unsupported_media_type"


def test_head_requests_get_their_status_without_a_body(server: GatedServer) -> None:
    with connect(server) as sock:
        sock.sendall(request_head("HEAD", "/v1/models"))  # a route that needs a key: the front's own 401
        answer = read_response(sock, head_only=True)
        assert status_of(answer) == 401 and answer.endswith(b"\r\n\r\n") and sock.recv(10) == b""
    with connect(server) as sock:
        sock.sendall(request_head("HEAD", "/ping"))
        assert status_of(read_response(sock, head_only=True)) == 200


def test_a_pipelined_probe_and_metrics_flood_leaves_other_pings_fast(server: GatedServer) -> None:
    with pipelined_flood(server.port, 20_000) as answered:
        latencies = []
        for _ in range(10):
            started = time.monotonic()
            assert request(server.port, "GET", "/ping", timeout=5).status == 200
            latencies.append(time.monotonic() - started)
        assert max(latencies) < 1.0, latencies
        assert answered.wait(120)


def test_the_servers_keepalive_setting_closes_idle_connections(tmp_path: Path) -> None:
    with GatedServer(tmp_path, gated_env(EMB_KEEPALIVE_S="1")) as short:
        short.wait_ready()
        [sock] = kept_alive(short.port, 1, "/ping")
        started = time.monotonic()
        assert closed_by_server(sock, timeout=10)
        assert 0.9 < time.monotonic() - started < 5
        sock.close()
