"""Measure latency and throughput for the listing, and render them into listing/highlights.md.

    python -m marketplace.measure --label "ml.g5.xlarge" --url http://localhost:8080 --write
    python -m marketplace.measure --label "local CPU" --write        # starts the local server itself
    python -m marketplace.measure --render                           # only re-render the highlights table

Three numbers per machine, on short English sentences (about 12 tokens each):
- real-time latency: one text per request, one client, sequential: p50 and p95 in ms;
- real-time throughput: 4 clients, 32 texts per request: texts/s;
- batch transform throughput: a JSON Lines file through the Batch Transform data plane (``local_transform``:
  MultiRecord, 6 MB requests): records/s.

``--write`` stores the result under its label in listing/measurements.json (with the hardware, the load average
and the date) and re-renders the table between the markers in listing/highlights.md; labels listed there
without numbers show as "to be measured". Measure each instance type on the instance itself (the container on
an endpoint host, or ``docker run`` on an EC2 instance of the same type) and label it with the type.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from .local_transform import MB, TransformSpec, run_file

LISTING = Path(__file__).resolve().parent / "listing"
MEASUREMENTS = LISTING / "measurements.json"
HIGHLIGHTS = LISTING / "highlights.md"
START, END = "<!-- measurements:start -->", "<!-- measurements:end -->"

_SUBJECTS = ["The invoice", "Our support team", "This laptop", "The new policy", "A short delay", "The museum"]
_VERBS = ["was sent to", "answers questions about", "works well with", "applies to", "affected", "opens"]
_OBJECTS = ["every customer in March.", "billing and refunds.", "external monitors.", "remote employees.",
            "the evening trains.", "on public holidays."]  # fmt: skip


def sentences(n: int) -> list[str]:
    """``n`` deterministic short sentences (216 distinct, then numbered variants)."""
    base = [f"{s} {v} {o}" for s in _SUBJECTS for v in _VERBS for o in _OBJECTS]
    return [base[i % len(base)] + (f" ({i // len(base)})" if i >= len(base) else "") for i in range(n)]


def _post(session: requests.Session, url: str, texts: list[str]) -> float:
    start = time.perf_counter()
    response = session.post(f"{url}/invocations", json={"input": texts}, timeout=300)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise RuntimeError(f"/invocations answered {response.status_code}: {response.text[:300]}")
    return elapsed


def realtime_latency(url: str, requests_n: int) -> dict[str, float]:
    session = requests.Session()
    texts = sentences(requests_n)
    _post(session, url, texts[:1])  # connection and first-request warm-up
    times = sorted(_post(session, url, [text]) for text in texts)
    return {
        "p50_ms": round(1000 * statistics.median(times), 1),
        "p95_ms": round(1000 * times[min(len(times) - 1, int(0.95 * len(times)))], 1),
    }


def realtime_throughput(url: str, requests_n: int, clients: int = 4, batch: int = 32) -> dict[str, float]:
    bodies = [sentences(requests_n * batch)[i * batch : (i + 1) * batch] for i in range(requests_n)]
    sessions = [requests.Session() for _ in range(clients)]
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda i: _post(sessions[i % clients], url, bodies[i]), range(requests_n)))
    seconds = time.perf_counter() - start
    return {"texts_per_s": round(requests_n * batch / seconds, 1), "clients": clients, "texts_per_request": batch}


def batch_throughput(url: str, records: int) -> dict[str, float]:
    data = "".join(json.dumps(text) + "\n" for text in sentences(records)).encode()
    start = time.perf_counter()
    out = run_file(url, data, TransformSpec("application/jsonlines", strategy="MultiRecord", max_payload_bytes=6 * MB))
    seconds = time.perf_counter() - start
    if out.count(b"\n") != records:
        raise RuntimeError("the transform did not return one line per record")
    return {"records_per_s": round(records / seconds, 1), "records": records}


def hardware() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]  # fmt: skip
        cpu = names[0] if names else cpu
    except OSError:
        pass
    gpu = ""
    try:
        import torch

        if torch.cuda.is_available():
            gpu = ", GPU " + torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return f"{cpu}, {os.cpu_count()} cores{gpu}"


def measure(url: str, *, latency_requests: int = 100, throughput_requests: int = 40, records: int = 2000) -> dict:
    load_before = os.getloadavg()[0]
    result: dict[str, Any] = {
        "latency": realtime_latency(url, latency_requests),
        "throughput": realtime_throughput(url, throughput_requests),
        "batch": batch_throughput(url, records),
    }
    result.update(
        {
            "hardware": hardware(),
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "date": time.strftime("%Y-%m-%d"),
        }
    )
    return result


def render(measurements: dict[str, Any]) -> str:
    """The highlights table: one row per label, "to be measured" where a label has no numbers yet."""
    rows = [
        "| Instance | Latency p50 / p95, 1 text | Real-time throughput (4 clients x 32 texts) | Batch transform |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, entry in measurements.items():
        if not entry or "latency" not in entry:
            rows.append(f"| {label} | to be measured | to be measured | to be measured |")
            continue
        lat, thr, bat = entry["latency"], entry["throughput"], entry["batch"]
        rows.append(
            f"| {label} | {lat['p50_ms']:g} ms / {lat['p95_ms']:g} ms | {thr['texts_per_s']:g} texts/s "
            f"| {bat['records_per_s']:g} records/s |"
        )
    notes = [
        f"- {label}: {entry['hardware']}; load average {entry['load_average'][0]:g} -> {entry['load_average'][1]:g}; "
        f"{entry['date']}."
        for label, entry in measurements.items()
        if entry and "latency" in entry
    ]
    return "\n".join(rows + [""] + notes) if notes else "\n".join(rows)


def update_highlights(measurements: dict[str, Any], path: Path = HIGHLIGHTS) -> None:
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    path.write_text(f"{head}{START}\n{render(measurements)}\n{END}{tail}", encoding="utf-8")


def load_measurements(path: Path = MEASUREMENTS) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


@contextmanager
def _server(url: str | None) -> Iterator[str]:
    if url:
        yield url.rstrip("/")
        return
    from .local_server import local_server

    with local_server() as started:
        yield started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m marketplace.measure", description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running server or container; default: start the local server")
    parser.add_argument("--label", default="local CPU", help="the row label, normally the instance type")
    parser.add_argument("--latency-requests", type=int, default=100)
    parser.add_argument("--throughput-requests", type=int, default=40)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--write", action="store_true", help="store in measurements.json, re-render highlights.md")
    parser.add_argument("--render", action="store_true", help="only re-render highlights.md from measurements.json")
    args = parser.parse_args(argv)
    measurements = load_measurements()
    if not args.render:
        with _server(args.url) as url:
            result = measure(
                url,
                latency_requests=args.latency_requests,
                throughput_requests=args.throughput_requests,
                records=args.records,
            )
        print(json.dumps({args.label: result}, indent=2))
        measurements[args.label] = result
    if args.write or args.render:
        if args.write:
            MEASUREMENTS.write_text(json.dumps(measurements, indent=2) + "\n", encoding="utf-8")
        update_highlights(measurements)
        print(render(measurements))
    return 0


if __name__ == "__main__":
    sys.exit(main())
