#!/usr/bin/env bash
# CI stage "py312": the HTTP front's tests on Python 3.12, the Python of the GPU image (its CUDA base is Ubuntu
# 24.04). The front's event loop behaves differently there (asyncio.wait_for no longer yields when its awaitable
# is already done, so a pipelined flood was answered back to back without yielding), so its tests run on both.
# `make test-py312` builds .venv-py312 with only what the front imports (no torch) and runs
# tests/reliability/test_front*.py without the suite's conftest. Skipped, and said so, when no Python 3.12 is found.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=.ci/stage-report.sh
source .ci/stage-report.sh

python312=$(make -s print-python312)
if [[ -z $python312 ]]; then
  echo "py312 stage: no python3.12 found (PYTHON312=...); the front's tests ran on Python 3.11 only"
  stage_report skipped "no Python 3.12 on this machine"
  exit 0
fi
make test-py312
stage_report run "front tests on $($python312 --version)"
