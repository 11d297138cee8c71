# shellcheck shell=bash
# How a CI stage tells .ci/run what it did (sourced by the stage scripts, not run).
#
# .ci/run gives each stage its own file in CI_STAGE_REPORT. A stage that can finish with exit 0 without doing
# its work (no Docker engine, no vulnerability database) writes `skipped` and why; it may also write `run` or
# `failed` with a reason for the summary table. Format: one line per call, "OUTCOME<TAB>REASON"; the last line
# counts. The exit status stays authoritative: a non-zero exit is `failed` whatever was written, and a stage
# that writes `failed` fails CI even if it exits 0. Outside .ci/run (CI_STAGE_REPORT unset) this is a no-op.

stage_report() {
  local outcome=$1 reason
  shift
  case $outcome in
    run | skipped | failed) ;;
    *) printf 'stage_report: unknown outcome %q (run, skipped or failed)\n' "$outcome" >&2; return 1 ;;
  esac
  [[ -n ${CI_STAGE_REPORT:-} ]] || return 0
  reason="$*"
  reason=${reason//$'\t'/ }
  reason=${reason//$'\n'/ }
  printf '%s\t%s\n' "$outcome" "$reason" >>"$CI_STAGE_REPORT"
}
