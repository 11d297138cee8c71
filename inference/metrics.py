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
INPUTS = Counter("embed_inputs_total", "Inputs (texts, images, documents) in successful responses")
TOKENS = Counter("embed_tokens_total", "Tokens processed for successful responses (usage.prompt_tokens)")
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


def front_shed() -> None:
    """The HTTP front answered 503 at once: its threads and wait queue were full."""
    REQUESTS.labels(route=FRONT, status="503").inc()
    SHED.labels(reason="front_capacity").inc()


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def exposition() -> bytes:
    """The metrics in Prometheus text format: every worker's when in multiprocess mode, else this process's."""
    refresh()
    if multiprocess_dir() is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped upstream
    return generate_latest(registry)

