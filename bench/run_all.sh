#!/usr/bin/env bash
# bench/run_all.sh — start N (20) busybox instances, side by side in one run:
#   dops run:all   vs   docker-compose up -d (Debian's docker-compose, same image, one network)
#                  vs   N parallel `docker run -d` (same image, one network)
# Each contender starts from nothing running (image built and cached) and is cleaned after.
# Prints the median of ROUNDS rounds and the ratios. Targets: dops ≤ 0.8× compose, ≤ 1.15× raw.
set -euo pipefail
. "$(dirname "$0")/common.sh"
N=${N:-20}
ROUNDS=${ROUNDS:-3}

command -v docker-compose >/dev/null || {
  echo "bench: installing Debian's docker-compose" >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
}

bench_project benchrun
mkdir -p "$dir/services/bb"
printf 'FROM dops-test/busybox\nCMD ["sleep","3600"]\n' > "$dir/services/bb/Dockerfile"
{
  echo "["
  for i in $(seq 1 "$N"); do
    sep=","; [ "$i" = "$N" ] && sep=""
    printf '  {"service": "bb", "instance": "i%02d"}%s\n' "$i" "$sep"
  done
  echo "]"
} > "$dir/run.conf"
{
  echo "version: '2'"
  echo "services:"
  for i in $(seq 1 "$N"); do
    printf '  bb%02d:\n    image: %s/bb\n' "$i" "$proj"
  done
} > "$work/docker-compose.yml"

cleanup() {
  (cd "$dir" && "$DOPS" clean:all >/dev/null 2>&1) || true
  (cd "$work" && docker-compose -p "${proj}c" down -t 1 >/dev/null 2>&1) || true
  docker ps -aq --filter "label=bench=$proj" | xargs -r docker rm -f >/dev/null 2>&1 || true
  remove_network "${proj}raw"
  docker ps -aq --filter "label=io.dops.project=$proj" | xargs -r docker rm -f >/dev/null 2>&1 || true
  remove_network "$proj"
  docker image rm -f "$proj/bb" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$dir" && dops_q build:bb)

dops_t=(); compose_t=(); raw_t=()
for r in $(seq 1 "$ROUNDS"); do
  s=$(now); (cd "$dir" && dops_q run:all); dops_t+=("$(elapsed "$s")")
  n=$(docker ps -q --filter "label=io.dops.project=$proj" | wc -l)
  [ "$n" = "$N" ] || { echo "bench: dops started $n of $N" >&2; exit 1; }
  (cd "$dir" && dops_q clean:all)

  s=$(now); (cd "$work" && docker-compose -p "${proj}c" up -d >/dev/null 2>&1); compose_t+=("$(elapsed "$s")")
  (cd "$work" && docker-compose -p "${proj}c" down -t 1 >/dev/null 2>&1)

  docker network create "${proj}raw" >/dev/null
  s=$(now)
  for i in $(seq 1 "$N"); do
    docker run -d --label "bench=$proj" --network "${proj}raw" --name "${proj}-raw-$i" "$proj/bb" >/dev/null &
  done
  wait
  raw_t+=("$(elapsed "$s")")
  docker ps -aq --filter "label=bench=$proj" | xargs -r docker rm -f >/dev/null
  docker network rm "${proj}raw" >/dev/null
done

d=$(median "${dops_t[@]}"); c=$(median "${compose_t[@]}"); w=$(median "${raw_t[@]}")
echo "run_all: $N instances, median of $ROUNDS rounds"
echo "  dops run:all            ${d}s   (rounds: ${dops_t[*]})"
echo "  docker-compose up -d    ${c}s   (rounds: ${compose_t[*]})"
echo "  $N x docker run -d      ${w}s   (rounds: ${raw_t[*]})"
echo "  dops / compose = $(ratio "$d" "$c")   (target <= 0.80)"
echo "  dops / raw     = $(ratio "$d" "$w")   (target <= 1.15)"
