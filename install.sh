#!/usr/bin/env bash
# dops set-up: build and install the two static binaries, make sure a Docker engine answers,
# and build the dops base image. Idempotent: a second run changes nothing and is fast.
#
#   ./install.sh               everything (what the README tells a user to run)
#   ./install.sh engine        only make sure a Docker engine answers (test.sh uses this)
#   ./install.sh test-image    only the fast busybox test image dops-test/busybox
#   ./install.sh base-image    only dops/base:bookworm (with $DOPS_INIT_BIN if set, else the release build)
#   ./install.sh tools NAME..  install Debian packages that tests and benches need, if missing
#
# The order puts what can fail for lack of something on the machine (Rust, a Docker engine, the
# tools for the base image's root filesystem) before the long cargo build, so that a machine
# missing something is told so in seconds, not after minutes of compiling.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"
here=$(pwd)

say() { printf 'install: %s\n' "$*" >&2; }
die() { printf 'install: error: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }
is_debian() { [ -f /etc/debian_version ]; }

# Install Debian packages that are missing (root on Debian only).
ensure_packages() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  is_root && is_debian || die "missing packages: ${missing[*]} (install them, e.g. 'sudo apt-get install ${missing[*]}')"
  say "apt-get install ${missing[*]}"
  # Wait (bounded) for another apt/dpkg run to finish instead of failing on its lock: several
  # checkouts on one machine may install tools at the same time.
  local apt=(apt-get -o DPkg::Lock::Timeout=300 -q)
  # The package lists are refreshed only when the install cannot be done with them as they are.
  if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" update >/dev/null
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

docker_answers() { command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; }

# Make sure `docker info` answers. Starts dockerd detached when we are root on Debian and none runs.
# Prints the pid of a dockerd it started into $DOPS_DOCKERD_PIDFILE (so the caller can stop only that).
ensure_engine() {
  docker_answers && return 0
  if ! is_root || ! is_debian; then
    die "no Docker engine answers: start dockerd (e.g. 'sudo systemctl start docker'), or install Docker (Debian: 'sudo apt-get install docker.io'), and make sure you can use /var/run/docker.sock"
  fi
  command -v dockerd >/dev/null 2>&1 || ensure_packages docker.io
  command -v docker >/dev/null 2>&1 || ensure_packages docker-cli
  local log=/var/log/dops-dockerd.log
  say "starting dockerd (log: $log)"
  # Detached: its own session, no pipe of ours held open, so a CI runner is never kept waiting.
  setsid dockerd >"$log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"${DOPS_DOCKERD_PIDFILE:-/run/dops-dockerd.pid}"
  for _ in $(seq 1 60); do
    docker_answers && { say "dockerd answers (pid $pid)"; return 0; }
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log" >&2; die "dockerd exited; see $log"; }
    sleep 1
  done
  die "dockerd did not answer within 60 s; see $log"
}

# dops-test/busybox: a busybox-static root filesystem, imported. Small and fast for tests.
ensure_test_image() {
  docker image inspect dops-test/busybox >/dev/null 2>&1 && return 0
  ensure_packages busybox-static
  local root
  root=$(mktemp -d)
  mkdir -p "$root"/{bin,etc,tmp,data,root,proc,sys,dev,run,var/log,opt,home}
  cp /bin/busybox "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  chmod 1777 "$root/tmp"
  say "importing dops-test/busybox"
  tar -C "$root" -c . | docker import -c 'ENV PATH=/bin' -c 'CMD ["/bin/sh"]' - dops-test/busybox >/dev/null
  rm -rf "$root"
}

base_build=$here/base-images/debian/build.sh

# The base image's root filesystem (dops/base-rootfs:bookworm, made once): `docker pull
# debian:bookworm-slim`, else debootstrap. Needs no dops-init, so it runs before the cargo build.
# As root on Debian the debootstrap fallback's packages are installed first (a few seconds, and
# only while the root filesystem is still to be made); elsewhere build.sh tries the pull and, if
# that fails, says which packages are missing.
ensure_rootfs() {
  local image=${DOPS_BASE_ROOTFS_IMAGE:-dops/base-rootfs:bookworm}
  if [ -z "${DOPS_ROOTFS_FORCE:-}" ] && docker image inspect "$image" >/dev/null 2>&1; then
    return 0
  fi
  if is_root && is_debian; then
    # shellcheck disable=SC2046 # one package name per word
    ensure_packages $("$base_build" packages)
  fi
  "$base_build" rootfs
  # DOPS_ROOTFS_FORCE asks for one new root filesystem: done, so build.sh must not redo it.
  unset DOPS_ROOTFS_FORCE
}

# dops/base:bookworm from base-images/debian: the root filesystem (ensure_rootfs, run before)
# + dops-init.
ensure_base_image() {
  "$base_build"
}

need_rust() {
  command -v cargo >/dev/null 2>&1 ||
    die "cargo not found: install Rust (https://rustup.rs, or Debian: 'sudo apt-get install cargo'), then run ./install.sh again"
}

build_binaries() {
  need_rust
  say "building static binaries (release)"
  cargo build --release --quiet --bins
}

install_binaries() {
  local dest
  if is_root; then dest=/usr/local/bin; else dest="$HOME/.local/bin"; fi
  mkdir -p "$dest"
  local out=target/x86_64-unknown-linux-gnu/release
  for b in dops dops-init; do
    if ! cmp -s "$out/$b" "$dest/$b"; then
      install -m 0755 "$out/$b" "$dest/$b"
      say "installed $dest/$b"
    fi
  done
  case ":$PATH:" in *":$dest:"*) ;; *) say "add $dest to your PATH" ;; esac
}

case "${1:-all}" in
  engine) ensure_engine ;;
  test-image) ensure_engine; ensure_test_image ;;
  base-image)
    ensure_engine
    ensure_rootfs
    # DOPS_INIT_BIN names a dops-init already built (test.sh passes its debug build): no release build then.
    [ -n "${DOPS_INIT_BIN:-}" ] || build_binaries
    ensure_base_image
    ;;
  tools) shift; ensure_packages "$@" ;;
  all)
    need_rust
    ensure_engine
    ensure_rootfs
    build_binaries
    install_binaries
    ensure_base_image
    say "done: try 'dops demo'"
    ;;
  *) die "unknown step '$1' (expected one of: engine, test-image, base-image, tools)" ;;
esac
