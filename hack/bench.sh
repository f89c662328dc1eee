#!/usr/bin/env bash
# The scale benchmark (issue 6): builds release and runs bench_channel on a fresh local control plane
# with the Partner Center emulator. Prints a table and writes bench/results/channel.json.
#   bash hack/bench.sh [bench_channel flags...]    e.g. --resellers 1000 --idle-secs 30 --out /tmp/b.json
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/tools/build.sh >/dev/null
cargo build --release --locked --bin partner-center-operator --example bench_channel
exec target/release/examples/bench_channel --operator-bin target/release/partner-center-operator "$@"
