"""Unit tests of the admission layer (inference/admission.py): bounded pool, shed threads, JSON error pages,
log redaction. The real-server behaviour is in test_reliability_backpressure.py."""

from __future__ import annotations

import logging
import threading

import orjson

from inference.runtime.admission import AdmissionPool, in_shed_thread
from inference.runtime.guard import Probes, guard
from inference.runtime.log_filter import redact_client_bytes
from inference.runtime.protocol_errors import json_error_page


def test_pool_admits_threads_plus_waiting_and_sheds_the_rest():
    pool = AdmissionPool(threads=2, max_waiting=2)
    gate = threading.Event()
    try:
        held = [pool.submit(lambda: (gate.wait(10), in_shed_thread())[1]) for _ in range(4)]
        assert pool.busy == 4
        shed = pool.submit(in_shed_thread)
        assert shed.result(5) is True  # ran at once on a shed thread while 4 are held
        gate.set()
        assert [f.result(5) for f in held] == [False] * 4
        done = threading.Event()
        pool.submit(done.set).result(5)
        assert done.is_set()
    finally:
        gate.set()
        pool.shutdown(wait=True)
    assert pool.busy == 0


def test_shed_wrapper_answers_503_json_but_lets_health_checks_through():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"status":"ready"}']

    probes = frozenset({"/ping"})
    wsgi = guard(app, Probes(probes, probes), blocked_by_peers=lambda: False, max_body_bytes=100)
    pool = AdmissionPool(threads=1, max_waiting=0)
    gate = threading.Event()
    try:
        pool.submit(gate.wait, 10)

        def call(path):
            seen = {}
            body = b"".join(wsgi({"PATH_INFO": path, "REQUEST_METHOD": "POST"},
                                 lambda status, headers: seen.update(status=status, headers=dict(headers))))
            return seen, body

        seen, body = pool.submit(call, "/invocations").result(5)
        assert seen["status"].startswith("503") and seen["headers"]["Retry-After"] == "1"
        assert orjson.loads(body)["error"]["type"] == "overloaded"
        seen, body = pool.submit(call, "/ping").result(5)
        assert seen["status"] == "200 OK"
    finally:
        gate.set()
        pool.shutdown(wait=True)


def test_gunicorn_html_error_page_becomes_json():
    page = (b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: 9\r\n\r\n"
            b"<html><body><h1><p>Bad Request</p></h1>\n  Invalid HTTP Header: &#x27;X&#x27;\n</body></html>")
    head, _, body = json_error_page(page).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request") and b"application/json" in head
    assert orjson.loads(body) == {"error": {"type": "invalid_request_error", "message": "Invalid HTTP Header: 'X'"}}


def test_gunicorn_log_lines_lose_client_bytes():
    def record(msg, *args):
        return logging.LogRecord("gunicorn.error", logging.WARNING, __file__, 1, msg, args, None)

    quoted = record("Invalid request from ip=1.2.3.4: Invalid HTTP Header: 'Authorization Bearer abc'")
    redact_client_bytes(quoted)
    assert quoted.getMessage() == "Invalid request from ip=1.2.3.4: Invalid HTTP Header: '...' (redacted)"
    uri = record("Error handling request %s %s", "POST", "/invocations?token=abc")
    redact_client_bytes(uri)
    assert uri.getMessage() == "Error handling request POST /invocations"
