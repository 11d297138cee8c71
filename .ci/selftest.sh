#!/usr/bin/env bash
# Self-test of .ci/run's stage table (.ci/stages.sh, .ci/stage-report.sh) with fake stages: nothing real runs,
# it takes about a second. Each case runs a small pipeline in a child bash and checks its table and exit status.
#
#   .ci/selftest.sh          # prints each case's table; exit 0 when every check holds
set -euo pipefail
cd "$(dirname "$0")/.."

failures=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# pipeline SCRIPT: run SCRIPT (bash, after sourcing .ci/stages.sh and calling ci_init) in a child shell;
# sets $rc, leaves the output in $out.
pipeline() {
  rc=0
  env -u CI -u CI_DRY_RUN bash -c "set -euo pipefail; source .ci/stages.sh; ci_init; $1" >"$out" 2>&1 || rc=$?
}

check() { # check DESCRIPTION CONDITION...
  local what=$1
  shift
  if "$@"; then printf '  ok    %s\n' "$what"; else printf '  FAIL  %s\n' "$what"; failures=$((failures + 1)); fi
}
row() { grep -Eq "^$1 +$2 +[0-9:-]+ +$3" "$out"; } # row STAGE OUTCOME WHY-REGEX
show() { printf '\n--- %s (exit %d) ---\n' "$1" "$rc"; sed -n '/===== CI summary/,$p' "$out"; }

# Fake stages. They report as the real ones do, through .ci/stage-report.sh and CI_STAGE_REPORT.
say() { printf 'bash -c %q' "source .ci/stage-report.sh; stage_report $1; exit ${2:-0}"; }

pipeline "ci_plan tests lint security container
  ci_stage tests 'fake make test' true
  ci_stage lint 'fake lint' $(say 'run "ruff: clean"')
  ci_stage security 'fake scan' $(say 'skipped "no vulnerability database reachable"')
  ci_skip container 'no executable .ci/container-stage.sh in this checkout'"
show "all pass, one skip"
check "exit 0" test "$rc" -eq 0
check "tests run" row tests run "exit 0"
check "lint run, with its reason" row lint run "ruff: clean"
check "security skipped, with why" row security skipped "no vulnerability database reachable"
check "container skipped by ci_skip" row container skipped "no executable"
check "verdict line" grep -q '^CI PASSED: 2 run, 2 skipped, 0 failed, 0 not reached' "$out"

pipeline "ci_plan tests lint security container
  ci_stage tests 'fake make test' true
  ci_stage lint 'fake lint' false
  ci_stage security 'fake scan' true"
show "a stage fails"
check "exit status of the failing stage" test "$rc" -eq 1
check "lint failed" row lint failed "exit 1"
check "later stages not reached" row security "not reached" "an earlier stage failed"
check "planned but never started stage listed" row container "not reached" "an earlier stage failed"
check "no stage runs after the failure" bash -c "! grep -q '===== security' '$out'"
check "verdict line" grep -q '^CI FAILED: 1 run, 0 skipped, 1 failed, 2 not reached' "$out"

pipeline "ci_plan security container
  ci_stage security 'strict scan' $(say 'failed "scan not performed with SECURITY_STRICT=1"' 2)
  ci_stage container 'fake container' true"
show "a stage fails with a reason"
check "exit 2" test "$rc" -eq 2
check "reason kept" row security failed "exit 2: scan not performed"

pipeline "ci_plan container
  ci_stage container 'says failed, exits 0' $(say 'failed "step base image failed"' 0)"
show "a stage reports failed but exits 0"
check "CI fails anyway" test "$rc" -eq 1
check "row says so" row container failed "reported a failure \\(exit 0\\): step base image failed"

pipeline "ci_plan tests container
  boom() { exit 7; }
  ci_stage tests 'the runner dies inside a stage' boom"
show ".ci/run dies while a stage runs"
check "exit 7" test "$rc" -eq 7
check "stage marked interrupted" row tests failed "interrupted: .ci/run exited 7"
check "next stage not reached" row container "not reached" "an earlier stage failed"

pipeline "ci_plan tests
  false
  ci_stage tests 'never started' true"
show ".ci/run fails outside any stage"
check "exit 1" test "$rc" -eq 1
check "stage not reached, with .ci/run's status" row tests "not reached" ".ci/run stopped before it \\(exit 1\\)"
check "says .ci/run itself failed" grep -q 'ci/run itself exited 1 outside any stage' "$out"

rc=0
CI=true CI_DRY_RUN=1 .ci/run >"$out" 2>&1 || rc=$?
check "CI_DRY_RUN refused with CI=true (exit 2)" test "$rc" -eq 2

rc=0
env -u CI CI_DRY_RUN=1 .ci/run >"$out" 2>&1 || rc=$?
show ".ci/run itself, CI_DRY_RUN=1"
check "dry run of .ci/run lists every stage" bash -c "grep -cE '^(tests|lint|security|container) +skipped +.*dry run' '$out' | grep -qx 4"

printf '\n%s\n' "$( ((failures == 0)) && echo "selftest: all checks passed" || echo "selftest: $failures check(s) FAILED")"
((failures == 0))
