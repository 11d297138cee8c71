#!/usr/bin/env bash
# The container stage of CI, start to finish (.ci/container-stage.sh calls it after installing packages):
#
#   1. a Docker engine: the running one, else `dockerd --bridge=none --iptables=false` (container/dockerd.sh).
#      When none comes up, the policy decides between a loud SKIPPED banner + exit 0, and a failure:
#        CONTAINER_REQUIRED=1 (any value but 0/false): always fail;
#        CI=true (CONTAINER_REQUIRED unset): skip only where no engine can be started at all: no dockerd binary,
#          not root, or no CAP_SYS_ADMIN (an unprivileged container). With dockerd, root and CAP_SYS_ADMIN here,
#          an engine that does not come up is a failure, like a failing build or test;
#        otherwise (a developer's machine, or CONTAINER_REQUIRED=0): skip, with the reason.
#      Under .ci/run the outcome (run / skipped / failed) and why go to CI_STAGE_REPORT (.ci/stage-report.sh).
#   2. a base image: CONTAINER_BASE_IMAGE if given, else a local Debian 12 one (debootstrap + docker import)
#   3. the wheelhouse (container/wheelhouse.sh) and an offline build with --network none (container/build.sh)
#   4. the checks: `make test-container` (tests/container: --network none, embedded model, every embedding
#      type, /execution-parameters, SIGTERM timing, root and non-root, read-only mounts, baked model)
#   5. the local Docker test mode as the README runs it (container/local.sh, host network, model mounted)
#   5b. the GPU flavour (CUDA 12.8 torch): wheelhouse, offline build, `make test-gpu-image` (no GPU needed;
#      CONTAINER_GPU_FLAVOUR=0 skips it)
#   6. cleanup: containers, images and the engine this script created; measurements printed at the end
#
# Environment: CONTAINER_BASE_IMAGE, CONTAINER_REQUIRED, CI, VENV (the Makefile's, default .venv), KEEP_IMAGE=1,
# CONTAINER_GPU_FLAVOUR=0.
set -euo pipefail
# shellcheck source=container/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
# shellcheck source=.ci/stage-report.sh
source .ci/stage-report.sh

run_id=ci-$$
tag=embed-serving:$run_id
gpu_tag=embed-serving:$run_id-gpu
gpu_built=false
built_kept=false
[[ -z ${KEEP_IMAGE:-} ]] || built_kept=true
summary=()
started_engine=false
made_base=false
built=false
skipped=false
skip_reason=
fail_reason=
current_step=
t_all=$(now)

step() { current_step=$1; printf '\n----- container: %s (%s) -----\n' "$1" "$(date -u +%H:%M:%S)" >&2; }
record() { summary+=("$(printf '%-44s %s' "$1" "$2")"); }

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
  local rc=$? failed_step=$current_step
  set +e
  step "cleanup"
  if engine_up; then
    docker ps -aq --filter "name=-$run_id\$" | xargs -r docker rm -f >/dev/null
    if $built && [[ -z ${KEEP_IMAGE:-} ]]; then docker rmi -f "$tag" >/dev/null; fi
    if $gpu_built && [[ -z ${KEEP_IMAGE:-} ]]; then docker rmi -f "$gpu_tag" >/dev/null; fi
    docker image prune -f --filter label=embed-serving.stage=build >/dev/null
    if $made_base; then docker rmi -f "$base" >/dev/null; fi
    # BuildKit's cache grows by several GB a build (torch, the GPU image) and is never collected on its own:
    # keep CONTAINER_BUILD_CACHE_KEEP (default 8GB) so that repeated runs on one machine don't fill its disk.
    docker builder prune -f --keep-storage "${CONTAINER_BUILD_CACHE_KEEP:-8GB}" >/dev/null 2>&1 \
      || docker builder prune -af >/dev/null 2>&1
    log "removed: test containers, $tag$($made_base && echo ", $base"), build-stage images; build cache trimmed to ${CONTAINER_BUILD_CACHE_KEEP:-8GB}"
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
    log "container stage: SKIPPED ($skip_reason)"
    stage_report skipped "$skip_reason"
  elif ((rc == 0)); then
    log "container stage: PASSED"
    stage_report run "image built and checked in $(elapsed "$t_all") s"
  else
    log "container stage: FAILED (exit $rc)"
    stage_report failed "${fail_reason:-step \"$failed_step\" failed (exit $rc)}"
  fi
  exit "$rc"
}

# Why no Docker engine can be started on this machine at all (prints nothing when one could be).
why_no_engine() {
  local caps
  if ! command -v dockerd >/dev/null; then
    echo "no dockerd binary (Debian's docker.io is not installed)"
  elif [[ $(id -u) -ne 0 ]]; then
    echo "not root (uid $(id -u)): dockerd needs root"
  else
    caps=$(awk '$1 == "CapEff:" { print $2 }' /proc/self/status 2>/dev/null || true)
    if [[ $caps =~ ^[0-9a-fA-F]+$ ]] && (((16#$caps >> 21 & 1) == 0)); then
      echo "no CAP_SYS_ADMIN (an unprivileged container): dockerd cannot set up its mounts and namespaces"
    fi
  fi
}

# The engine policy (see the header): required, ci or lenient.
engine_policy() {
  case ${CONTAINER_REQUIRED:-} in
    '') if [[ ${CI:-} == true ]]; then echo ci; else echo lenient; fi ;;
    0 | false | no) echo lenient ;;
    *) echo required ;;
  esac
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
  why=$(why_no_engine)
  policy=$(engine_policy)
  started_why="container/dockerd.sh could not bring up an engine (exit $engine_rc; log: $CACHE_DIR/dockerd.log)"
  if [[ $policy == required ]]; then
    fail_reason="no Docker engine and CONTAINER_REQUIRED=$CONTAINER_REQUIRED: ${why:-$started_why}"
    die "$fail_reason"
  fi
  if [[ $policy == ci && -z $why ]]; then
    fail_reason="CI=true and this machine can run an engine (dockerd, root, CAP_SYS_ADMIN), but $started_why"
    die "$fail_reason"
  fi
  skip_reason="no Docker engine: ${why:-$started_why}"
  if [[ -n ${CONTAINER_REQUIRED:-} ]]; then
    skip_reason+="; skip allowed by CONTAINER_REQUIRED=$CONTAINER_REQUIRED"
  elif [[ $policy == lenient ]]; then
    skip_reason+="; skip allowed because CI is not true"
  fi
  banner "CONTAINER STAGE SKIPPED: no Docker engine is running and none could be started here" \
         "Why: ${why:-$started_why}." \
         "(needs root, CAP_SYS_ADMIN and the docker.io package; .ci/container-stage.sh installs it when CI=true)." \
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
container/wheelhouse.sh --flavour cpu
record "wheelhouse (s)" "$(elapsed "$t")"

step "image build (offline, --network none)"
t=$(now)
built=true
container/build.sh --flavour cpu --tag "$tag" --base "$base" --offline
record "image build (s)" "$(elapsed "$t")"
record "image size (GB)" "$(docker image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%.2f", $1 / 1e9 }')"

step "checks: make test-container"
t=$(now)
CONTAINER_IMAGE=$tag \
CONTAINER_BUILD_FLAGS="--flavour cpu --base $base --offline" \
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

# The GPU flavour (CUDA 12.8 torch): built offline on the same base and checked without a GPU: its CUDA version,
# the forward-compatibility choice for stubbed driver versions, serving on the CPU, and the GPU-unusable reason.
if [[ ${CONTAINER_GPU_FLAVOUR:-1} != 0 ]]; then
  if ! $built_kept; then docker rmi -f "$tag" >/dev/null; built=false; fi  # disk: the GPU image is ~8 GB
  step "GPU flavour: wheelhouse (torch 2.10.0 + CUDA 12.8 wheels)"
  t=$(now)
  container/wheelhouse.sh --flavour gpu
  record "GPU wheelhouse (s)" "$(elapsed "$t")"

  step "GPU flavour: image build (offline, --network none)"
  t=$(now)
  gpu_built=true
  container/build.sh --flavour gpu --tag "$gpu_tag" --base "$base" --offline
  record "GPU image build (s)" "$(elapsed "$t")"
  record "GPU image size (GB)" "$(docker image inspect --format '{{.Size}}' "$gpu_tag" | awk '{ printf "%.2f", $1 / 1e9 }')"

  step "GPU flavour: checks (make test-gpu-image)"
  t=$(now)
  CONTAINER_GPU_IMAGE=$gpu_tag CONTAINER_TEST_SUFFIX=$run_id make test-gpu-image VENV="${VENV:-.venv}"
  record "make test-gpu-image (s)" "$(elapsed "$t")"
fi
