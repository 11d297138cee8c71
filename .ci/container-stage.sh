#!/usr/bin/env bash
# CI stage "container", called by .ci/run. On a fresh machine (CI=true, root) it installs what the stage needs
# (Debian's docker.io for the engine, debootstrap for a local base image), then runs container/ci.sh: start an
# engine if none runs, build the image offline, run it with --network none and check it, clean up.
# Where no engine can be started at all (no dockerd, not root, no CAP_SYS_ADMIN), container/ci.sh skips with a
# loud banner and reports the stage as skipped, with the reason, to .ci/run's table; with CI=true an engine that
# could be started but does not come up fails the stage (CONTAINER_REQUIRED=1: fail always; see container/ci.sh).
# With CI=true as root, a failed apt-get install fails the stage too: the engine could have been installed.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=.ci/stage-report.sh
source .ci/stage-report.sh

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if ((${#missing[@]})); then
  if [[ ${CI:-} == true && $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "container-stage: apt-get install ${missing[*]}" >&2
    rc=0
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } || rc=$?
    if ((rc != 0)); then
      stage_report failed "apt-get install ${missing[*]} failed (exit $rc)"
      exit "$rc"
    fi
  else
    echo "container-stage: missing ${missing[*]} (installed automatically only with CI=true as root)" >&2
  fi
fi
command -v docker >/dev/null || { echo "container-stage: no docker CLI" >&2; }

exec container/ci.sh
