#!/usr/bin/env bash
# Runs inside `docker build` (container/Dockerfile): creates the virtualenv and installs torch + the service.
#
#   install-venv.sh VENV SRC WHEELS
#
# Offline when WHEELS holds wheels (container/wheelhouse.sh made them on the host): pip --no-index, so the
# build needs no network at all. Otherwise online: TORCH_SPEC from TORCH_INDEX_URL (if set) or the index.
set -euo pipefail

venv=${1:?venv path}
src=${2:?source path}
wheels=${3:?wheelhouse path}
torch_spec=${TORCH_SPEC:-torch}

if [[ -f /etc/embed-build-ca.pem ]]; then
  export PIP_CERT=/etc/embed-build-ca.pem SSL_CERT_FILE=/etc/embed-build-ca.pem REQUESTS_CA_BUNDLE=/etc/embed-build-ca.pem
fi
# Empty build args must not reach pip as empty index URLs.
[[ -n "${PIP_INDEX_URL:-}" ]] || unset PIP_INDEX_URL
[[ -n "${PIP_EXTRA_INDEX_URL:-}" ]] || unset PIP_EXTRA_INDEX_URL

python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip)

if compgen -G "$wheels/*.whl" >/dev/null; then
  echo "install-venv: offline install from the wheelhouse ($(find "$wheels" -name '*.whl' | wc -l) wheels)"
  "${pip[@]}" install --no-index --find-links "$wheels" "$torch_spec" "$src"
else
  echo "install-venv: online install (no wheels in the wheelhouse)"
  if [[ -n "${TORCH_INDEX_URL:-}" ]]; then
    "${pip[@]}" install --index-url "$TORCH_INDEX_URL" "$torch_spec"
  fi
  "${pip[@]}" install "$torch_spec" "$src"
fi

"${pip[@]}" check
# Fail the build, not the endpoint, if the service cannot even be imported.
"$venv/bin/python" -c 'import inference.server, inference.api.app, torch, transformers; print("torch", torch.__version__)'
rm -rf "$src/build" "$src"/*.egg-info
