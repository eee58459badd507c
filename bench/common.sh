# Shared by the bench scripts: the dops binary (release, built if missing), timing, ratios.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DOPS=${DOPS:-$ROOT/target/x86_64-unknown-linux-gnu/release/dops}
if [ ! -x "$DOPS" ] || [ ! -x "$(dirname "$DOPS")/dops-init" ]; then
  echo "bench: building the release binaries" >&2
  (cd "$ROOT" && cargo build --release --bins -q)
fi
export DOPS_LOG=${DOPS_LOG:-warn}
# The init injected into the bench images: DOPS_INIT_BIN when set, else the one next to dops.
[ -n "${DOPS_INIT_BIN:-}" ] && export DOPS_INIT_BIN
# Run dops quietly, showing its output only when it fails.
# DOPS_LIMIT=S bounds it to S seconds (a bench's contender must never hang).
dops_q() {
  local log; log=$(mktemp)
  if ! ${DOPS_LIMIT:+timeout "$DOPS_LIMIT"} "$DOPS" "$@" >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"
    echo "bench: dops $* failed${DOPS_LIMIT:+ or took over ${DOPS_LIMIT}s}" >&2; return 1
  fi
  rm -f "$log"
}

now() { date +%s.%N; }
# elapsed START → seconds with 3 decimals
elapsed() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.3f", e - s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# median of the arguments
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# A temporary project without the DNS: sets work (the temp folder), proj (the project name,
# PREFIX + our pid) and dir (the project folder). The caller writes its services and cleans up.
bench_project() {
  work=$(mktemp -d)
  proj=$1$$
  dir=$work/$proj
  mkdir -p "$dir/services"
  echo '{"DNS": false}' > "$dir/host.conf"
}

# Remove a network, with a few bounded tries: the engine may still be detaching the last
# endpoints of containers just removed (seconds, after 100 of them).
remove_network() {
  for _ in $(seq 1 20); do
    docker network rm "$1" >/dev/null 2>&1 && return 0
    docker network inspect "$1" >/dev/null 2>&1 || return 0
    sleep 1
  done
}
