"""Prometheus metrics (``GET /metrics``): the metric objects, importable by every layer, and the exposition.

Under gunicorn the master sets ``PROMETHEUS_MULTIPROC_DIR`` to a fresh per-server folder before any worker forks
(runtime/server.py) and before anything imports ``prometheus_client``: each worker writes its values to files
there and a scrape, answered by any one worker, sums them over all workers. Without it (the Flask test client,
``create_app`` in a script) the process's own default registry is served. Gauges of current state (queue) are
summed over the live workers; dead workers' files are marked by the master (``mark_process_dead``).

Names and labels are documented in docs/guides/metrics.md; keep the two in step.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
UNMATCHED = "unmatched"  # the route label of a request no route matched (404, 405): bounded label values
FRONT = "front"  # the route label of a request the HTTP front refused before any route saw it

REQUESTS = Counter("embed_requests_total", "HTTP requests answered, by route (path template) and status",
                   ["route", "status"])  # fmt: skip
LATENCY = Histogram(
    "embed_request_duration_seconds", "Time from the app receiving a request to its answer, by route", ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)  # fmt: skip
# ``api``: what the request asked for (embed, rerank, multivector, classify, tokenize; see metrics_hooks.py).
INPUTS = Counter("embed_inputs_total", "Inputs (texts, images, documents) in successful responses, by API", ["api"])
TOKENS = Counter("embed_tokens_total", "Tokens processed for successful responses (usage), by API", ["api"])
BATCH_SIZE = Histogram("embed_batch_size", "Inputs per forward pass of the micro-batcher",
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512))  # fmt: skip
QUEUED_TOKENS = Gauge("embed_queued_tokens", "Tokens admitted and not yet through the model (all workers)",
                      multiprocess_mode="livesum")  # fmt: skip
QUEUED_REQUESTS = Gauge("embed_queued_requests", "Requests those queued tokens belong to (all workers)",
                        multiprocess_mode="livesum")  # fmt: skip
SHED = Counter("embed_shed_total", "Requests refused 503 for load, by reason (overloaded: the work budget; "
               "front_capacity: the worker's threads and wait queue full; device_out_of_memory)", ["reason"])
MODEL_LOAD = Gauge("embed_model_load_seconds", "Seconds the model took to load and warm up (slowest worker)",
                   multiprocess_mode="max")  # fmt: skip
GPU_MEMORY = Gauge("embed_gpu_memory_bytes", "CUDA memory held by the workers' PyTorch, by device and kind "
                   "(allocated, reserved); absent on CPU", ["device", "kind"], multiprocess_mode="livesum")

_refreshers: dict[str, Callable[[], None]] = {}


def set_refresher(name: str, refresh: Callable[[], None]) -> None:
    """Run ``refresh`` (it sets gauges of current state) before each scrape and after each request; one per
    ``name`` (the queue, the GPU): a newer app's replaces an older one's."""
    _refreshers[name] = refresh


def refresh() -> None:
    for update in list(_refreshers.values()):
        update()


def front_refused(status: int) -> None:
    """The HTTP front answered a request from its head (api/head_gate.py): 401, 415, or 503 when the worker was
    full (its threads and wait queue, its queued work, or its room for bodies)."""
    REQUESTS.labels(route=FRONT, status=str(status)).inc()
    if status == 503:
        SHED.labels(reason="front_capacity").inc()


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


FRESH_PER_S = 10  # scrapes rendered afresh per second; more than that get the last text rendered


class _Renders:
    """At most ``FRESH_PER_S`` renderings a second: a client pipelining thousands of scrapes into the event loop
    gets the last text for the rest of that second (Prometheus scrapes every 15 s or more, always fresh)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.window = -1.0
        self.count = 0
        self.text = b""

    def fresh(self, now: float) -> bool:
        if now - self.window >= 1.0:
            self.window, self.count = now, 0
        self.count += 1
        return self.count <= FRESH_PER_S or not self.text


_renders = _Renders()


def exposition(clock: Callable[[], float] = time.monotonic) -> bytes:
    """The metrics in Prometheus text format: every worker's when in multiprocess mode, else this process's.
    Answered in the HTTP front's event loop (a probe route); reading every worker's files costs milliseconds."""
    with _renders.lock:
        if not _renders.fresh(clock()):
            return _renders.text
        refresh()
        if multiprocess_dir() is None:
            text = generate_latest(REGISTRY)
        else:
            registry = CollectorRegistry()
            _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped upstream
            text = generate_latest(registry)
        _renders.text = text
        return text

