#!/usr/bin/env bash
# Build dops/base:bookworm (Debian bookworm slim + dops-init). Called by `./install.sh`; can also
# be run by hand.
#
#   build.sh            both steps below
#   build.sh rootfs     only step 1 (needs no dops-init: install.sh runs it before the long cargo
#                       build, so that a machine that cannot make the root filesystem fails fast)
#   build.sh packages   print the Debian packages step 1 needs when it falls back to debootstrap
#                       (install.sh installs them when it runs as root on Debian)
#
#   1. root filesystem, cached as the image dops/base-rootfs:bookworm (never redone once it exists):
#      `docker pull debian:bookworm-slim` (bounded by a timeout) and retag it, or else
#      `debootstrap --variant=minbase bookworm` from the machine's Debian mirror, trimmed like
#      the official slim images, then `docker import`.
#   2. `docker build` of the Dockerfile beside this script with dops-init copied into a temporary
#      context. Skipped when dops/base:bookworm exists and was built from the same inputs
#      (Dockerfile, dops-init, root filesystem): their hash is the label io.dops.base.inputs.
#
# Environment (all optional):
#   DOPS_INIT_BIN          dops-init to install (default: target/x86_64-unknown-linux-gnu/release/dops-init)
#   DOPS_DEBIAN_MIRROR     Debian mirror for debootstrap (default: from /etc/apt/sources*, else deb.debian.org)
#   DOPS_DEBIAN_SECURITY   Debian security mirror written into the image's apt sources
#   DOPS_PULL_TIMEOUT      seconds allowed for `docker pull debian:bookworm-slim` (default 60; 0 = skip the pull)
#   DOPS_BASE_FORCE=1      rebuild dops/base:bookworm even when its inputs are unchanged
#   DOPS_ROOTFS_FORCE=1    redo the root filesystem too
#   DOPS_BASE_IMAGE, DOPS_BASE_ROOTFS_IMAGE   other tags (tests of this script)
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
repo=$(cd "$here/../.." && pwd)

SUITE=bookworm
IMAGE=${DOPS_BASE_IMAGE:-dops/base:$SUITE}
ROOTFS_IMAGE=${DOPS_BASE_ROOTFS_IMAGE:-dops/base-rootfs:$SUITE}
UPSTREAM=debian:$SUITE-slim
INIT_BIN=${DOPS_INIT_BIN:-$repo/target/x86_64-unknown-linux-gnu/release/dops-init}
PULL_TIMEOUT=${DOPS_PULL_TIMEOUT:-60}

trap 'exit 130' INT TERM # so that the EXIT traps (clean-ups) run on Ctrl-C and kill too
say() { printf 'base-image: %s\n' "$*" >&2; }
die() { printf 'base-image: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

label_of() { # IMAGE LABEL -> value or empty
  docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}
image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }

MODE=${1:-all}
case "$MODE" in all | rootfs | packages) ;; *) die "unknown argument '$MODE' (expected: rootfs, packages, or nothing)" ;; esac

# ---------------------------------------------------------------------------------------------
# Mirrors: from the machine's apt sources (one-line .list and deb822 .sources files).

apt_uris() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [options] URI suite components
    sed -n 's/^[[:space:]]*deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # Skip stanzas that are disabled or not binary ("Types: deb"); print their URIs.
    awk 'BEGIN { RS = ""; FS = "\n" }
         {
           deb = 0; on = 1; n = 0
           for (i = 1; i <= NF; i++) {
             line = $i
             if (line ~ /^[[:space:]]*#/) continue
             if (line ~ /^Types:/ && line ~ /[[:space:]]deb([[:space:]]|$)/) deb = 1
             if (line ~ /^Enabled:[[:space:]]*no/) on = 0
             if (line ~ /^URIs:/) { sub(/^URIs:[[:space:]]*/, "", line); n = split(line, u, /[[:space:]]+/) }
           }
           if (deb && on) for (j = 1; j <= n; j++) print u[j]
         }' "$f"
  done
}

pick_mirror() { # kind: main|security
  local uri
  while read -r uri; do
    case "$uri" in http://* | https://*) ;; *) continue ;; esac
    uri=${uri%/}
    case "$1:$uri" in
      security:*/debian-security) echo "$uri"; return 0 ;;
      main:*/debian) echo "$uri"; return 0 ;;
    esac
  done < <(apt_uris)
  return 1
}

choose_mirrors() {
  mirror=${DOPS_DEBIAN_MIRROR:-$(pick_mirror main || echo http://deb.debian.org/debian)}
  security=${DOPS_DEBIAN_SECURITY:-$(pick_mirror security || echo http://deb.debian.org/debian-security)}
}

# ---------------------------------------------------------------------------------------------
# What the debootstrap fallback needs (Debian package names): debootstrap itself (it pulls in
# wget), gpgv and Debian's archive keyring to verify the mirror's Release files, and CA
# certificates when a mirror is reached over https. perl, dpkg, tar and util-linux (flock, mount)
# are essential packages on Debian.

KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

needed_packages() {
  choose_mirrors
  echo debootstrap gpgv debian-archive-keyring
  case "$mirror $security" in *https://*) echo ca-certificates ;; esac
}

missing_packages() { # the needed packages whose command or file is absent, on one line
  local p out=()
  for p in $(needed_packages); do
    case $p in
      debootstrap) command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || out+=("$p") ;;
      gpgv) command -v gpgv >/dev/null 2>&1 || out+=("$p") ;;
      debian-archive-keyring) [ -f "$KEYRING" ] || out+=("$p") ;;
      ca-certificates) [ -f /etc/ssl/certs/ca-certificates.crt ] || out+=("$p") ;;
    esac
  done
  echo "${out[*]}"
}

# ---------------------------------------------------------------------------------------------
# Root filesystem

rootfs_dir=
cleanup_rootfs() {
  [ -n "$rootfs_dir" ] && [ -d "$rootfs_dir" ] || return 0
  # debootstrap mounts proc/sys (and maybe more) inside the target: unmount before deleting.
  cleanup_mounts_only
  if awk -v d="$rootfs_dir" 'index($2, d "/") == 1 { found = 1 } END { exit !found }' /proc/mounts; then
    say "warning: mounts remain under $rootfs_dir; leaving it in place"
    return 0
  fi
  rm -rf --one-file-system "$rootfs_dir"
}

# Make the debootstrapped tree look like Debian's official slim images (debuerreotype's
# minimizing config): no docs, man pages or locales now or in later apt installs, no apt lists,
# services never started by package scripts.
trim_rootfs() {
  local r=$1
  mkdir -p "$r/etc/dpkg/dpkg.cfg.d" "$r/etc/apt/apt.conf.d"
  cat >"$r/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# dops base image: keep images slim (as Debian's official slim images do)
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
  echo 'force-unsafe-io' >"$r/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
  cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$r/etc/apt/apt.conf.d/docker-no-languages"
  printf 'Acquire::GzipIndexes "true";\nAcquire::CompressionTypes::Order:: "gz";\n' \
    >"$r/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$r/etc/apt/apt.conf.d/docker-autoremove-suggests"
  printf '#!/bin/sh\n# dops: package scripts must not start services in an image build\nexit 101\n' \
    >"$r/usr/sbin/policy-rc.d"
  chmod 0755 "$r/usr/sbin/policy-rc.d"

  # apt sources: the same mirrors the machine uses, with updates and security.
  rm -f "$r/etc/apt/sources.list"
  cat >"$r/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

  # Docs, man pages, locales, caches, logs, host leftovers.
  find "$r/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$r"/usr/share/{man,info,groff,linda,lintian/overrides}/* "$r"/usr/share/locale/*
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb \
    "$r"/var/cache/apt/archives/partial/* "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old \
    "$r"/tmp/* "$r"/var/tmp/* "$r"/root/.bash_history "$r"/debootstrap
  find "$r/var/log" -type f -exec truncate -s 0 {} + 2>/dev/null || true
  : >"$r/etc/machine-id"
  : >"$r/etc/resolv.conf"
  echo localhost >"$r/etc/hostname"
  rm -f "$r"/etc/ssh/ssh_host_*
}

ensure_rootfs() {
  if [ -z "${DOPS_ROOTFS_FORCE:-}" ] && [ -n "$(image_id "$ROOTFS_IMAGE")" ]; then
    return 0
  fi
  local t0
  t0=$(now)
  if [ "$PULL_TIMEOUT" != 0 ]; then
    say "trying 'docker pull $UPSTREAM' (at most ${PULL_TIMEOUT}s)"
    if timeout "$PULL_TIMEOUT" docker pull -q "$UPSTREAM" >/dev/null 2>&1; then
      docker tag "$UPSTREAM" "$ROOTFS_IMAGE"
      say "root filesystem: $UPSTREAM tagged $ROOTFS_IMAGE ($(since "$t0")s)"
      return 0
    fi
    say "cannot pull $UPSTREAM: using debootstrap"
  fi

  local missing
  missing=$(missing_packages)
  [ -z "$missing" ] || die "cannot make the root filesystem: $UPSTREAM cannot be pulled and the debootstrap fallback needs: $missing (Debian: 'sudo apt-get install $missing'; './install.sh' installs them itself when run as root on Debian)"
  [ "$(id -u)" = 0 ] || die "debootstrap needs root: run this as root, or make $UPSTREAM pullable"
  choose_mirrors
  # Verify the mirror's Release files against Debian's keys: never bootstrap unverified.
  local keyopt=(--keyring="$KEYRING")

  rootfs_dir=$(mktemp -d "${TMPDIR:-/var/tmp}/dops-rootfs.XXXXXX")
  trap cleanup_rootfs EXIT
  local root=$rootfs_dir/root log=$rootfs_dir/debootstrap.log
  say "debootstrap --variant=minbase $SUITE from $mirror (a few minutes, once)"
  if ! debootstrap --variant=minbase "${keyopt[@]}" "$SUITE" "$root" "$mirror" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    [ -f "$root/debootstrap/debootstrap.log" ] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
    die "debootstrap failed (mirror $mirror; set DOPS_DEBIAN_MIRROR to use another one)"
  fi
  cleanup_mounts_only
  trim_rootfs "$root"
  say "importing $ROOTFS_IMAGE ($(du -sh --one-file-system "$root" | cut -f1))"
  tar -C "$root" --numeric-owner --one-file-system --exclude='./dev/*' --exclude='./proc/*' \
    --exclude='./sys/*' -cf - . |
    docker import \
      -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      -c 'ENV LANG=C.UTF-8' \
      -c "LABEL io.dops.base-rootfs=$SUITE io.dops.base-rootfs.mirror=$mirror io.dops.base-rootfs.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
      - "$ROOTFS_IMAGE" >/dev/null
  cleanup_rootfs
  rootfs_dir=
  trap - EXIT
  say "root filesystem: $ROOTFS_IMAGE ready ($(since "$t0")s)"
}

cleanup_mounts_only() {
  local m
  awk -v d="$rootfs_dir" 'index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# ---------------------------------------------------------------------------------------------
# Main

if [ "$MODE" = packages ]; then
  needed_packages | tr '\n' ' ' | sed 's/ $/\n/'
  exit 0
fi

command -v docker >/dev/null || die "docker not found (run './install.sh engine' first)"
timeout 10 docker info >/dev/null 2>&1 || die "no Docker engine answers (run './install.sh engine')"
# Checked before the (possibly long) root filesystem step, so a missing dops-init fails at once.
[ "$MODE" = rootfs ] || [ -x "$INIT_BIN" ] || die "no dops-init at $INIT_BIN (build it: 'cargo build --release --bins')"

# One build at a time on this machine (several checkouts may run install.sh together).
lock=${TMPDIR:-/tmp}/dops-base-image.lock
exec 9>"$lock"
if ! flock -n 9; then
  say "waiting for another base image build (lock $lock)"
  flock -w 1800 9 || die "timed out waiting for $lock"
fi

t_start=$(now)
ensure_rootfs
[ "$MODE" = rootfs ] && exit 0

# The base image

init_sha=$(sha256sum "$INIT_BIN" | cut -d' ' -f1)
rootfs_id=$(image_id "$ROOTFS_IMAGE")
inputs=$({
  sha256sum "$here/Dockerfile" | cut -d' ' -f1
  echo "$init_sha"
  echo "$rootfs_id"
} | sha256sum | cut -d' ' -f1)

old_id=$(image_id "$IMAGE")
if [ -z "${DOPS_BASE_FORCE:-}" ] && [ -n "$old_id" ] && [ "$(label_of "$IMAGE" io.dops.base.inputs)" = "$inputs" ]; then
  say "$IMAGE is up to date ($(since "$t_start")s)"
  exit 0
fi

ctx=$(mktemp -d "${TMPDIR:-/tmp}/dops-base-ctx.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
cp "$here/Dockerfile" "$ctx/Dockerfile"
install -m 0755 "$INIT_BIN" "$ctx/dops-init"
say "building $IMAGE"
if ! docker build --build-arg "ROOTFS=$ROOTFS_IMAGE" \
  --label "io.dops.base.inputs=$inputs" \
  --label "io.dops.init.sha256=$init_sha" \
  --label "org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -t "$IMAGE" "$ctx" >"$ctx/build.log" 2>&1; then
  tail -n 30 "$ctx/build.log" >&2
  die "docker build of $IMAGE failed"
fi
new_id=$(image_id "$IMAGE")
# The previous build is now untagged: remove it unless something still uses it.
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
  docker image rm "$old_id" >/dev/null 2>&1 || true
fi
say "$IMAGE built ($(docker image inspect --format '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }'), $(since "$t_start")s)"
