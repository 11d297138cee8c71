#!/usr/bin/env bash
# CI stage "browser": the playground (/) and the API docs (/docs) in headless Chromium (`make test-browser`,
# tests/browser). Needs Debian's chromium and chromium-driver; Selenium is given their paths and never downloads a
# browser or driver. On a fresh machine with CI=true as root the two packages are installed with apt-get (a failed
# install fails the stage); anywhere else without them the stage prints why and is reported as skipped (exit 0).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=.ci/stage-report.sh
source .ci/stage-report.sh

have_browser() {
  command -v chromedriver >/dev/null && { command -v chromium >/dev/null || command -v chromium-browser >/dev/null; }
}

if ! have_browser; then
  if [[ ${CI:-} == true && $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "browser-stage: apt-get install chromium chromium-driver" >&2
    rc=0
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } || rc=$?
    if ((rc != 0)); then
      stage_report failed "apt-get install chromium chromium-driver failed (exit $rc)"
      exit "$rc"
    fi
  else
    why="no chromium/chromedriver on PATH (installed automatically only with CI=true as root: apt-get install -y chromium chromium-driver)"
    printf '\n*** browser stage SKIPPED: %s ***\n\n' "$why" >&2
    stage_report skipped "$why"
    exit 0
  fi
fi

make test-browser
stage_report run "playground and /docs checked in $(chromium --version 2>/dev/null || chromium-browser --version 2>/dev/null || echo Chromium)"
