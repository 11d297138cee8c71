# shellcheck shell=bash
# Helpers shared by the container scripts (sourced, not run).

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC2034 # used by the scripts that source this file
CACHE_DIR=${CONTAINER_CACHE_DIR:-$REPO_ROOT/container/.cache}

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Loud, impossible-to-miss message (used when a stage has to be skipped).
banner() {
  local line='!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!'
  printf '\n%s\n' "$line" >&2
  printf '!!! %s\n' "$@" >&2
  printf '%s\n\n' "$line" >&2
}

engine_up() { docker info >/dev/null 2>&1; }

# Whether the engine has a bridge network (`-p` port publishing). CI's engine runs with --bridge=none.
engine_has_bridge() { docker network inspect bridge >/dev/null 2>&1; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# The torch requirement of each image flavour (Dockerfile TORCH_SPEC): GPU = torch 2.10.0, the newest PyPI build
# whose wheels pin CUDA 12 (12.8) libraries; CPU = the CPU build (the local wheel here, or TORCH_INDEX_URL's).
torch_spec() {
  case $1 in
    gpu) echo "torch==2.10.0" ;;
    cpu) echo "torch==2.13.0" ;;
  esac
}
