#!/usr/bin/env bash
# bench/swarm.sh: the same platform of N (20) instances deployed on a local 3-node Docker Swarm
# (tests/swarm/testbed.sh, bed "dops-swarm-bench"), side by side in one run, by dops
# (`dops run:all --wait`, host.conf ENGINE=swarm) and by `docker stack deploy` of the equivalent
# compose file. Measures, for each, the wall time from the command's start until ALL N tasks are
# running AND their containers healthy. Prints every run, the medians and the ratio dops/stack,
# and what each deployed (services, tasks per node).
#
# Like with like:
#   image      one small service `bb`: FROM dops-test/busybox, `sleep`, built once by dops (which
#              injects dops-init, so UP = its health check passes once the program runs). dops
#              pushes it to the bed's registry as <registry>/<proj>/bb:<content tag>; the bench
#              tags the same image <registry>/<proj>/bb:stack and pushes it for the stack (same
#              repository, same layers).
#   platform   dops: run.conf with N instances bb i01..iNN (standard), DNS off (the stack has no
#              dops DNS): dops makes one service per instance (<proj>-bb-iNN, 1 replica) on an
#              attachable overlay. stack: the equivalent compose file, generated from what dops
#              made: one service per instance (bbNN, 1 replica, hostname bb-iNN), endpoint mode
#              dnsrr, an attachable overlay, and the SAME health check, restart policy and stop
#              grace period, read from a dops service's spec after the warm-up (the bench stops
#              if it cannot read them). STACK_FORM=replicas instead deploys one service with
#              `deploy.replicas: N` (what a Compose user might write; not the same mapping).
#   readiness  the same poll for both (ready_state): the manager's `docker service ls` shows N
#              running tasks over the expected services, AND the node engines together hold N
#              containers of those services that are running and `healthy` (docker ps --filter
#              health=healthy on each node). dops' --wait returns when its tasks are running
#              (Swarm calls a task running only once healthy); the bench then polls the same way.
#              The stack is deployed with --detach=true (the 28.x client would otherwise wait
#              itself) and polled from the deploy's start. Time = until the end of the first poll
#              that sees everything ready (a poll takes POLL_S between tries, plus 4 docker calls).
#              Besides, without the poll's granularity: "last task running", the latest
#              Status.Timestamp of the running tasks as the manager recorded it (read after the
#              readiness, outside the timed part). Both ratios are printed.
#   between    everything removed (dops clean:all; docker stack rm), then waited for (bounded):
#              no service, no container of it on any node, the overlay network gone.
#   warm-up    one unmeasured run of each first (pushes, pulls of the image on every node).
#   order      alternates: odd rounds dops first, even rounds the stack first.
# The bed (and the bench's images on the host engine, the temp folder) is torn down at exit,
# also on failure or Ctrl-C.
#
# Needs: root or a docker user, python3, the images dops-test/busybox and
# dops/base-rootfs:bookworm (the bed's images are built from it when missing, about 30 s).
#
# Usage: bench/swarm.sh
#   N=20  instances            ROUNDS=3  rounds (at least 1)          POLL_S=0.25
#   STEP_TIMEOUT=300  limit of each deploy/readiness/removal wait (s)
#   STACK_FORM=services|replicas   (default services: the same mapping as dops)
#   KEEP=1  leave the bed and the project (debug)      DOPS=path  the dops binary
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/common.sh"

N=${N:-20}
ROUNDS=${ROUNDS:-3}
POLL_S=${POLL_S:-0.25}
STEP_TIMEOUT=${STEP_TIMEOUT:-300}
STACK_FORM=${STACK_FORM:-services}
KEEP=${KEEP:-0}
BED=dops-swarm-bench
TESTBED=$ROOT/tests/swarm/testbed.sh

say() { printf 'swarm: %s\n' "$*" >&2; }
die() { printf 'swarm: error: %s\n' "$*" >&2; exit 1; }

case "$N" in '' | *[!0-9]* | 0) die "N must be a positive number" ;; esac
case "$ROUNDS" in '' | *[!0-9]* | 0) die "ROUNDS must be a positive number" ;; esac
case "$STACK_FORM" in services | replicas) ;; *) die "STACK_FORM must be services or replicas" ;; esac
command -v python3 >/dev/null || die "python3 is needed"

# The host engine, whatever DOCKER_HOST says (the bed's env sets it to the manager).
HOST_ENGINE=${DOCKER_HOST:-unix:///var/run/docker.sock}
unset DOCKER_CONTEXT
hd() { DOCKER_HOST=$HOST_ENGINE command docker "$@"; }
timeout 10 env DOCKER_HOST="$HOST_ENGINE" docker info >/dev/null 2>&1 || die "no Docker engine answers at $HOST_ENGINE"
hd image inspect dops-test/busybox >/dev/null 2>&1 || die "no image dops-test/busybox (./install.sh test-image)"

work=$(mktemp -d "${TMPDIR:-/tmp}/dops-swarmbench.XXXXXX")
proj=swbench$$
dir=$work/$proj
stack=${proj}s
bed_env=$work/bed.env
bed_up=0
MANAGER=

bed() { env -u DOCKER_HOST DOPS_SWARM_LOCAL_DOCKER_HOST="$HOST_ENGINE" DOPS_SWARMBED_NAME=$BED DOPS_SWARMBED_ENV="$work/bed.state.env" timeout 600 "$TESTBED" "$@"; }

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [ "$KEEP" = 1 ]; then
    say "KEEP=1: bed $BED, project $dir and stack $stack left in place"
    exit "$rc"
  fi
  say "tearing down (bed $BED, project $proj)"
  if [ "$bed_up" = 1 ] && [ -n "${MANAGER:-}" ]; then
    [ -d "$dir" ] && DOCKER_HOST=$MANAGER timeout 120 "$DOPS" --project "$dir" clean:all >/dev/null 2>&1
    DOCKER_HOST=$MANAGER timeout 60 docker stack rm "$stack" >/dev/null 2>&1
  fi
  bed down >/dev/null 2>&1 || say "warning: 'testbed.sh down' failed for $BED"
  hd images --format '{{.Repository}}:{{.Tag}}' | grep -E "(^|/)$proj/bb:" | xargs -r env DOCKER_HOST="$HOST_ENGINE" docker rmi -f >/dev/null 2>&1
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the bed --------------------------------------------------------------------------------------
t_setup=$(now)
say "bringing up the test bed $BED"
bed_up=1
bed up --quiet >/dev/null || die "testbed.sh up failed"
bed env >"$bed_env" || die "testbed.sh env failed"
# shellcheck disable=SC1090
. "$bed_env"
MANAGER=$DOCKER_HOST
REGISTRY=$DOPS_SWARM_REGISTRY
REGISTRY_HOST=$DOPS_SWARM_REGISTRY_HOST
NODE_HOSTS=()
for i in $(seq 1 "$DOPS_SWARM_NODE_COUNT"); do
  v=DOPS_SWARM_NODE${i}_HOST
  NODE_HOSTS+=("${!v}")
done
export DOCKER_HOST=$MANAGER
md() { timeout 30 docker "$@"; } # the manager, bounded
say "bed up: manager $MANAGER, registry $REGISTRY ($REGISTRY_HOST from here), ${#NODE_HOSTS[@]} nodes"

# --- the project ----------------------------------------------------------------------------------
mkdir -p "$dir/services/bb"
printf 'FROM dops-test/busybox\nCMD ["sleep", "3600"]\n' >"$dir/services/bb/Dockerfile"
cat >"$dir/host.conf" <<EOF
{"ENGINE": "swarm", "REGISTRY": "$REGISTRY", "REGISTRY_PUSH": "$REGISTRY_HOST",
 "BUILD_ENGINE": "$HOST_ENGINE", "NODE_ENGINE": "tcp://{addr}:2375", "DNS": "off"}
EOF
{
  echo "["
  for i in $(seq 1 "$N"); do
    sep=","
    [ "$i" = "$N" ] && sep=""
    printf '  {"service": "bb", "instance": "i%02d"}%s\n' "$i" "$sep"
  done
  echo "]"
} >"$dir/run.conf"

# dops on the bench project against the manager; output in $work/dops.log, shown on failure.
dops() {
  if ! timeout -k 5 "$STEP_TIMEOUT" "$DOPS" --project "$dir" "$@" >"$work/dops.log" 2>&1; then
    tail -n 30 "$work/dops.log" >&2
    return 1
  fi
}

say "building bb with dops"
dops build:bb || die "dops build:bb failed"

# --- readiness and removal, the same for both ------------------------------------------------------

# One poll: "SERVICES RUNNING HEALTHY PLACEMENT" for the services whose names start with $1
# (manager: service count and running tasks; nodes: running+healthy containers of them, and
# how many on each node).
ready_state() { # PREFIX
  local prefix=$1 services running healthy placement i f
  local out
  out=$(md service ls --filter "name=$prefix" --format '{{.Name}} {{.Replicas}}' 2>/dev/null) || out=
  services=0 running=0
  if [ -n "$out" ]; then
    read -r services running < <(awk -v p="$prefix" 'index($1, p) == 1 { n++; split($2, r, "/"); s += r[1] } END { print n + 0, s + 0 }' <<<"$out")
  fi
  local files=()
  for i in "${!NODE_HOSTS[@]}"; do
    f=$work/poll.$i
    files+=("$f")
    DOCKER_HOST=${NODE_HOSTS[$i]} timeout 20 docker ps --filter status=running --filter health=healthy \
      --format '{{.Label "com.docker.swarm.service.name"}}' >"$f" 2>/dev/null &
  done
  wait
  healthy=0 placement=
  for i in "${!NODE_HOSTS[@]}"; do
    local c
    c=$(awk -v p="$prefix" 'index($1, p) == 1' "${files[$i]}" | wc -l)
    healthy=$((healthy + c))
    placement="$placement${placement:+,}node$((i + 1)):$c"
  done
  echo "$services $running $healthy $placement"
}

# Bounded: until $2 services named $1* have N running tasks and N healthy containers. Prints
# the last state ("SERVICES RUNNING HEALTHY PLACEMENT"); false on timeout.
wait_ready() { # PREFIX SERVICES
  local deadline s st
  deadline=$(($(date +%s) + STEP_TIMEOUT))
  while :; do
    st=$(ready_state "$1")
    read -r -a s <<<"$st"
    if [ "${s[0]}" = "$2" ] && [ "${s[1]}" = "$N" ] && [ "${s[2]}" = "$N" ]; then
      echo "$st"
      return 0
    fi
    [ "$(date +%s)" -lt "$deadline" ] || { echo "$st"; return 1; }
    sleep "$POLL_S"
  done
}

# Bounded: until no service named $1*, no container of them on any node (any state), and
# network $2 gone (removed here when the tool left it).
wait_gone() { # PREFIX NETWORK
  local deadline left c i
  deadline=$(($(date +%s) + STEP_TIMEOUT))
  while :; do
    left=$(md service ls --filter "name=$1" --format '{{.Name}}' 2>/dev/null | awk -v p="$1" 'index($1, p) == 1' | wc -l) || left=1
    c=0
    for i in "${!NODE_HOSTS[@]}"; do
      c=$((c + $(DOCKER_HOST=${NODE_HOSTS[$i]} timeout 20 docker ps -a --format '{{.Label "com.docker.swarm.service.name"}}' 2>/dev/null |
        awk -v p="$1" 'index($1, p) == 1' | wc -l)))
    done
    if [ "$left" = 0 ] && [ "$c" = 0 ]; then
      md network inspect "$2" >/dev/null 2>&1 || return 0
      say "network $2 left after its services went: removing it"
      md network rm "$2" >/dev/null 2>&1 || true
    fi
    [ "$(date +%s)" -lt "$deadline" ] || { say "still there after $STEP_TIMEOUT s: $left services, $c containers of $1*, network $2"; return 1; }
    sleep 0.5
  done
}

# The time (s after $2) at which the last task of the services $1* turned running, by the
# manager's own task timestamps: the readiness without the poll's granularity.
last_running() { # PREFIX T0
  local svcs ids
  svcs=$(md service ls --filter "name=$1" --format '{{.Name}}' | awk -v p="$1" 'index($1, p) == 1')
  # shellcheck disable=SC2086 # lists of names and ids
  ids=$(md service ps -q --filter desired-state=running $svcs)
  # shellcheck disable=SC2086
  md inspect --format '{{.Status.State}} {{json .Status.Timestamp}}' $ids | python3 -c '
import calendar, re, sys, time
t0, last = float(sys.argv[1]), None
for line in sys.stdin:
    state, ts = line.split()
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|\+00:00)$", ts.strip(chr(34)))
    if state != "running" or not m:
        print("?"); sys.exit(0)
    t = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) + float(m.group(2) or 0)
    last = t if last is None else max(last, t)
print("%.3f" % (last - t0) if last is not None else "?")' "$2"
}

# --- the contenders -------------------------------------------------------------------------------
dops_prefix=$proj-bb-
stack_prefix=${stack}_
stack_services=$N
[ "$STACK_FORM" = replicas ] && stack_services=1

# Sets last_cmd (the command's time), last_total (until all ready), last_task (the last task
# running, by the manager's timestamps) and last_state.
run_dops() {
  local t0 t1 st
  t0=$(now)
  dops run:all --wait "--timeout=$STEP_TIMEOUT" || die "dops run:all --wait failed"
  t1=$(now)
  st=$(wait_ready "$dops_prefix" "$N") || die "[dops] after run:all --wait: not all ready within $STEP_TIMEOUT s (services running healthy: $st)"
  last_total=$(elapsed "$t0")
  last_cmd=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  last_state=$st
  last_task=$(last_running "$dops_prefix" "$t0") || last_task='?'
  dops clean:all || die "dops clean:all failed"
  wait_gone "$dops_prefix" "$proj" || die "[dops] not removed"
}

run_stack() {
  local t0 t1 st
  t0=$(now)
  md stack deploy --detach=true -c "$work/stack.yml" "$stack" >"$work/stack.log" 2>&1 ||
    { cat "$work/stack.log" >&2; die "docker stack deploy failed"; }
  t1=$(now)
  st=$(wait_ready "$stack_prefix" "$stack_services") || die "[stack] not all ready within $STEP_TIMEOUT s (services running healthy: $st)"
  last_total=$(elapsed "$t0")
  last_cmd=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  last_state=$st
  last_task=$(last_running "$stack_prefix" "$t0") || last_task='?'
  md stack rm "$stack" >/dev/null 2>&1 || die "docker stack rm failed"
  wait_gone "$stack_prefix" "${stack}_net" || die "[stack] not removed"
}

# --- warm-up: dops first (it pushes the image); its spec gives the stack's health check -----------
say "warm-up: dops run:all --wait ($N instances)"
dops run:all --wait "--timeout=$STEP_TIMEOUT" || die "warm-up dops run:all failed"
wait_ready "$dops_prefix" "$N" >/dev/null || die "warm-up: dops' services not ready"
md service inspect "${dops_prefix}i01" >"$work/dops-service.json" || die "cannot inspect ${dops_prefix}i01"
dops_image=$(md service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "${dops_prefix}i01")
dops_net=$(md network inspect -f '{{.Driver}} attachable={{.Attachable}}' "$proj" 2>/dev/null || echo "?")
dops clean:all || die "warm-up dops clean:all failed"
wait_gone "$dops_prefix" "$proj" || die "warm-up: dops' services not removed"

# The same image for the stack, pushed to the same repository under the tag `stack`.
hd tag "$proj/bb:latest" "$REGISTRY_HOST/$proj/bb:stack"
timeout 120 env DOCKER_HOST="$HOST_ENGINE" docker push "$REGISTRY_HOST/$proj/bb:stack" >/dev/null || die "push of the stack's image failed"
stack_image=$REGISTRY/$proj/bb:stack

# The compose file: health check, restart policy and stop grace period as dops set them.
python3 - "$work/dops-service.json" "$work/stack.yml" "$stack_image" "$N" "$STACK_FORM" <<'PY' || die "cannot derive the compose file from dops' service"
import json, sys
spec_file, out, image, n, form = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
svc = json.load(open(spec_file))[0]["Spec"]
tt = svc["TaskTemplate"]
hc = tt["ContainerSpec"]["Healthcheck"]
rp = tt.get("RestartPolicy", {})
grace = tt["ContainerSpec"].get("StopGracePeriod")
mode = svc.get("EndpointSpec", {}).get("Mode", "vip")
def dur(ns):
    ns = int(ns or 0)
    return "%dms" % (ns // 1_000_000) if ns % 1_000_000_000 else "%ds" % (ns // 1_000_000_000)
cond = {"any": "any", "on-failure": "on-failure", "none": "none"}[rp.get("Condition", "any")]
health = {"test": hc["Test"], "interval": dur(hc.get("Interval")), "timeout": dur(hc.get("Timeout")),
          "retries": hc.get("Retries", 3), "start_period": dur(hc.get("StartPeriod"))}
deploy_common = {"endpoint_mode": mode,
                 "restart_policy": dict({"condition": cond, "delay": dur(rp.get("Delay"))},
                                        **({"max_attempts": rp["MaxAttempts"]} if rp.get("MaxAttempts") else {}))}
def service(hostname, replicas):
    s = {"image": image, "healthcheck": health, "networks": ["net"],
         "deploy": dict(deploy_common, replicas=replicas)}
    if hostname:
        s["hostname"] = hostname
    if grace is not None:
        s["stop_grace_period"] = dur(grace)
    return s
if form == "services":
    services = {"bb%02d" % i: service("bb-i%02d" % i, 1) for i in range(1, n + 1)}
else:
    services = {"bb": service(None, n)}
doc = {"version": "3.8", "services": services,
       "networks": {"net": {"driver": "overlay", "attachable": True}}}
# JSON is YAML: no YAML library needed.
json.dump(doc, open(out, "w"), indent=1)
print("swarm: dops' service spec: health %s every %s (timeout %s, retries %s, start period %s), "
      "restart %s delay %s, stop grace %s, endpoint %s" % (
          " ".join(hc["Test"]), health["interval"], health["timeout"], health["retries"],
          health["start_period"], cond, deploy_common["restart_policy"]["delay"],
          dur(grace) if grace is not None else "-", mode), file=sys.stderr)
PY

say "warm-up: docker stack deploy ($STACK_FORM)"
run_stack
say "set-up and warm-ups took $(elapsed "$t_setup") s"

# --- the rounds -----------------------------------------------------------------------------------
dops_t=() stack_t=() dops_c=() stack_c=() dops_l=() stack_l=() runs=()
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order=(dops stack); else order=(stack dops); fi
  for c in "${order[@]}"; do
    "run_$c"
    read -r -a s <<<"$last_state"
    line=$(printf 'round %d  %-5s  ready %7.3f s  (last task running %7s s, command %7.3f s)  services %s, tasks running %s, healthy %s, per node %s' \
      "$r" "$c" "$last_total" "$last_task" "$last_cmd" "${s[0]}" "${s[1]}" "${s[2]}" "${s[3]}")
    say "$line"
    runs+=("$line")
    if [ "$c" = dops ]; then
      dops_t+=("$last_total") dops_c+=("$last_cmd") dops_l+=("$last_task")
    else
      stack_t+=("$last_total") stack_c+=("$last_cmd") stack_l+=("$last_task")
    fi
  done
done

d=$(median "${dops_t[@]}")
sm=$(median "${stack_t[@]}")
echo
echo "swarm bench: $N instances on a ${#NODE_HOSTS[@]}-node swarm (bed $BED), $ROUNDS rounds, order alternating (odd rounds dops first)"
echo "  dops:  $N services × 1 replica ($dops_prefix*), image $dops_image, network $proj ($dops_net), DNS off"
if [ "$STACK_FORM" = services ]; then
  echo "  stack: $N services × 1 replica (${stack_prefix}bbNN), image $stack_image, the same health check/restart/endpoint mode"
else
  echo "  stack: 1 service × $N replicas (${stack_prefix}bb), image $stack_image, the same health check/restart/endpoint mode"
fi
echo "  ready = $N tasks running on the manager AND $N containers running+healthy on the nodes (same poll for both)"
for l in "${runs[@]}"; do echo "  $l"; done
echo "  median ready: dops run:all --wait ${d}s (rounds: ${dops_t[*]})"
echo "                docker stack deploy ${sm}s (rounds: ${stack_t[*]})"
echo "  median command alone: dops $(median "${dops_c[@]}")s, docker stack deploy --detach $(median "${stack_c[@]}")s"
echo "  dops / stack = $(ratio "$d" "$sm")   (ready, the bench's poll)"
dl=$(median "${dops_l[@]}")
sl=$(median "${stack_l[@]}")
if printf '%s\n' "${dops_l[@]}" "${stack_l[@]}" | grep -qvE '^[0-9.]+$'; then
  echo "  last task running (manager's timestamps): not read in every run (?), no median"
else
  echo "  median last task running (manager's timestamps): dops ${dl}s, stack ${sl}s; dops / stack = $(ratio "$dl" "$sl")"
fi
