#!/usr/bin/env bash
# The test command (README): makes sure a Docker engine answers and the test images exist, then
# runs fmt, clippy and the whole test suite, real-engine tests included.
# Idempotent; runs as root on a fresh Debian 12 machine with only Rust installed.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

pidfile=$(mktemp)
export DOPS_DOCKERD_PIDFILE=$pidfile
# Stop only a dockerd that this run started, by its pid.
stop_our_dockerd() {
  local pid
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    echo "test: stopping the dockerd this run started (pid $pid)" >&2
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  fi
  rm -f "$pidfile"
}
trap stop_our_dockerd EXIT

./install.sh engine
./install.sh test-image
# Real DNS clients (dig, nsupdate) for the DNS tests; openssl makes the certificates of the remote
# engine test (TLS). The base image's own needs (debootstrap when debian:bookworm-slim cannot be
# pulled) are install.sh's business: see `./install.sh base-image`.
./install.sh tools bind9-dnsutils openssl
# Headless Chromium and its WebDriver for the dashboard's browser test (tests/ui_browser.rs).
./install.sh tools chromium chromium-driver

cargo fmt --check
cargo clippy --all-targets -- -D warnings
# The base image (for the demo test) takes the debug dops-init that the tests build anyway:
# any dops-init will do there, since dops injects its own into every image it builds.
cargo build --bins
DOPS_INIT_BIN="$PWD/target/x86_64-unknown-linux-gnu/debug/dops-init" ./install.sh base-image
cargo test --no-fail-fast "$@"
