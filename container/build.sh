#!/usr/bin/env bash
# Build the service image (container/Dockerfile, context: the repository root).
#
#   container/build.sh [--flavour gpu|cpu] [--tag TAG] [--base IMAGE] [--offline] [--bake NAME] [--model-name NAME]
#                      [-- DOCKER_BUILD_ARGS...]
#
#   --flavour F        gpu (default): CUDA 12.8 torch, for GPU hosts (it serves on CPU hosts too);
#                      cpu: the CPU build of torch (a smaller image, for CPU-only hosts)
#   --tag TAG          image tag (default embed-serving:local)
#   --base IMAGE       BASE_IMAGE build arg (default: the Dockerfile's CUDA base)
#   --offline          install from container/wheelhouse/ (run container/wheelhouse.sh first) and build with
#                      --network none, which proves the build needs no network
#   --bake NAME        bake container/models/NAME into /opt/ml/model
#   --model-name NAME  name the baked model answers with
# Online builds use --network host when the engine has no bridge network (e.g. CI's dockerd --bridge=none).
# Extra CA certificates: drop them into container/certs/ (see container/certs/README.md).
set -euo pipefail
# shellcheck source=container/lib.sh
source "$(dirname "$0")/lib.sh"

tag=embed-serving:local
args=()
offline=false
flavour=gpu
while (($#)); do
  case $1 in
    --flavour) flavour=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --base) args+=(--build-arg "BASE_IMAGE=$2"); shift 2 ;;
    --offline) offline=true; shift ;;
    --bake) args+=(--build-arg "BAKE_MODEL=$2"); shift 2 ;;
    --model-name) args+=(--build-arg "MODEL_NAME=$2"); shift 2 ;;
    --) shift; args+=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

cd "$REPO_ROOT"
[[ $flavour == gpu || $flavour == cpu ]] || die "--flavour must be gpu or cpu, not $flavour"
args=(--build-arg "IMAGE_FLAVOUR=$flavour" --build-arg "TORCH_SPEC=${TORCH_SPEC:-$(torch_spec "$flavour")}" "${args[@]}")
held=$(cat container/wheelhouse/.flavour 2>/dev/null || true)
if compgen -G "container/wheelhouse/*.whl" >/dev/null && [[ -n $held && $held != "$flavour" ]]; then
  die "--flavour $flavour: container/wheelhouse/ holds the $held wheels; run container/wheelhouse.sh --flavour $flavour"
fi
if $offline; then
  compgen -G "container/wheelhouse/*.whl" >/dev/null || die "--offline: container/wheelhouse/ is empty; run container/wheelhouse.sh --flavour $flavour"
  args+=(--network none)
else
  if compgen -G "container/wheelhouse/*.whl" >/dev/null; then
    log "build: container/wheelhouse/ holds wheels, so the install is offline anyway"
  fi
  engine_has_bridge || args+=(--network host)
fi

# BuildKit: the Dockerfile bind-mounts container/certs/ into the steps that need it (RUN --mount), so that no
# image layer holds the extra CA certificates. A Docker >= 23 CLI builds with BuildKit only through its buildx
# plugin; a 20.10 CLI (Debian 12's docker.io) has BuildKit built in once asked for. So: the default CLI when it
# has buildx, else a 20.10 CLI beside it (/usr/bin/docker from docker.io while /usr/local/bin holds a newer one).
export DOCKER_BUILDKIT=1
builder=docker
if ! docker buildx version >/dev/null 2>&1; then
  builder=
  for candidate in "$(command -v docker)" /usr/bin/docker; do
    if [[ -x $candidate ]] && [[ $("$candidate" version --format '{{.Client.Version}}' 2>/dev/null) == 20.* ]]; then
      builder=$candidate
      break
    fi
  done
  [[ -n $builder ]] || die "BuildKit is needed (RUN --mount keeps build-time CA certificates out of the image): install the docker buildx plugin, or Debian's docker.io"
fi
start=$(now)
log "build ($flavour): $builder build -f container/Dockerfile -t $tag ${args[*]} ."
"$builder" build -f container/Dockerfile -t "$tag" "${args[@]}" .
size=$(docker image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%.2f GB", $1 / 1e9 }')
log "build: $tag built in $(elapsed "$start") s, image size $size"
