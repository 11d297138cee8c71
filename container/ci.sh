#!/usr/bin/env bash
# The container stage of CI, start to finish (.ci/container-stage.sh calls it after installing packages):
#
#   1. a Docker engine: the running one, else `dockerd --bridge=none --iptables=false` (container/dockerd.sh);
#      no engine possible -> a loud SKIPPED banner and exit 0 (set CONTAINER_REQUIRED=1 to fail instead)
#   2. a base image: CONTAINER_BASE_IMAGE if given, else a local Debian 12 one (debootstrap + docker import)
#   3. the wheelhouse (container/wheelhouse.sh) and an offline build with --network none (container/build.sh)
#   4. the checks: `make test-container` (tests/container: --network none, embedded model, every embedding
#      type, /execution-parameters, SIGTERM timing, root and non-root, read-only mounts, baked model)
#   5. the local Docker test mode as the README runs it (container/local.sh, host network, model mounted)
#   6. cleanup: containers, images and the engine this script created; measurements printed at the end
#
# Environment: CONTAINER_BASE_IMAGE, CONTAINER_REQUIRED, VENV (the Makefile's, default .venv), KEEP_IMAGE=1.
set -euo pipefail
# shellcheck source=container/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

run_id=ci-$$
tag=embed-serving:$run_id
summary=()
started_engine=false
made_base=false
built=false
skipped=false
t_all=$(now)

step() { printf '\n----- container: %s (%s) -----\n' "$1" "$(date -u +%H:%M:%S)" >&2; }
record() { summary+=("$(printf '%-44s %s' "$1" "$2")"); }

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
  local rc=$?
  set +e
  step "cleanup"
  if engine_up; then
    docker ps -aq --filter "name=-$run_id\$" | xargs -r docker rm -f >/dev/null
    if $built && [[ -z ${KEEP_IMAGE:-} ]]; then docker rmi -f "$tag" >/dev/null; fi
    docker image prune -f --filter label=embed-serving.stage=build >/dev/null
    if $made_base; then docker rmi -f "$base" >/dev/null; fi
    log "removed: test containers, $tag$($made_base && echo ", $base"), build-stage images"
  fi
  if $started_engine; then container/dockerd.sh --stop; fi
  record "container stage total (s)" "$(elapsed "$t_all")"
  printf '\n===== container stage measurements =====\n' >&2
  printf '%s\n' "${summary[@]}" >&2
  if [[ -s $CACHE_DIR/metrics-$run_id.json ]]; then
    sed 's/^/  /' "$CACHE_DIR/metrics-$run_id.json" >&2
    rm -f "$CACHE_DIR/metrics-$run_id.json"
  fi
  if $skipped; then
    log "container stage: SKIPPED (no Docker engine; see the banner above)"
  elif ((rc == 0)); then
    log "container stage: PASSED"
  else
    log "container stage: FAILED (exit $rc)"
  fi
  exit "$rc"
}
trap cleanup EXIT
mkdir -p "$CACHE_DIR"

step "docker engine"
t=$(now)
engine_rc=0
if ! engine_up; then
  container/dockerd.sh || engine_rc=$?
  ((engine_rc != 0)) || started_engine=true
fi
if ((engine_rc != 0)); then
  if [[ -n ${CONTAINER_REQUIRED:-} ]]; then die "no Docker engine and CONTAINER_REQUIRED is set"; fi
  banner "CONTAINER STAGE SKIPPED: no Docker engine is running and none can be started here" \
         "(needs root and the docker.io package; .ci/container-stage.sh installs it when CI=true)." \
         "The image was NOT built and NOT tested."
  skipped=true
  exit 0
fi
record "engine ready (s)" "$(elapsed "$t")"

step "base image"
t=$(now)
if [[ -n ${CONTAINER_BASE_IMAGE:-} ]]; then
  base=$CONTAINER_BASE_IMAGE
  docker image inspect "$base" >/dev/null 2>&1 || docker pull "$base"
else
  base=embed-base:bookworm
  docker image inspect "$base" >/dev/null 2>&1 || made_base=true
  container/base-image.sh "$base"
fi
record "base image $base (s)" "$(elapsed "$t")"

step "wheelhouse"
t=$(now)
container/wheelhouse.sh
record "wheelhouse (s)" "$(elapsed "$t")"

step "image build (offline, --network none)"
t=$(now)
built=true
container/build.sh --tag "$tag" --base "$base" --offline
record "image build (s)" "$(elapsed "$t")"
record "image size (GB)" "$(docker image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%.2f", $1 / 1e9 }')"

step "checks: make test-container"
t=$(now)
CONTAINER_IMAGE=$tag \
CONTAINER_BUILD_FLAGS="--base $base --offline" \
CONTAINER_METRICS=$CACHE_DIR/metrics-$run_id.json \
CONTAINER_TEST_SUFFIX=$run_id \
  make test-container VENV="${VENV:-.venv}"
record "make test-container (s)" "$(elapsed "$t")"

step "local Docker test mode (container/local.sh, model folder mounted)"
t=$(now)
model_dir=$("${VENV:-.venv}/bin/python" -c 'from inference.model_dir import embedded_model_dir; print(embedded_model_dir())')
port=$("${VENV:-.venv}/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
container/local.sh --no-build --tag "$tag" --name "embed-local-$run_id" --model "$model_dir" --port "$port" --cpu --timeout 300
record "local.sh run (s)" "$(elapsed "$t")"
