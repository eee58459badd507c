#!/usr/bin/env bash
# bench/build.sh — a second `dops build:all` with nothing changed vs plain cached `docker build`s
# of the same Dockerfiles (one after the other, as a script would), side by side in one run.
# Target: dops < 1.2× the docker builds.
set -euo pipefail
. "$(dirname "$0")/common.sh"
S=${S:-6}
ROUNDS=${ROUNDS:-3}

bench_project benchbuild
mkdir -p "$dir/services/base"
printf 'FROM dops-test/busybox\nRUN mkdir -p /app && echo base > /app/base\nCMD ["sleep","3600"]\n' > "$dir/services/base/Dockerfile"
for i in $(seq 2 "$S"); do
  mkdir -p "$dir/services/s$i"
  printf 'FROM %s/base\nCOPY . /app/s%s\nRUN echo %s > /app/id\n' "$proj" "$i" "$i" > "$dir/services/s$i/Dockerfile"
  head -c 200000 /dev/urandom > "$dir/services/s$i/blob.bin"
done
cleanup() {
  docker image ls -q --filter "label=io.dops.project=$proj" | xargs -r docker image rm -f >/dev/null 2>&1 || true
  docker image ls -q "plain$proj/*" | xargs -r docker image rm -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Warm both caches.
(cd "$dir" && dops_q build:all)
plain() {
  docker build -q -t "plain$proj/base" "$dir/services/base" >/dev/null
  for i in $(seq 2 "$S"); do
    sed "s#FROM $proj/base#FROM plain$proj/base#" "$dir/services/s$i/Dockerfile" > "$work/Dockerfile.s$i"
    docker build -q -f "$work/Dockerfile.s$i" -t "plain$proj/s$i" "$dir/services/s$i" >/dev/null
  done
}
plain

dops_t=(); plain_t=()
for r in $(seq 1 "$ROUNDS"); do
  s=$(now); (cd "$dir" && dops_q build:all); dops_t+=("$(elapsed "$s")")
  s=$(now); plain; plain_t+=("$(elapsed "$s")")
done
d=$(median "${dops_t[@]}"); p=$(median "${plain_t[@]}")
echo "build: second build:all of $S unchanged services (1 parent, $((S - 1)) children), median of $ROUNDS"
echo "  dops build:all          ${d}s   (rounds: ${dops_t[*]})"
echo "  cached docker builds    ${p}s   (rounds: ${plain_t[*]})"
echo "  dops / docker = $(ratio "$d" "$p")   (target < 1.20)"
