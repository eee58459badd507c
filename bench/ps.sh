#!/usr/bin/env bash
# bench/ps.sh — `dops ps` and `dops status` vs `docker ps` with N (100) instances of one project
# running, alternating in each round. The instances are plain containers carrying the dops labels
# (what `dops ps` lists), each with its state file (the lifecycle column).
# Target: dops ps <= 1.0x docker ps; dops status of the same order. Then one run's phases
# (DOPS_LOG=dops::timing=debug).
set -euo pipefail
. "$(dirname "$0")/common.sh"
N=${N:-100}
REPS=${REPS:-10}

bench_project benchps
mkdir -p "$dir/services/bb"
printf 'FROM dops-test/busybox\nCMD ["sleep","3600"]\n' > "$dir/services/bb/Dockerfile"
cleanup() {
  docker ps -aq --filter "label=io.dops.project=$proj" | xargs -r docker rm -f >/dev/null 2>&1 || true
  remove_network "$proj"
  rm -rf "$work"
}
trap cleanup EXIT

docker network create --label "io.dops.project=$proj" "$proj" >/dev/null
echo "bench: starting $N instances" >&2
for i in $(seq 1 "$N"); do
  inst=$(printf 'i%03d' "$i")
  mkdir -p "$dir/.dops/run/bb-$inst"
  printf '{"state":"UP","since_epoch":%s,"restarts":0}\n' "$(date +%s)" > "$dir/.dops/run/bb-$inst/state.json"
  docker run -d --network "$proj" --name "$proj-bb-$inst" --hostname "bb-$inst" \
    --label "io.dops.project=$proj" --label io.dops.service=bb --label "io.dops.instance=$inst" \
    --label io.dops.instance_type=standard --label "io.dops.run_dir=$dir/.dops/run/bb-$inst" \
    -v "$dir/.dops/run/bb-$inst:/run/dops" dops-test/busybox sleep 3600 >/dev/null &
  if [ $((i % 10)) = 0 ]; then wait; fi
done
wait
n=$(cd "$dir" && "$DOPS" ps --json | grep -c '"name"')
[ "$n" = "$N" ] || { echo "bench: dops ps lists $n of $N" >&2; exit 1; }

dops_t=(); docker_t=(); status_t=()
for r in $(seq 1 "$REPS"); do
  s=$(now); (cd "$dir" && "$DOPS" ps >/dev/null); dops_t+=("$(elapsed "$s")")
  s=$(now); docker ps --filter "label=io.dops.project=$proj" >/dev/null; docker_t+=("$(elapsed "$s")")
  s=$(now); (cd "$dir" && "$DOPS" status >/dev/null); status_t+=("$(elapsed "$s")")
done
d=$(median "${dops_t[@]}"); p=$(median "${docker_t[@]}"); st=$(median "${status_t[@]}")
ms() { awk -v s="$1" 'BEGIN { printf "%.0f", s * 1000 }'; }
echo "ps: $N instances, median of $REPS rounds (dops ps, docker ps, dops status in each)"
echo "  dops ps      $(ms "$d") ms"
echo "  docker ps    $(ms "$p") ms"
echo "  dops status  $(ms "$st") ms"
echo "  dops ps / docker ps     = $(ratio "$d" "$p")   (target <= 1.00)"
echo "  dops status / docker ps = $(ratio "$st" "$p")"
echo "  phases of one dops ps: $(cd "$dir" && DOPS_LOG=dops::timing=debug "$DOPS" ps 2>&1 >/dev/null | sed 's/.*dops::timing: //' | paste -sd ';' -)"
echo "  load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
