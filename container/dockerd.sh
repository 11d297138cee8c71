#!/usr/bin/env bash
# Make sure a Docker engine answers. When none does and we are root with dockerd installed, start one the way
# a CI machine without systemd can run it:
#
#   dockerd --bridge=none --iptables=false --ip6tables=false
#
# No bridge and no iptables: containers use --network host (reached on 127.0.0.1) or --network none.
#
#   container/dockerd.sh            exit 0: an engine answers (the pid of one we started is in $CACHE_DIR/dockerd.pid)
#                                   exit 3: no engine and none can be started here
#   container/dockerd.sh --stop     stop the engine this script started (no-op otherwise)
set -euo pipefail
# shellcheck source=container/lib.sh
source "$(dirname "$0")/lib.sh"

pidfile=$CACHE_DIR/dockerd.pid
mkdir -p "$CACHE_DIR"

if [[ ${1:-} == --stop ]]; then
  [[ -s $pidfile ]] || exit 0
  pid=$(cat "$pidfile")
  rm -f "$pidfile"
  kill -0 "$pid" 2>/dev/null || exit 0
  log "dockerd: stopping the engine we started (pid $pid)"
  kill -TERM "$pid"
  deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then log "dockerd: still running after 30 s, killing it"; kill -KILL "$pid"; fi
  exit 0
fi

if engine_up; then
  log "dockerd: an engine is already running ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
  exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! command -v dockerd >/dev/null; then
  log "dockerd: no engine answers, and dockerd cannot be started here (need root and the docker.io package)"
  exit 3
fi

start=$(now)
log "dockerd: starting dockerd --bridge=none --iptables=false (log: $CACHE_DIR/dockerd.log)"
# setsid: the engine outlives this script; it is stopped with `dockerd.sh --stop`.
setsid dockerd --bridge=none --iptables=false --ip6tables=false >"$CACHE_DIR/dockerd.log" 2>&1 </dev/null &
echo $! >"$pidfile"
deadline=$((SECONDS + 60))
until engine_up; do
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    tail -20 "$CACHE_DIR/dockerd.log" >&2
    rm -f "$pidfile"
    log "dockerd: the engine exited during start-up"
    exit 3
  fi
  if ((SECONDS >= deadline)); then
    tail -20 "$CACHE_DIR/dockerd.log" >&2
    log "dockerd: no answer after 60 s; stopping it"
    "$0" --stop
    exit 3
  fi
  sleep 0.2
done
log "dockerd: engine up in $(elapsed "$start") s ($(docker version --format '{{.Server.Version}}'))"
