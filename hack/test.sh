#!/usr/bin/env bash
# The project's whole test suite, from a fresh machine: builds the pinned control-plane tools
# (cached under ~/.cache/partner-center-operator), then runs every unit and integration test.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo (Rust >= 1.89) is required" >&2; exit 1; }
command -v go >/dev/null || { echo "go (>= 1.26; the tool modules declare go 1.26 and toolchain download is off) is required to build the test control plane" >&2; exit 1; }
bash hack/tools/build.sh >/dev/null
# MSAL for Python (pinned, hashed) in a cached virtualenv, for tests/msal.rs.
command -v python3 >/dev/null || { echo "python3 (>= 3.9, with venv) is required for tests/msal.rs" >&2; exit 1; }
bash hack/tools/python/venv.sh >/dev/null
# The suite starts several control planes; two test threads fit a 2-core machine.
# --no-fail-fast: one failing test binary must not hide the results of the others. --workspace:
# the emulator crate's own unit tests too.
cargo test --locked --workspace --all-targets --no-fail-fast -- --test-threads "${PCO_TEST_THREADS:-2}"
