#!/usr/bin/env bash
# CI stage "container", called by .ci/run. On a fresh machine (CI=true, root) it installs what the stage needs
# (Debian's docker.io for the engine, debootstrap for a local base image), then runs container/ci.sh: start an
# engine if none runs, build the image offline, run it with --network none and check it, clean up.
# Where no engine can be started, container/ci.sh skips with a loud banner (CONTAINER_REQUIRED=1: fail).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if ((${#missing[@]})); then
  if [[ ${CI:-} == true && $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "container-stage: apt-get install ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "container-stage: missing ${missing[*]} (installed automatically only with CI=true as root)" >&2
  fi
fi
command -v docker >/dev/null || { echo "container-stage: no docker CLI" >&2; }

exec container/ci.sh
