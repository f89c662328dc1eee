#!/usr/bin/env bash
# The scale benchmark: builds release and runs bench_channel (crates/bench) on a fresh local control
# plane with the Partner Center emulator. Prints a table and writes bench/results/channel.json.
#   bash hack/bench.sh [bench_channel flags...]    e.g. --resellers 1000 --idle-secs 30 --out /tmp/b.json
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/tools/build.sh >/dev/null
cargo build --release --locked -p partner-center-operator -p pco-bench --bin partner-center-operator --bin bench_channel
exec target/release/bench_channel --operator-bin target/release/partner-center-operator "$@"
