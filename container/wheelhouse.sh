#!/usr/bin/env bash
# Fill container/wheelhouse/ with every wheel the image needs, so `docker build` installs offline
# (pip --no-index inside the build; the build itself can then run with --network none).
#
#   container/wheelhouse.sh [--clean]
#
# PYTHON must have the same major.minor as the image's python3 (Debian 12 base: 3.11; Ubuntu 24.04: 3.12).
# TORCH_SPEC picks the torch build: torch==2.13.0 here resolves to the local CPU wheel (pip find-links);
# on a machine with plain PyPI use TORCH_SPEC=torch==2.13.0+cpu TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# for CPU, or the default PyPI build (CUDA, several GB) for a GPU image.
set -euo pipefail
# shellcheck source=container/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

PYTHON=${PYTHON:-python3.11}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
out=container/wheelhouse

[[ ${1:-} != --clean ]] || find "$out" -name '*.whl' -delete
extra=()
if [[ -n "${TORCH_INDEX_URL:-}" ]]; then extra+=(--extra-index-url "$TORCH_INDEX_URL"); fi

start=$(now)
log "wheelhouse: $PYTHON ($("$PYTHON" --version 2>&1)), $TORCH_SPEC -> $out/"
# The project itself is built from source inside the image; setuptools is here for that (offline) build.
"$PYTHON" -m pip wheel --quiet --wheel-dir "$out" "${extra[@]}" "$TORCH_SPEC" . "setuptools>=68" wheel 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
rm -f "$out"/jina_class_embedding_serving-*.whl
log "wheelhouse: $(find "$out" -name '*.whl' | wc -l) wheels, $(du -sh "$out" | cut -f1), $(elapsed "$start") s"
