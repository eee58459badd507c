#!/usr/bin/env bash
# Benchmark: `dops plan:all` on a generated 200-instance run.conf (20 services, parents, links,
# env vars, comments). Target: under 100 ms. Uses hyperfine when installed, else a bounded loop.
#
# The generated project is a valid one, as a user would run it: one master (published) instance
# per service, each service publishing its own host ports, links naming one instance each, and
# the project's DNS key in place (as after a first run). The bench fails if dops prints any
# warning about it (stderr of the plan, or "warnings" in its --json form).
#
#   bench/plan.sh                 # builds the release binary first
#   DOPS_BIN=path/to/dops bench/plan.sh
#   INSTANCES=500 bench/plan.sh
#   IMAGES=60 bench/plan.sh       # filler images on the engine during the run (0: none)
# A developer's engine holds dozens of images, and the engine's cost of listing images grows with
# them (Docker 20.10 sizes every image it holds, whatever the filter): the bench adds IMAGES tiny
# labelled images (one empty layer each, removed at the end) so that the plan is measured against
# an engine as it is in use, not an empty one.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

instances=${INSTANCES:-200}
services=20
if [ -z "${DOPS_BIN:-}" ]; then
  cargo build --release --bin dops >&2
  DOPS_BIN=$PWD/target/x86_64-unknown-linux-gnu/release/dops
fi

work=$(mktemp -d)
images=${IMAGES:-60}
filler=benchplanfill$$
cleanup() {
  docker image ls -q --filter "label=$filler" | xargs -r docker image rm -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
if [ "$images" -gt 0 ]; then
  tar cf "$work/empty.tar" -T /dev/null
  for i in $(seq 1 "$images"); do
    docker import --change "LABEL $filler=$i" "$work/empty.tar" "$filler/img$i" >/dev/null
  done
fi
proj=$work/benchproj
mkdir -p "$proj/services/base" "$proj/.dops"
# The project's DNS key, as dops writes it on the first run (without it the plan leaves the
# instances' key files out and says so; with it, it derives one key per instance).
( umask 077; echo "hmac-sha256:dops-key:$(head -c 32 /dev/urandom | base64)" > "$proj/.dops/dns.key" )
printf 'FROM debian:12\nEXPOSE 22\n' > "$proj/services/base/Dockerfile"
for s in $(seq 0 $((services - 1))); do
  mkdir -p "$proj/services/s$s"
  # Each service publishes its own host ports: its 8000+s, its 53/udp as 5300+s and the 22 it
  # inherits from base as 2200+s, so that masters of different services never collide.
  printf 'FROM benchproj/base\nEXPOSE %d\n# dops: expose 53/udp as %d\n# dops: expose 22 as %d\n' \
    $((8000 + s)) $((5300 + s)) $((2200 + s)) > "$proj/services/s$s/Dockerfile"
  echo '{"REQUIRED_A": "default"}' > "$proj/services/s$s/required_env_vars.json"
done
{
  echo "# generated: $instances instances"
  echo "["
  for i in $(seq 0 $((instances - 1))); do
    s=$((i % services))
    sep=","
    [ "$i" -eq $((instances - 1)) ] && sep=""
    # Links: the previous instance by name, and s0's first instance (one instance each: a link
    # to "any instance" of a service with several would be ambiguous, and dops warns about it).
    if [ "$i" -eq 0 ]; then links='[]'; else links="[\"s$(((i - 1) % services))-i$((i - 1)):peer\", {\"name\": \"FIRST\", \"service\": \"s0\", \"instance\": \"i0\"}]"; fi
    # One master per service (the first instance of each): a master publishes its ports, and
    # two instances of one service cannot publish the same host port.
    type=standard
    [ "$i" -lt "$services" ] && type=master
    echo "  {\"service\": \"s$s\", \"instance\": \"i$i\", \"instance_type\": \"$type\", # entry $i"
    echo "   \"links\": $links, \"env_vars\": {\"N\": $i, \"NAME\": \"inst-$i\"}, \"group\": \"g$((i % 4))\"}$sep"
  done
  echo "]"
} > "$proj/run.conf"

# The project must be valid: no warning at all, in the text plan or in the --json one.
if ! "$DOPS_BIN" --project "$proj" plan:all >"$work/plan.txt" 2>"$work/plan.err"; then
  cat "$work/plan.err" >&2
  echo "bench: FAILED: dops plan:all failed on the generated project" >&2
  exit 1
fi
if [ -s "$work/plan.err" ]; then
  head -n 20 "$work/plan.err" >&2
  echo "bench: FAILED: dops printed $(wc -l <"$work/plan.err") line(s) of warnings on the generated project (above)" >&2
  exit 1
fi
"$DOPS_BIN" --json --project "$proj" plan:all >"$work/plan.json" 2>"$work/plan.err"
nwarn=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1])).get("warnings", [])))' "$work/plan.json")
if [ "$nwarn" != 0 ] || [ -s "$work/plan.err" ]; then
  cat "$work/plan.err" >&2
  echo "bench: FAILED: dops --json plan:all reports $nwarn warning(s) on the generated project" >&2
  exit 1
fi
published=$(python3 -c 'import json, sys
steps = json.load(open(sys.argv[1]))["steps"]
print(sum(len(s.get("ports", [])) for s in steps if s["step"] == "run"))' "$work/plan.json")
echo "bench: the generated project is valid: no warning; $published host ports published, no two alike" >&2

echo "plan:all on $instances instances ($(grep -c '^ *[0-9]*\. ' "$work/plan.txt") steps, no warning), $(docker image ls -q | wc -l) images on the engine"
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
