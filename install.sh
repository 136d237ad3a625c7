#!/usr/bin/env bash
# Install rk3s on Debian 12 (as root): system packages, a release build of the binary into
# /usr/local/bin, and the kubeconfig directory. Idempotent: re-running only rebuilds what changed.
#   ./install.sh              build and install rk3s
#   ./install.sh --test-deps  also install what the test suite needs (Python client, curl, ...)
set -euo pipefail
cd "$(dirname "$0")"

want_test_deps=false
for a in "$@"; do
  case "$a" in
    --test-deps) want_test_deps=true ;;
    *) echo "usage: $0 [--test-deps]" >&2; exit 2 ;;
  esac
done

apt_packages=(ca-certificates gcc libc6-dev pkg-config)
$want_test_deps && apt_packages+=(python3 python3-pip curl openssl iproute2)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo (the Rust toolchain) is required: install it with rustup first" >&2
  exit 1
fi

if $want_test_deps; then
  python3 -c 'import kubernetes, schemathesis' 2>/dev/null || python3 -m pip install -q kubernetes schemathesis
  command -v kubectl >/dev/null 2>&1 || { echo "error: the tests need kubectl (v1.32) in PATH" >&2; exit 1; }
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/rk3s-target}"
cargo build --release --locked -p rk3s
install -m 0755 "$CARGO_TARGET_DIR/release/rk3s" /usr/local/bin/rk3s
install -d -m 0755 /etc/rk3s
echo "installed /usr/local/bin/rk3s ($(/usr/local/bin/rk3s --version))"
