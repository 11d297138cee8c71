# shellcheck shell=bash
# The stage runner behind .ci/run (sourced, not run). Each stage runs with CI_STAGE_REPORT pointing at its own
# file (.ci/stage-report.sh writes it); when .ci/run exits, for any reason, an EXIT trap prints one row per
# planned stage, then exits non-zero if any stage failed:
#
#   run          the stage did its work and exited 0
#   skipped      it exited 0 without doing its work, and wrote why (e.g. no vulnerability database reachable)
#   failed       it exited non-zero, or wrote `failed`; CI fails
#   not reached  an earlier stage failed (stages stop at the first failure, as before)
#
#   ci_init                          report folder + traps (call first)
#   ci_plan NAME...                  every stage, in order (so the table also lists those never reached)
#   ci_stage NAME TITLE CMD [ARG...] run one stage; on failure, exit with its status (the trap prints the table)
#   ci_skip NAME REASON              record a stage as skipped without running anything
#
# CI_DRY_RUN=1: print each stage's command instead of running it (recorded as skipped); refused with CI=true.

CI_STAGES=()
declare -gA CI_OUTCOME=() CI_REASON=() CI_SECONDS=()
CI_CURRENT=
CI_CURRENT_START=0
CI_REPORT_DIR=

ci_init() {
  if [[ -n ${CI_DRY_RUN:-} && ${CI:-} == true ]]; then
    echo "ci: CI_DRY_RUN is set together with CI=true; refusing to report stages that did not run" >&2
    exit 2
  fi
  CI_REPORT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ci-stages.XXXXXX")
  trap ci_summary EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

ci_plan() { CI_STAGES=("$@"); }

_ci_add() {
  local name
  for name in "${CI_STAGES[@]}"; do [[ $name == "$1" ]] && return 0; done
  CI_STAGES+=("$1")
}

ci_stage() {
  local name=$1 title=$2 rc=0 report
  shift 2
  _ci_add "$name"
  report=$CI_REPORT_DIR/$name.report
  : >"$report"
  printf '\n===== %s: %s (%s) =====\n' "$name" "$title" "$(date -u +%H:%M:%S)"
  CI_CURRENT=$name
  CI_CURRENT_START=$SECONDS
  if [[ -n ${CI_DRY_RUN:-} ]]; then
    printf 'dry run, would run:'; printf ' %q' "$@"; printf '\n'
    printf 'skipped\tdry run (CI_DRY_RUN=%s): would run %s\n' "$CI_DRY_RUN" "$*" >"$report"
  else
    CI_STAGE_REPORT=$report "$@" || rc=$?
  fi
  ci_record "$name" "$rc" "$report" || rc=$?
  CI_CURRENT=
  ((rc == 0)) || exit "$rc"
}

ci_skip() {
  _ci_add "$1"
  printf '\n===== %s: skipped (%s) =====\n%s\n' "$1" "$(date -u +%H:%M:%S)" "$2"
  CI_OUTCOME[$1]=skipped
  CI_REASON[$1]=$2
  CI_SECONDS[$1]=0
}

# ci_record NAME EXIT_STATUS REPORT_FILE: decide the stage's outcome; returns non-zero when it failed.
ci_record() {
  local name=$1 rc=$2 report=$3 line="" said="" why=""
  if [[ -s $report ]]; then line=$(tail -n 1 "$report"); fi
  if [[ $line == *$'\t'* ]]; then
    said=${line%%$'\t'*}
    why=${line#*$'\t'}
  fi
  CI_SECONDS[$name]=$((SECONDS - CI_CURRENT_START))
  if ((rc != 0)); then
    CI_OUTCOME[$name]=failed
    CI_REASON[$name]="exit $rc${why:+: $why}"
    return "$rc"
  fi
  case $said in
    skipped)
      CI_OUTCOME[$name]=skipped
      CI_REASON[$name]=${why:-the stage reported a skip without a reason} ;;
    failed)
      CI_OUTCOME[$name]=failed
      CI_REASON[$name]="reported a failure (exit 0)${why:+: $why}"
      return 1 ;;
    *)
      CI_OUTCOME[$name]=run
      CI_REASON[$name]=${why:-exit 0} ;;
  esac
}

_ci_duration() {
  if [[ -z ${1:-} ]]; then printf -- '-'; else printf '%d:%02d' $(($1 / 60)) $(($1 % 60)); fi
}

ci_summary() {
  local rc=$? name outcome why width=5 failed=0 skipped=0 ran=0 missing=0
  set +e
  if [[ -n $CI_CURRENT ]]; then # .ci/run stopped while a stage ran (a signal, or an error in .ci/run itself)
    CI_OUTCOME[$CI_CURRENT]=failed
    CI_REASON[$CI_CURRENT]="interrupted: .ci/run exited $rc while this stage ran"
    CI_SECONDS[$CI_CURRENT]=$((SECONDS - CI_CURRENT_START))
  fi
  for name in "${CI_STAGES[@]}"; do ((${#name} > width)) && width=${#name}; done
  printf '\n===== CI summary (%s) =====\n' "$(date -u +%H:%M:%S)"
  printf '%-*s  %-11s  %6s  %s\n' "$width" STAGE OUTCOME TIME WHY
  for name in "${CI_STAGES[@]}"; do
    outcome=${CI_OUTCOME[$name]:-not reached}
    why=${CI_REASON[$name]:-}
    case $outcome in
      run) ran=$((ran + 1)) ;;
      skipped) skipped=$((skipped + 1)) ;;
      failed) failed=$((failed + 1)) ;;
      *) missing=$((missing + 1))
         if ((failed)); then why="an earlier stage failed"; else why=".ci/run stopped before it (exit $rc)"; fi ;;
    esac
    printf '%-*s  %-11s  %6s  %s\n' "$width" "$name" "$outcome" "$(_ci_duration "${CI_SECONDS[$name]:-}")" "$why"
  done
  if ((failed && rc == 0)); then rc=1; fi
  if ((rc != 0 && failed == 0)); then
    printf '(.ci/run itself exited %d outside any stage)\n' "$rc"
  fi
  printf 'CI %s: %d run, %d skipped, %d failed, %d not reached\n' \
    "$( ((rc == 0)) && echo PASSED || echo FAILED)" "$ran" "$skipped" "$failed" "$missing"
  [[ -n $CI_REPORT_DIR ]] && rm -rf "$CI_REPORT_DIR"
  exit "$rc"
}
