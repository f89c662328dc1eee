#!/usr/bin/env bash
# Builds the binaries the container image ships (the operator and the Partner Center emulator) — the
# one place their target and flags are written: the Dockerfile RUNs this script, and tests/image.rs
# runs it to check the result.
# A static executable on the gnu target (+crt-static): the only Rust target guaranteed here, and
# the runtime image (distroless/static) has no libc. RUSTFLAGS with an explicit --target apply to
# the target only, not to build scripts and proc-macros.
#   hack/build-image-binary.sh [OUT]   prints the path of the operator binary (copied to OUT if given;
#                                      the emulator is copied beside it as partner-center-emulator)
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
export RUSTFLAGS="-C target-feature=+crt-static"
cargo build --locked --release --target "$target" --workspace --bin partner-center-operator --bin partner-center-emulator >&2
bin="${CARGO_TARGET_DIR:-target}/$target/release/partner-center-operator"
if [ $# -ge 1 ]; then
  mkdir -p "$(dirname "$1")"
  cp "$bin" "$1"
  cp "$(dirname "$bin")/partner-center-emulator" "$(dirname "$1")/partner-center-emulator"
  bin=$1
fi
echo "$bin"
