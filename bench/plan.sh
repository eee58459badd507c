#!/usr/bin/env bash
# Benchmark: `dops plan:all` on a generated 200-instance run.conf (20 services, parents, links,
# env vars, comments). Target: under 100 ms. Uses hyperfine when installed, else a bounded loop.
#
#   bench/plan.sh                 # builds the release binary first
#   DOPS_BIN=path/to/dops bench/plan.sh
#   INSTANCES=500 bench/plan.sh
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

instances=${INSTANCES:-200}
services=20
if [ -z "${DOPS_BIN:-}" ]; then
  cargo build --release --bin dops >&2
  DOPS_BIN=$PWD/target/x86_64-unknown-linux-gnu/release/dops
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
proj=$work/benchproj
mkdir -p "$proj/services/base"
printf 'FROM debian:12\nEXPOSE 22\n' > "$proj/services/base/Dockerfile"
for s in $(seq 0 $((services - 1))); do
  mkdir -p "$proj/services/s$s"
  printf 'FROM benchproj/base\nEXPOSE %d\n# dops: expose 53/udp\n' $((8000 + s)) > "$proj/services/s$s/Dockerfile"
  echo '{"REQUIRED_A": "default"}' > "$proj/services/s$s/required_env_vars.json"
done
{
  echo "# generated: $instances instances"
  echo "["
  for i in $(seq 0 $((instances - 1))); do
    s=$((i % services))
    sep=","
    [ "$i" -eq $((instances - 1)) ] && sep=""
    if [ "$i" -eq 0 ]; then links='[]'; else links="[\"s$(((i - 1) % services))-i$((i - 1)):peer\", {\"name\": \"ANY\", \"service\": \"s0\", \"instance\": null}]"; fi
    type=standard
    [ $((i % 10)) -eq 0 ] && type=master
    echo "  {\"service\": \"s$s\", \"instance\": \"i$i\", \"instance_type\": \"$type\", # entry $i"
    echo "   \"links\": $links, \"env_vars\": {\"N\": $i, \"NAME\": \"inst-$i\"}, \"group\": \"g$((i % 4))\"}$sep"
  done
  echo "]"
} > "$proj/run.conf"

echo "plan:all on $instances instances ($("$DOPS_BIN" --project "$proj" plan:all 2>/dev/null | grep -c '^ *[0-9]*\. ') steps)"
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 3 --runs 30 --shell=none "$DOPS_BIN --project $proj plan:all"
else
  runs=30
  start=$(date +%s%N)
  for _ in $(seq 1 $runs); do
    timeout 10 "$DOPS_BIN" --project "$proj" plan:all >/dev/null 2>&1
  done
  end=$(date +%s%N)
  echo "mean: $(( (end - start) / runs / 1000000 )) ms over $runs runs"
fi
