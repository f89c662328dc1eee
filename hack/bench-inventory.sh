#!/usr/bin/env bash
# The inventory (audit) benchmark: builds release and runs bench_inventory (crates/bench) on a fresh
# local control plane with the Partner Center emulator per account size. Prints a table per size
# and the curve, and writes bench/results/inventory.json.
#   bash hack/bench-inventory.sh [bench_inventory flags...]    e.g. --customers 1000,10000 --declared 150 --detail-budget 100
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/tools/build.sh >/dev/null
cargo build --release --locked -p partner-center-operator -p pco-bench --bin partner-center-operator --bin bench_inventory
exec target/release/bench_inventory --operator-bin target/release/partner-center-operator "$@"
