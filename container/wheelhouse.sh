#!/usr/bin/env bash
# Fill container/wheelhouse/ with every wheel the image needs, so `docker build` installs offline
# (pip --no-index inside the build; the build itself can then run with --network none).
#
#   container/wheelhouse.sh [--flavour gpu|cpu] [--clean]
#
# --flavour gpu (default): torch==2.10.0 from PyPI, the CUDA 12.8 build, with its nvidia-*-cu12 wheels (~4 GB).
# --flavour cpu: torch==2.13.0, which here resolves to the local CPU wheel (pip find-links); on a machine with
#   plain PyPI use TORCH_SPEC=torch==2.13.0+cpu TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu.
# The folder holds one flavour at a time (container/wheelhouse/.flavour): switching flavours empties it first.
# PYTHON must have the same major.minor as the image's python3 (Debian 12 base: 3.11; Ubuntu 24.04: 3.12).
set -euo pipefail
# shellcheck source=container/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

PYTHON=${PYTHON:-python3.11}
out=container/wheelhouse
flavour=gpu
clean=false
while (($#)); do
  case $1 in
    --flavour) flavour=$2; shift 2 ;;
    --clean) clean=true; shift ;;
    *) die "unknown option $1 (usage: container/wheelhouse.sh [--flavour gpu|cpu] [--clean])" ;;
  esac
done
case $flavour in
  gpu) TORCH_SPEC=${TORCH_SPEC:-$(torch_spec gpu)} ;;
  cpu) TORCH_SPEC=${TORCH_SPEC:-$(torch_spec cpu)} ;;
  *) die "--flavour must be gpu or cpu, not $flavour" ;;
esac
if [[ $(cat "$out/.flavour" 2>/dev/null) != "$flavour" ]]; then clean=true; fi
! $clean || find "$out" -name '*.whl' -delete
extra=()
if [[ -n "${TORCH_INDEX_URL:-}" ]]; then extra+=(--extra-index-url "$TORCH_INDEX_URL"); fi

start=$(now)
log "wheelhouse ($flavour): $PYTHON ($("$PYTHON" --version 2>&1)), $TORCH_SPEC -> $out/"
# The project itself is built from source inside the image; setuptools is here for that (offline) build.
"$PYTHON" -m pip wheel --quiet --wheel-dir "$out" "${extra[@]}" "$TORCH_SPEC" . "setuptools>=68" wheel 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
rm -f "$out"/jina_class_embedding_serving-*.whl
echo "$flavour" >"$out/.flavour"
log "wheelhouse: $(find "$out" -name '*.whl' | wc -l) wheels, $(du -sh "$out" | cut -f1), $(elapsed "$start") s"
