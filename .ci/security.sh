#!/usr/bin/env bash
# Dependency vulnerability scan of the installed environment (pip-audit), plus how to scan the image.
#
#   .ci/security.sh                 # audits $PY's environment (default .venv/bin/python, else python3)
#   SECURITY_STRICT=1 .ci/security.sh   # also fail when no vulnerability database could be reached
#
# Exit status: 1 when a known vulnerability is found; 0 otherwise. When the vulnerability database cannot
# be reached (no network: PyPI's per-version JSON API and OSV are both needed by pip-audit) the scan did NOT
# happen: this script says so loudly in a banner and exits 0, or 2 with SECURITY_STRICT=1 (never silently
# "No known vulnerabilities", which is what pip-audit prints when every package was skipped). Under .ci/run
# the outcome and its reason also go to CI_STAGE_REPORT (.ci/stage-report.sh): a scan that did not happen is
# listed as "skipped" in the final CI table.
#
# Image scanning (not run here: trivy and grype download their databases and binaries from outside the
# package registries this CI reaches). On a machine with network access:
#   trivy image --scanners vuln,secret --severity HIGH,CRITICAL --exit-code 1 <image>
#   grype <image> --fail-on high
# The image's secrets hygiene (no tokens or keys baked in, no .git, non-root user) is tested by the
# container stage (tests/container).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=.ci/stage-report.sh
source .ci/stage-report.sh

# not_performed REASON: the banner, the CI report, and exit 0 (2 with SECURITY_STRICT=1).
not_performed() {
  banner "SECURITY SCAN NOT PERFORMED: $1"
  if [[ "${SECURITY_STRICT:-0}" == 1 ]]; then
    stage_report failed "scan not performed with SECURITY_STRICT=1: $1"
    exit 2
  fi
  stage_report skipped "$1"
  exit 0
}

PY="${PY:-}"
if [[ -z "$PY" ]]; then
  if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
fi
TOOLS="${SECURITY_TOOLS_VENV:-${TMPDIR:-/tmp}/pip-audit-venv}"
REPORT="${SECURITY_REPORT:-${TMPDIR:-/tmp}/pip-audit.json}"

banner() { printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n!!! %s\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n' "$1"; }

# pip-audit lives in its own venv so it never changes the audited environment.
if [[ ! -x "$TOOLS/bin/pip-audit" ]]; then
  if ! { python3 -m venv "$TOOLS" && "$TOOLS/bin/pip" install --quiet pip-audit; }; then
    not_performed "could not install pip-audit"
  fi
fi

# Audit what is installed in $PY's environment (its `pip freeze`, local and editable packages left out).
REQS="$(mktemp)"
"$PY" -m pip freeze --exclude-editable 2>/dev/null | grep -v -E '^(-e |#)|@ file:' | sed -E 's/\+[a-z0-9.]+$//' > "$REQS"
echo "auditing $(wc -l < "$REQS") packages from $("$PY" -c 'import sys; print(sys.prefix)')"

"$TOOLS/bin/pip-audit" --requirement "$REQS" --no-deps --disable-pip --progress-spinner off \
  --format json --output "$REPORT" --timeout 30 2> "$REPORT.stderr"
status=$?
rm -f "$REQS"

python3 - "$REPORT" "$status" "$REPORT.stderr" <<'PY'
import json, sys
path, status, stderr = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    report = json.load(open(path))
except (OSError, ValueError):
    print(open(stderr).read()[-2000:])
    sys.exit(3)  # pip-audit itself failed (e.g. no network to the vulnerability service)
deps = report.get("dependencies", [])
skipped = [d for d in deps if d.get("skip_reason")]
vulnerable = [d for d in deps if d.get("vulns")]
for dep in vulnerable:
    for vuln in dep["vulns"]:
        print(f"VULNERABLE {dep['name']} {dep['version']}: {vuln['id']} fixed in {vuln.get('fix_versions')}")
print(f"{len(deps)} packages: {len(deps) - len(skipped)} audited, {len(skipped)} skipped, {len(vulnerable)} vulnerable")
if skipped:
    print("first skip reason:", skipped[0]["skip_reason"])
if vulnerable:
    sys.exit(1)
sys.exit(4 if deps and len(skipped) == len(deps) else 0)
PY
result=$?
case "$result" in
  0) echo "pip-audit: no known vulnerabilities"
     stage_report run "pip-audit: no known vulnerabilities"; exit 0 ;;
  1) echo "pip-audit: known vulnerabilities found (report: $REPORT)"
     stage_report failed "pip-audit: known vulnerabilities found"; exit 1 ;;
  3) not_performed "pip-audit produced no report (no vulnerability database reachable? its error is above)" ;;
  *) not_performed "no vulnerability database reachable (pip-audit skipped every package)" ;;
esac
