#!/usr/bin/env bash
# CI stage "docs": build the documentation site from a clean clone with warnings as errors (`make docs`:
# mkdocs build --strict, which checks every internal link and anchor and regenerates the endpoint and configuration
# references from the code), then run the documentation tests (tests/docs): the strict build into a scratch
# folder, the executable examples of the guides, every README section's home in the site, and the request bodies
# and key files the pages show. External http(s) links are not checked (CI has no network).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=.ci/stage-report.sh
source .ci/stage-report.sh

make docs
pages=$(find site -name index.html | wc -l)
.venv/bin/python -m pytest -q -p no:cacheprovider tests/docs
examples=$(.venv/bin/python -c 'from tests.docs.docs_pages import all_examples; print(len(all_examples()))')
stage_report run "site built with --strict ($pages pages); $examples documented examples executed"
