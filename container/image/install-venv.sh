#!/usr/bin/env bash
# Runs inside `docker build` (container/Dockerfile): the virtualenv with torch and the service.
#
#   install-venv.sh deps VENV SRC WHEELS   create VENV; install torch + the dependencies of SRC/pyproject.toml
#                                          (SRC holds only pyproject.toml here: a stub package stands in for
#                                          inference/, so this layer is cached until pyproject.toml changes)
#   install-venv.sh app  VENV SRC WHEELS   install the service from SRC (no dependency changes) and check it
#
# Offline when WHEELS holds wheels (container/wheelhouse.sh made them on the host): pip --no-index, so the
# build needs no network at all. Otherwise online: TORCH_SPEC from TORCH_INDEX_URL (if set), then the index.
set -euo pipefail

step=${1:?deps|app}
venv=${2:?venv path}
src=${3:?source path}
wheels=${4:?wheelhouse path}
torch_spec=${TORCH_SPEC:-torch}

if [[ -f /etc/embed-build-ca.pem ]]; then
  export PIP_CERT=/etc/embed-build-ca.pem SSL_CERT_FILE=/etc/embed-build-ca.pem REQUESTS_CA_BUNDLE=/etc/embed-build-ca.pem
fi
# Empty build args must not reach pip as empty index URLs.
[[ -n "${PIP_INDEX_URL:-}" ]] || unset PIP_INDEX_URL
[[ -n "${PIP_EXTRA_INDEX_URL:-}" ]] || unset PIP_EXTRA_INDEX_URL

pip=("$venv/bin/python" -m pip)
offline=()
if compgen -G "$wheels/*.whl" >/dev/null; then offline=(--no-index --find-links "$wheels"); fi

case $step in
  deps)
    python3 -m venv "$venv"
    mkdir -p "$src/inference" && touch "$src/inference/__init__.py"
    if ((${#offline[@]})); then
      echo "install-venv: offline install from the wheelhouse ($(find "$wheels" -name '*.whl' | wc -l) wheels)"
      "${pip[@]}" install "${offline[@]}" "$torch_spec" "$src"
    else
      echo "install-venv: online install (no wheels in the wheelhouse)"
      if [[ -n "${TORCH_INDEX_URL:-}" ]]; then
        "${pip[@]}" install --index-url "$TORCH_INDEX_URL" "$torch_spec"
      fi
      "${pip[@]}" install "$torch_spec" "$src"
    fi
    ;;
  app)
    # --no-deps: the dependencies are the previous layer's (the build backend, setuptools, comes from the
    # wheelhouse offline, from the index online).
    "${pip[@]}" install "${offline[@]}" --no-deps --force-reinstall "$src"
    "${pip[@]}" check
    # Fail the build, not the endpoint, if the service cannot even be imported.
    "$venv/bin/python" -c 'import inference.runtime.server, inference.api.app, torch, transformers; print("torch", torch.__version__)'
    ;;
  *) echo "install-venv: unknown step $step" >&2; exit 2 ;;
esac
rm -rf "$src/build" "$src"/*.egg-info
