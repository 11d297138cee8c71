"""A local stand-in for SageMaker Batch Transform's data plane, to check a container before Marketplace does.

It does what a transform job does to one input file: split it into records (``SplitType=Line``), pack them
into requests (``MultiRecord``: as many whole records as fit in ``MaxPayloadInMB``; ``SingleRecord``: one per
request), POST each to ``/invocations`` with the job's ``ContentType`` and ``Accept``, and assemble the
responses (``AssembleWith=Line``: a newline after each response). Unset strategy and payload limit are read
from the container's ``GET /execution-parameters``, as SageMaker does.

    python -m marketplace.local_transform --url http://localhost:8080 \\
        marketplace/data/input/batch/texts.jsonl --content-type application/jsonlines -o texts.jsonl.out
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import requests

Strategy = Literal["MultiRecord", "SingleRecord"]
MB = 1024 * 1024
JSONLINES = "application/jsonlines"
Invoke = Callable[[bytes], bytes]


class TransformError(RuntimeError):
    """A request of the transform failed; the message carries the container's answer."""


@dataclass(frozen=True)
class TransformSpec:
    content_type: str
    accept: str = JSONLINES
    strategy: Strategy | None = None  # None: ask /execution-parameters
    max_payload_bytes: int | None = None  # None: /execution-parameters' MaxPayloadInMB


def split_lines(data: bytes) -> list[bytes]:
    """``SplitType=Line``: records end at newlines; the last newline ends the last record."""
    records = data.split(b"\n")
    if records and records[-1] == b"":
        records.pop()
    return records


def mini_batches(records: list[bytes], strategy: Strategy, max_payload_bytes: int) -> Iterator[bytes]:
    """Request bodies: whole records joined by newlines, each body within ``max_payload_bytes``."""
    if strategy == "SingleRecord":
        yield from records
        return
    batch: list[bytes] = []
    size = 0
    for record in records:
        extra = len(record) + (1 if batch else 0)
        if batch and size + extra > max_payload_bytes:
            yield b"\n".join(batch)
            batch, size = [], 0
            extra = len(record)
        if extra > max_payload_bytes:
            raise TransformError(f"a record of {len(record)} bytes exceeds MaxPayloadInMB")
        batch.append(record)
        size += extra
    if batch:
        yield b"\n".join(batch)


def transform(data: bytes, invoke: Invoke, strategy: Strategy, max_payload_bytes: int) -> bytes:
    """One input file -> its ``.out`` file (``AssembleWith=Line``)."""
    return b"".join(invoke(body) + b"\n" for body in mini_batches(split_lines(data), strategy, max_payload_bytes))


def execution_parameters(url: str, timeout_s: float = 10) -> tuple[Strategy, int]:
    params = requests.get(f"{url}/execution-parameters", timeout=timeout_s).json()
    strategy: Strategy = "SingleRecord" if params.get("BatchStrategy") == "SINGLE_RECORD" else "MultiRecord"
    return strategy, int(params.get("MaxPayloadInMB", 6)) * MB


def http_invoker(url: str, content_type: str, accept: str, timeout_s: float = 600) -> Invoke:
    session = requests.Session()

    def invoke(body: bytes) -> bytes:
        response = session.post(
            f"{url}/invocations", data=body, headers={"Content-Type": content_type, "Accept": accept}, timeout=timeout_s
        )
        if response.status_code != 200:
            raise TransformError(f"/invocations answered {response.status_code}: {response.text[:500]}")
        return response.content

    return invoke


def run_file(url: str, data: bytes, spec: TransformSpec) -> bytes:
    """Transform one file's bytes against the container at ``url``."""
    strategy, max_payload = spec.strategy, spec.max_payload_bytes
    if strategy is None or max_payload is None:
        advertised_strategy, advertised_payload = execution_parameters(url)
        strategy = strategy or advertised_strategy
        max_payload = max_payload or advertised_payload
    return transform(data, http_invoker(url, spec.content_type, spec.accept), strategy, max_payload)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m marketplace.local_transform", description=__doc__.split("\n")[0])
    parser.add_argument("input", type=Path, help="input file (one record per line)")
    parser.add_argument("--url", default="http://localhost:8080", help="the running container")
    parser.add_argument("--content-type", required=True, choices=[JSONLINES, "text/csv"])
    parser.add_argument("--accept", default=JSONLINES, choices=[JSONLINES, "application/json"])
    parser.add_argument("--strategy", choices=["MultiRecord", "SingleRecord"], help="default: /execution-parameters")
    parser.add_argument("--max-payload-mb", type=int, help="default: /execution-parameters")
    parser.add_argument("-o", "--output", type=Path, help="default: <input>.out")
    args = parser.parse_args(argv)
    spec = TransformSpec(
        args.content_type, args.accept, args.strategy, args.max_payload_mb * MB if args.max_payload_mb else None
    )
    output = args.output or args.input.with_name(args.input.name + ".out")
    try:
        output.write_bytes(run_file(args.url.rstrip("/"), args.input.read_bytes(), spec))
    except TransformError as err:
        print(f"transform failed: {err}", file=sys.stderr)
        return 1
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
