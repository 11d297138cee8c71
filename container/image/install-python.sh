#!/usr/bin/env bash
# Runs inside `docker build` (container/Dockerfile). Makes sure the base image has Python 3.11 or 3.12
# (with the venv module for --venv), installing it with apt only when it is missing: a base that already has
# it (the CI's debootstrap base) needs no network. Extra CA certificates from container/certs/ (bind-mounted
# read-only at /tmp/extra-ca/ for this step, never copied into a layer) are trusted for the build; with --runtime
# they are removed from the trust store again before the step ends.
#
#   install-python.sh --venv      build stage: python3 + venv/ensurepip; writes /etc/embed-build-ca.pem for pip
#   install-python.sh --runtime   final stage: python3 only; leaves no extra CA behind
set -euo pipefail

mode=${1:?usage: install-python.sh --venv|--runtime}
extra_dir=/tmp/extra-ca
local_ca=/usr/local/share/ca-certificates/embed-extra

extra_certs() {
  find "$extra_dir" -maxdepth 1 -type f \( -name '*.crt' -o -name '*.pem' \) 2>/dev/null | sort
}

trust_extra_certs() {
  local cert
  [[ -n "$(extra_certs)" ]] || return 0
  if command -v update-ca-certificates >/dev/null; then
    mkdir -p "$local_ca"
    while IFS= read -r cert; do
      cp "$cert" "$local_ca/$(basename "${cert%.*}").crt"
    done < <(extra_certs)
    update-ca-certificates >/dev/null
  fi
  # pip uses its own bundle unless told otherwise: the system bundle (if any) plus the extra certificates.
  {
    if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then cat /etc/ssl/certs/ca-certificates.crt; fi
    while IFS= read -r cert; do cat "$cert"; echo; done < <(extra_certs)
  } > /etc/embed-build-ca.pem
}

version_ok() {
  python3 -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 12) else 1)'
}

python_ok() {
  command -v python3 >/dev/null || return 1
  version_ok || return 1
  if [[ $mode == --venv ]]; then
    python3 -c 'import ensurepip, venv' 2>/dev/null || return 1
  fi
}

trust_extra_certs
if python_ok; then
  echo "install-python: using the base image's $(python3 --version)"
else
  if command -v python3 >/dev/null && ! version_ok; then
    echo "install-python: the base image's $(python3 --version) is not 3.11/3.12; use a Debian 12 / Ubuntu 24.04 based image" >&2
    exit 1
  fi
  command -v apt-get >/dev/null || { echo "install-python: no python3 and no apt-get in the base image" >&2; exit 1; }
  packages=(python3 ca-certificates)
  if [[ $mode == --venv ]]; then packages+=(python3-venv); fi
  echo "install-python: apt-get install ${packages[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  rm -rf /var/lib/apt/lists/*
  trust_extra_certs
  python_ok || { echo "install-python: python3 still unusable after apt-get" >&2; exit 1; }
fi

if [[ $mode == --runtime ]]; then
  # The build-time CAs do not ship: the running service makes no outbound TLS connections.
  if [[ -d $local_ca ]]; then
    rm -rf "$local_ca"
    update-ca-certificates --fresh >/dev/null
  fi
  rm -f /etc/embed-build-ca.pem
fi
