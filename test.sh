#!/usr/bin/env bash
# Run the whole test suite: unit, property and integration tests (the built binary driven by
# the real kubectl and the Python client). Installs what the tests need first.
set -euo pipefail
cd "$(dirname "$0")"
./install.sh --test-deps
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/rk3s-target}"
cargo test --locked --workspace -- --test-threads=2
