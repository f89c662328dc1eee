#!/usr/bin/env bash
# Regenerates charts/partner-center-operator/README.md (what `helm show readme` prints) from the
# descriptions in values.schema.json and the defaults in values.yaml. The generator is the test
# that checks the README for drift (tests/helm.rs, chart_readme_is_generated_from_the_schema).
set -euo pipefail
cd "$(dirname "$0")/.."
UPDATE_CHART_README=1 cargo test --quiet --test helm chart_readme_is_generated_from_the_schema -- --exact
echo "wrote charts/partner-center-operator/README.md"
