#!/usr/bin/env bash
# The Customer provisioning benchmark: builds release and runs bench_customers (crates/bench) on a
# fresh local control plane with the Partner Center emulator. Prints a table and writes
# bench/results/customers.json.
#   bash hack/bench-customers.sh [bench_customers flags...]    e.g. --customers 50 --idle-secs 10
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/tools/build.sh >/dev/null
cargo build --release --locked -p partner-center-operator -p pco-bench --bin partner-center-operator --bin bench_customers
exec target/release/bench_customers --operator-bin target/release/partner-center-operator "$@"
