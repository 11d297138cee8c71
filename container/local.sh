#!/usr/bin/env bash
# Local Docker test mode: build the image, run it with a model folder mounted, wait for /ping, send the
# sample requests in container/samples/ (for a reranker, a multi-vector model, a classifier or a sparse model:
# container/samples/rerank/, multivector/, classify/ or sparse/, as GET /info names the served model's kind), print
# the results, and clean up.
#
#   container/local.sh [--model DIR] [--gpu|--cpu] [--port N] [--base IMAGE] [--offline]
#                      [--tag TAG] [--no-build] [--keep] [--rmi] [--timeout S]
#
#   --model DIR    model folder, mounted read-only at /opt/ml/model (as SageMaker does); default: the model
#                  embedded in the image (all-MiniLM-L6-v2)
#   --gpu / --cpu  `docker run --gpus all` or not; default: --gpu when nvidia-smi lists a GPU
#   --flavour F    image flavour to build (container/build.sh --flavour): default gpu with --gpu, cpu with --cpu
#   --port N       host port (default 8080)
#   --base IMAGE   build on this base (default: the Dockerfile's CUDA base); e.g. embed-base:bookworm from
#                  container/base-image.sh where nothing can be pulled
#   --offline      build from container/wheelhouse/ with --network none (run container/wheelhouse.sh first)
#   --tag TAG      image tag (default embed-serving:local)
#   --name NAME    container name (default embed-local)
#   --no-build     use an existing TAG
#   --keep         leave the container running (stop it with: docker rm -f NAME)
#   --rmi          also remove the image at the end
#   --timeout S    how long to wait for /ping (default 600: a first GPU start can be slow)
#
# Networking: with the engine's bridge network the port is published on 127.0.0.1 only (-p 127.0.0.1:N:8080);
# on an engine without one (CI's dockerd --bridge=none) the container uses --network host and listens on
# 127.0.0.1:N. Either way it is reached on 127.0.0.1, never on a bridge address.
set -euo pipefail
# shellcheck source=container/lib.sh
source "$(dirname "$0")/lib.sh"

model=""
gpu=auto
port=8080
tag=embed-serving:local
name=embed-local
build=true
keep=false
rmi=false
timeout=600
flavour=""
build_args=()
while (($#)); do
  case $1 in
    --model) model=$2; shift 2 ;;
    --gpu) gpu=true; shift ;;
    --cpu) gpu=false; shift ;;
    --port) port=$2; shift 2 ;;
    --flavour) flavour=$2; shift 2 ;;
    --base) build_args+=(--base "$2"); shift 2 ;;
    --offline) build_args+=(--offline); shift ;;
    --tag) tag=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --no-build) build=false; shift ;;
    --keep) keep=true; shift ;;
    --rmi) rmi=true; shift ;;
    --timeout) timeout=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

command -v curl >/dev/null || die "curl is needed to send the sample requests"
engine_up || die "no Docker engine answers (start one, e.g. container/dockerd.sh as root)"
if [[ $gpu == auto ]]; then
  if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then gpu=true; else gpu=false; fi
fi

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
  local rc=$?
  if ! $keep; then docker rm -f "$name" >/dev/null 2>&1 || true; fi
  if $rmi; then docker rmi "$tag" >/dev/null 2>&1 || true; fi
  exit "$rc"
}
trap cleanup EXIT

if $build; then
  if [[ -z $flavour ]]; then if $gpu; then flavour=gpu; else flavour=cpu; fi; fi
  "$REPO_ROOT/container/build.sh" --flavour "$flavour" --tag "$tag" "${build_args[@]}"
fi

run=(docker run -d --name "$name")
if engine_has_bridge; then
  run+=(-p "127.0.0.1:$port:8080")
else
  run+=(--network host -e "SAGEMAKER_BIND_TO_PORT=$port" -e EMB_HOST=127.0.0.1)
fi
if $gpu; then run+=(--gpus all); fi
if [[ -n $model ]]; then
  [[ -d $model ]] || die "--model $model: not a folder"
  run+=(-v "$(cd "$model" && pwd):/opt/ml/model:ro")
fi
docker rm -f "$name" >/dev/null 2>&1 || true
log "run: ${run[*]} $tag serve"
start=$(now)
"${run[@]}" "$tag" serve >/dev/null

url=http://127.0.0.1:$port
deadline=$((SECONDS + timeout))
until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url/ping" || true) == 200 ]]; do
  if [[ $(docker inspect -f '{{.State.Running}}' "$name") != true ]]; then
    docker logs --tail 40 "$name" >&2
    die "the container exited before /ping answered 200"
  fi
  if ((SECONDS >= deadline)); then
    docker logs --tail 40 "$name" >&2
    die "/ping did not answer 200 within $timeout s"
  fi
  sleep 0.5
done
log "ready: /ping is 200 after $(elapsed "$start") s ($(curl -s "$url/ping"))"

show() {
  if command -v python3 >/dev/null; then python3 "$REPO_ROOT/container/samples/show.py"; else head -c 600; echo; fi
}
status=0
# The served model's kind (GET /info: the server's own reading of the folder) picks the samples: rerank, multivector,
# classify and sparse models get the bodies of container/samples/<kind>/, an embedding model the embedding bodies.
kind=$(curl -sS --max-time 10 "$url/info" | grep -o '"kind": *"[a-z]*"' | sed 's/.*"\([a-z]*\)"$/\1/' || true)
samples="$REPO_ROOT/container/samples"
if [[ -n $kind && -d $samples/$kind ]]; then
  samples="$samples/$kind"
fi
log "model kind: ${kind:-unknown}; samples: ${samples#"$REPO_ROOT/"}"
for sample in "$samples"/*.json; do
  printf '\n== POST /invocations  %s\n' "$(basename "$sample")"
  curl -sS --max-time 120 -H 'Content-Type: application/json' --data-binary "@$sample" "$url/invocations" | show \
    || status=1
done
printf '\n== GET /execution-parameters\n  %s\n' "$(curl -sS "$url/execution-parameters")"
printf '\n== last log lines\n'
docker logs --tail 5 "$name" 2>&1 | sed 's/^/  /'
if $keep; then log "left running: $name on $url (docker rm -f $name)"; fi
exit "$status"
