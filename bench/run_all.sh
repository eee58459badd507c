#!/usr/bin/env bash
# bench/run_all.sh — start N (100) busybox instances, side by side in one run:
#   dops run:all   vs   docker-compose up -d (Debian's docker-compose, same image, one network)
#                  vs   N parallel `docker run -d` (same image, one network)
# Each contender starts from nothing running (image built and cached) and is cleaned after.
# The same readiness for all: each command returns once its containers are started (dops run:all
# without --wait, compose up -d, docker run -d), and the time stops there; then, untimed, every
# contender's running containers are counted: a contender that did not
# start all N fails the bench (a fast but incomplete start is no result). The order rotates each
# round (round 1: dops, compose, raw; round 2: compose, raw, dops; ...), so no contender always
# profits from (or pays for) what the previous one left in the engine's caches.
# Prints the median of ROUNDS rounds and the ratios. Targets: dops ≤ 0.8× compose, ≤ 1.15× raw.
# Debian's docker-compose (1.29) deadlocks when a project has more services than its parallel
# limit (64 by default: docker/compose#7486, #8161, #8226): it runs with COMPOSE_PARALLEL_LIMIT
# above 2×N, the workaround its users apply. Every contender's start is bounded (LIMIT seconds): one
# that does not finish in time is a failed bench, never a hang.
set -euo pipefail
. "$(dirname "$0")/common.sh"
N=${N:-100}
ROUNDS=${ROUNDS:-3}
LIMIT=${LIMIT:-300}
export COMPOSE_PARALLEL_LIMIT=$((2 * N + 16))

command -v docker-compose >/dev/null || {
  echo "bench: installing Debian's docker-compose" >&2
  "$ROOT/install.sh" tools docker-compose
}

bench_project benchrun
mkdir -p "$dir/services/bb"
printf 'FROM dops-test/busybox\nCMD ["sleep","3600"]\n' > "$dir/services/bb/Dockerfile"
{
  echo "["
  for i in $(seq 1 "$N"); do
    sep=","; [ "$i" = "$N" ] && sep=""
    printf '  {"service": "bb", "instance": "i%03d"}%s\n' "$i" "$sep"
  done
  echo "]"
} > "$dir/run.conf"
{
  echo "version: '2'"
  echo "services:"
  for i in $(seq 1 "$N"); do
    printf '  bb%03d:\n    image: %s/bb\n' "$i" "$proj"
  done
} > "$work/docker-compose.yml"

cleanup() {
  (cd "$dir" && "$DOPS" clean:all >/dev/null 2>&1) || true
  (cd "$work" && docker-compose -p "${proj}c" down -t 1 >/dev/null 2>&1) || true
  docker ps -aq --filter "label=bench=$proj" | xargs -r docker rm -f >/dev/null 2>&1 || true
  for r in $(seq 1 "$ROUNDS"); do remove_network "${proj}raw$r"; done
  docker ps -aq --filter "label=io.dops.project=$proj" | xargs -r docker rm -f >/dev/null 2>&1 || true
  remove_network "$proj"
  docker image rm -f "$proj/bb" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$dir" && dops_q build:bb)

# Running containers of a contender, by its label.
running() { docker ps -q --filter "label=$1" --filter status=running | wc -l; }
# Fail loudly when a contender did not start all its containers.
check_count() { # contender label
  local n
  n=$(running "$2")
  [ "$n" = "$N" ] || { echo "bench: FAILED: $1 has $n of $N containers running after its start (round $r)" >&2; exit 1; }
}

round_dops() {
  local s
  s=$(now); (cd "$dir" && DOPS_LIMIT=$LIMIT dops_q run:all); dops_t+=("$(elapsed "$s")")
  check_count "dops run:all" "io.dops.project=$proj"
  (cd "$dir" && dops_q clean:all)
}
round_compose() {
  local s
  s=$(now)
  (cd "$work" && timeout "$LIMIT" docker-compose -p "${proj}c" up -d >"$work/compose.log" 2>&1) ||
    { tail -n 20 "$work/compose.log" >&2; echo "bench: docker-compose up failed or took over ${LIMIT}s ($(running "com.docker.compose.project=${proj}c") of $N running)" >&2; exit 1; }
  compose_t+=("$(elapsed "$s")")
  check_count "docker-compose up -d" "com.docker.compose.project=${proj}c"
  (cd "$work" && docker-compose -p "${proj}c" down -t 1 >/dev/null 2>&1)
}
round_raw() {
  local s i pids=() failed=0 p net
  # A network of its own each round: Docker 20.10 may keep stale endpoints on the previous
  # round's network after 100 concurrent removals ("has active endpoints" with no container).
  net=${proj}raw$r
  docker network create "$net" >/dev/null
  s=$(now)
  for i in $(seq 1 "$N"); do
    timeout "$LIMIT" docker run -d --label "bench=$proj" --network "$net" --name "${proj}-raw-$i" "$proj/bb" >/dev/null &
    pids+=($!)
  done
  # Every `docker run`'s own exit status, not only the last one's.
  for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
  raw_t+=("$(elapsed "$s")")
  [ "$failed" = 0 ] || { echo "bench: FAILED: $failed of $N 'docker run -d' failed (round $r)" >&2; exit 1; }
  check_count "$N x docker run -d" "bench=$proj"
  docker ps -aq --filter "label=bench=$proj" | xargs -r docker rm -f >/dev/null
  remove_network "$net"
}

contenders=(dops compose raw)
dops_t=(); compose_t=(); raw_t=(); orders=()
for r in $(seq 1 "$ROUNDS"); do
  # Rotate: round r starts with contender (r-1) mod 3.
  order=()
  for k in 0 1 2; do order+=("${contenders[$(( (r - 1 + k) % 3 ))]}"); done
  orders+=("$(IFS=,; echo "${order[*]}")")
  for c in "${order[@]}"; do "round_$c"; done
  echo "bench: round $r (${orders[-1]}): dops ${dops_t[-1]}s, compose ${compose_t[-1]}s, raw ${raw_t[-1]}s" >&2
done

d=$(median "${dops_t[@]}"); c=$(median "${compose_t[@]}"); w=$(median "${raw_t[@]}")
echo "run_all: $N instances, median of $ROUNDS rounds; all $N containers checked running for every contender each round"
echo "  order per round: ${orders[*]}"
echo "  dops run:all            ${d}s   (rounds: ${dops_t[*]})"
echo "  docker-compose up -d    ${c}s   (rounds: ${compose_t[*]})"
echo "  $N x docker run -d      ${w}s   (rounds: ${raw_t[*]})"
echo "  dops / compose = $(ratio "$d" "$c")   (target <= 0.80)"
echo "  dops / raw     = $(ratio "$d" "$w")   (target <= 1.15)"
echo "  load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
