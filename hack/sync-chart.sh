#!/usr/bin/env bash
# The chart renders YAML whose single source lives elsewhere in the repository: the CRDs (crds/,
# generated from src/api), the admission policy and RBAC roles (deploy/), the emulator's demo
# fixtures (examples/emulator/). Helm can only read files inside the chart, so this copies them
# into charts/partner-center-operator/files/ — never edit the copies. tests/helm.rs fails when they
# differ from their sources.
#   hack/sync-chart.sh           copy
#   hack/sync-chart.sh --check   exit 1 and list the differences instead of copying
set -euo pipefail
cd "$(dirname "$0")/.."
files=charts/partner-center-operator/files
# source -> copy; the copies mirror the source layout under files/.
sources=(crds/*.yaml deploy/admission/*.yaml deploy/rbac/*.yaml examples/emulator/fixtures.yaml)
if [ "${1:-}" = "--check" ]; then
  status=0
  for src in "${sources[@]}"; do
    cmp -s "$src" "$files/$src" || { echo "differs from its source: $files/$src (run hack/sync-chart.sh)" >&2; status=1; }
  done
  # A copy whose source was removed or renamed is stale.
  while IFS= read -r copy; do
    src=${copy#"$files/"}
    [ -f "$src" ] || { echo "stale copy (source $src is gone): $copy" >&2; status=1; }
  done < <(find "$files" -type f -name '*.yaml' | sort)
  exit $status
fi
rm -rf "$files/crds" "$files/deploy" "$files/examples"
for src in "${sources[@]}"; do
  mkdir -p "$files/$(dirname "$src")"
  cp "$src" "$files/$src"
done
echo "synced ${#sources[@]} files into $files"
