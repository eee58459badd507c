#!/usr/bin/env bash
# bench/rollout.sh: the same change rolled out to 3 web instances behind a load balancer, side by
# side in one run, by dops (`dops run:all`) and by Debian's docker-compose (`docker-compose up -d`
# on the equivalent compose file), under the same bounded HTTP load on the balancer. Prints, for
# each, the failed requests, the roll-out's time, and the ratios. Target: dops 0 failed.
#
# Like with like:
#   images     the demo's web and lb (`dops install_demo`), built once, by dops (dops-init is in
#              both). web is built twice: v1, and v2 whose page ends in " v2" (web-serve changed,
#              as in tests/demo_story.rs phase 7). Both contenders run <project>/web:latest, and
#              the change is the same for both: that tag moves from v1's image to v2's (what
#              rebuilding the changed page does, without the build's time), then the contender's
#              command runs. Before each contender the tag is put back on v1.
#   balancer   the same lb image (Debian's HAProxy), the same global and defaults sections, with
#              HAProxy's retries off: `retries 0`, no `option redispatch`, no `retry-on` (the
#              hand-over must do the work, not the retries); `option httpchk GET /`, a check
#              every 1 s, down after 2 failures, up after 1.
#              dops: the lb as the demo ships it: its dops-init follows web.local.zone in the
#              dops DNS and renders the server list; web one, two, three in the run conf.
#              compose: what a Compose user writes from HAProxy's documentation on Docker's
#              DNS: one service `web` with `deploy.replicas: 3`, and in haproxy.cfg
#                resolvers docker: nameserver dns 127.0.0.11:53 (Docker's embedded DNS),
#                                  hold valid 10s (HAProxy's documented example)
#                server-template web 3 web:3000 check resolvers docker init-addr none
#              HAProxy is the lb's main process (`entrypoint: haproxy -W -db -f …`, the file
#              mounted). Not chosen: three services web1..3 with a static server list (Compose
#              recreates independent services in parallel just the same, and `replicas` is how
#              Compose runs N copies of one thing).
#   hand-over  what each does with the same images: dops replaces one instance at a time
#              (start-first: the new one UP and registered in the dops DNS, then the old one
#              withdrawn, drained for the web image's stop_drain_s of 2 s, stopped); Compose
#              recreates the 3 containers in parallel (stop, then start the new one). The web
#              image's dops-init drains only an instance registered in the dops DNS, so under
#              Compose its program stops at once on `docker stop`, as in any image without a drain.
#   load       the same client for both (load_client.py): CONCURRENCY keep-alive HTTP/1.1 clients on
#              the balancer's port published on 127.0.0.1, bounded by MAX_SECONDS and
#              MAX_REQUESTS. A failure is an exception (refused, reset, timeout) or a status other
#              than 200 (HAProxy's 503 when no server is up, 502 when one vanished mid-request).
#   readiness  the same for both: dops-init's lifecycle UP, the `since` of each new container's
#              /run/dops/state.json (read with docker exec), the moment its warmup passed.
#   roll-out   from the command's start to the latest of: the command returning, the last new
#   time       instance UP, the last response with the old page (v1).
# Each contender starts from its own platform running v1 (started, all 3 instances answering
# through the balancer, BASELINE s of load), and its load goes on SETTLE s after the roll-out.
# After it, the bench checks that exactly 3 web containers run v2's image and that the balancer
# serves v2; otherwise it fails. Everything it created (containers, networks, images, the temp
# folder) is removed at the end, even on failure or Ctrl-C. A contender that failed requests gets
# a timeline (its command's output, each page's first and last response, the first and last
# failure); the exit status is 1 when dops failed any (the target).
#
# Usage: bench/rollout.sh            (root or a docker user; needs curl and python3; as root on
#                                     Debian installs docker-compose if missing)
#   ORDER="dops compose"  the contenders, in this order      CONCURRENCY=4  keep-alive clients
#   MAX_SECONDS=240  hard limit of each load (time)           MAX_REQUESTS=300000 (count)
#   BASELINE=3  seconds of load before the change             SETTLE=3  seconds after it
#   STEP_TIMEOUT=180  limit of each dops/compose command       KEEP=1  leave everything (debug)
#   DOPS=path  the dops binary (default: this checkout's release build, built if missing)
#   LOGS=dir   copy the commands' output, the load's results and the figures there at the end
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/common.sh"

ORDER=${ORDER:-dops compose}
CONCURRENCY=${CONCURRENCY:-4}
MAX_SECONDS=${MAX_SECONDS:-240}
MAX_REQUESTS=${MAX_REQUESTS:-300000}
BASELINE=${BASELINE:-3}
SETTLE=${SETTLE:-3}
STEP_TIMEOUT=${STEP_TIMEOUT:-180}
KEEP=${KEEP:-0}

say() { printf 'rollout: %s\n' "$*" >&2; }
die() { printf 'rollout: error: %s\n' "$*" >&2; exit 1; }

read -ra order <<<"$ORDER"
[ "${#order[@]}" -gt 0 ] || die "ORDER is empty (expected: dops, compose, or both)"
for c in "${order[@]}"; do
  case $c in dops | compose) ;; *) die "unknown contender '$c' in ORDER (expected: dops, compose)" ;; esac
done
command -v python3 >/dev/null || die "python3 is needed for the load client"
command -v curl >/dev/null || die "curl is needed"
timeout 10 docker info >/dev/null 2>&1 || die "no Docker engine answers"
command -v docker-compose >/dev/null || {
  say "installing Debian's docker-compose"
  "$ROOT/install.sh" tools docker-compose
}

work=$(mktemp -d "${TMPDIR:-/tmp}/dops-rollout.XXXXXX")
proj=rollout$$          # the dops project (containers <proj>-web-one, images <proj>/web, ...)
cproj=${proj}c          # the compose project (containers <cproj>_web_1, network <cproj>_default)
dir=$work/$proj
cdir=$work/compose
load_pid=

compose() { (cd "$cdir" && timeout "$STEP_TIMEOUT" docker-compose -p "$cproj" "$@"); }

# dops on the bench project; its output goes to $work/dops.log, shown when it fails.
dops() {
  if ! timeout "$STEP_TIMEOUT" "$DOPS" --project "$dir" --conf bench "$@" >"$work/dops.log" 2>&1; then
    tail -n 30 "$work/dops.log" >&2
    return 1
  fi
}

remove_dops_platform() {
  local - n
  set +e
  [ -d "$dir" ] && timeout 120 "$DOPS" --project "$dir" --conf bench clean:all,purge=True,yes=True >/dev/null 2>&1
  docker ps -aq --filter "label=io.dops.project=$proj" | xargs -r docker rm -f >/dev/null 2>&1
  for n in $(docker network ls -q --filter "label=io.dops.project=$proj"); do remove_network "$n"; done
  docker network inspect "$proj" >/dev/null 2>&1 && remove_network "$proj"
  return 0
}

remove_compose_platform() {
  local -
  set +e
  [ -f "$cdir/docker-compose.yml" ] && compose down -t 1 --remove-orphans >/dev/null 2>&1
  docker ps -aq --filter "label=com.docker.compose.project=$cproj" | xargs -r docker rm -f >/dev/null 2>&1
  docker network inspect "${cproj}_default" >/dev/null 2>&1 && remove_network "${cproj}_default"
  return 0
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [ -n "$load_pid" ] && kill -0 "$load_pid" 2>/dev/null; then
    kill "$load_pid" 2>/dev/null; wait "$load_pid" 2>/dev/null
  fi
  if [ -n "${LOGS:-}" ]; then
    mkdir -p "$LOGS" && cp "$work"/*.log "$work"/*.json "$work"/*.ups "$LOGS"/ 2>/dev/null
    say "logs in $LOGS"
  fi
  if [ "$KEEP" = 1 ]; then
    say "KEEP=1: everything left in place ($work; dops project $proj, compose project $cproj)"
    exit "$rc"
  fi
  say "cleaning up ($proj, $cproj)"
  remove_dops_platform
  remove_compose_platform
  docker ps -aq --filter "label=dops-bench=$proj" | xargs -r docker rm -f >/dev/null 2>&1
  { docker images -q --filter "label=io.dops.project=$proj"
    docker images --format '{{.Repository}}:{{.Tag}}' | grep -E "^($proj|$proj-bench)/"; } |
    sort -u | xargs -r docker rmi -f >/dev/null 2>&1
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A TCP port nobody listens on, from $1 up (bounded), other than the ones after it.
free_port() {
  local p=$1 end=$(($1 + 1000)) x taken
  shift
  while [ "$p" -lt "$end" ]; do
    taken=0
    for x in "$@"; do [ "$p" = "$x" ] && taken=1; done
    [ "$taken" = 0 ] && ! ss -Hltn "sport = :$p" | grep -q . && { echo "$p"; return 0; }
    p=$((p + 1))
  done
  die "no free TCP port in $1..$end"
}

image_id() { docker image inspect -f '{{.Id}}' "$1"; }
# Each line of stdin with the time it arrived (epoch seconds) in front.
stamp() { local l; while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done; }

# --- set-up, once for both: the project, the images, the two balancer configurations --------------
t_setup=$(now)
say "installing the demo as project $proj in $work"
timeout 60 "$DOPS" install_demo "$dir" >/dev/null || die "dops install_demo failed"
for f in services/web/Dockerfile services/web/web-serve services/lb/Dockerfile \
  services/lb/config/haproxy.cfg services/lb/config/haproxy.cfg.hb; do
  [ -f "$dir/$f" ] || die "dops install_demo did not write $f"
done
cat >"$dir/bench.conf" <<'EOF'
# bench/rollout.sh: the demo's web (three instances) and its balancer, no database
[
  {"service": "web", "instance": "one", "env_vars": {"DNS_PORT": "3000"}},
  {"service": "web", "instance": "two", "env_vars": {"DNS_PORT": "3000"}},
  {"service": "web", "instance": "three", "env_vars": {"DNS_PORT": "3000"}},
  {"service": "lb", "instance": "master", "instance_type": "published"}
]
EOF
p80=$(free_port 18180)
p8404=$(free_port 18504 "$p80")
pc80=$(free_port 18280 "$p80" "$p8404")
printf '\n# bench/rollout.sh: host ports free on this machine\n# dops: expose 80 as %s\n# dops: expose 8404 as %s\n' \
  "$p80" "$p8404" >>"$dir/services/lb/Dockerfile"

# HAProxy's retries off, in the template dops-init renders and in the initial file.
for f in "$dir/services/lb/config/haproxy.cfg.hb" "$dir/services/lb/config/haproxy.cfg"; do
  grep -Eq '^[[:space:]]*retries[[:space:]]' "$f" || die "$f has no 'retries' line to turn off"
  sed -i -E -e 's/^([[:space:]]*)retries[[:space:]].*/\1retries 0/' \
    -e '/^[[:space:]]*option[[:space:]]+redispatch/d' -e '/^[[:space:]]*retry-on[[:space:]]/d' "$f"
  if ! grep -Eq '^[[:space:]]*retries 0$' "$f" || grep -Eq '^[[:space:]]*(option[[:space:]]+redispatch|retry-on)' "$f"; then
    die "could not turn HAProxy's retries off in $f"
  fi
done

# The compose balancer's haproxy.cfg: the same file (global, defaults, frontends, backend), the
# servers from Docker's DNS instead of dops-init's rendering.
mkdir -p "$cdir"
{
  cat <<'EOF'
# bench/rollout.sh, the compose side: the dops demo's HAProxy configuration (retries off), the
# servers from Docker's embedded DNS (the compose service name `web`, scaled to 3).
EOF
  awk '/^global/ { on = 1 } !on { next }
       { print }
       /^backend web/ { b = 1 }
       b && /option httpchk/ { print "    server-template web 3 web:3000 check resolvers docker init-addr none"; b = 0 }' \
    "$dir/services/lb/config/haproxy.cfg"
  cat <<'EOF'

resolvers docker
    nameserver dns 127.0.0.11:53
    resolve_retries 3
    timeout resolve 1s
    timeout retry 1s
    hold other 10s
    hold refused 10s
    hold nx 10s
    hold timeout 10s
    hold valid 10s
    hold obsolete 10s
EOF
} >"$cdir/haproxy.cfg"
grep -q '^    server-template web 3 web:3000' "$cdir/haproxy.cfg" || die "no server-template in $cdir/haproxy.cfg"

say "building web v1, web v2 and lb"
dops build:web || die "dops build:web (v1) failed"
docker tag "$proj/web:latest" "$proj-bench/web:v1"
sed -i "s/'%s %s (%s)\\\\n'/'%s %s (%s) v2\\\\n'/" "$dir/services/web/web-serve"
grep -q "(%s) v2" "$dir/services/web/web-serve" || die "could not change the page in services/web/web-serve"
dops build:web || die "dops build:web (v2) failed"
docker tag "$proj/web:latest" "$proj-bench/web:v2"
dops build:lb || die "dops build:lb failed"
v1=$(image_id "$proj-bench/web:v1")
v2=$(image_id "$proj-bench/web:v2")
[ "$v1" != "$v2" ] || die "web v1 and v2 are the same image ($v1)"
say "web v1 ${v1:7:12}, v2 ${v2:7:12}"
docker run --rm --label "dops-bench=$proj" --network none --entrypoint haproxy \
  -v "$cdir/haproxy.cfg:/tmp/haproxy.cfg:ro" "$proj/lb" -c -q -f /tmp/haproxy.cfg ||
  die "HAProxy refuses $cdir/haproxy.cfg"

cat >"$cdir/docker-compose.yml" <<EOF
# bench/rollout.sh: the bench's dops project, the Compose way (the same images).
services:
  web:
    image: $proj/web:latest
    environment:
      DNS_PORT: "3000"
    deploy:
      replicas: 3
  lb:
    image: $proj/lb:latest
    entrypoint: ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
    volumes:
      - ./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro
    ports:
      - "127.0.0.1:$pc80:80"
    depends_on:
      - web
EOF
say "set-up took $(elapsed "$t_setup") s"

# --- helpers of one contender ----------------------------------------------------------------------

# Bounded: until the balancer at $1 has answered with 3 different v1 pages (one per instance).
wait_served_v1() {
  local url=$1 body
  local -A seen=()
  for _ in $(seq 1 300); do
    body=$(curl -s --max-time 2 "$url" || true)
    case "$body" in web\ *v2 | "") ;; web\ *) seen[$body]=1 ;; esac
    [ "${#seen[@]}" -ge 3 ] && return 0
    sleep 0.2
  done
  die "the balancer at $url did not serve 3 instances of v1 within 60 s (saw: ${!seen[*]})"
}

# dops-init's UP time (epoch seconds, the `since` of /run/dops/state.json) of container $1; empty
# when it is not UP (yet).
up_since() {
  docker exec "$1" cat /run/dops/state.json 2>/dev/null | python3 -c '
import calendar, json, re, sys, time
try:
    s = json.load(sys.stdin)
except Exception:
    sys.exit(0)
if s.get("state") != "UP":
    sys.exit(0)
# "since" (RFC 3339, nanoseconds) is finer than "since_epoch" (whole seconds).
m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z$", s.get("since") or "")
if m:
    print("%.3f" % (calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) + float(m.group(2) or 0)))
elif s.get("since_epoch") is not None:
    print(s["since_epoch"])' || true
}

# Bounded: until exactly 3 running containers match the docker ps filters $2.., all of image $1
# and UP; prints "<container> <since>" for each (since: dops-init's UP time, epoch seconds).
wait_new_up() {
  local image=$1 deadline ids id s out all f
  shift
  local filters=()
  for f in "$@"; do filters+=(--filter "$f"); done
  deadline=$(($(date +%s) + STEP_TIMEOUT))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    ids=$(docker ps -q --no-trunc "${filters[@]}" --filter status=running)
    out='' all=1
    if [ "$(printf '%s\n' "$ids" | grep -c .)" = 3 ]; then
      for id in $ids; do
        [ "$(docker inspect -f '{{.Image}}' "$id" 2>/dev/null)" = "$image" ] || { all=0; break; }
        s=$(up_since "$id")
        [ -n "$s" ] || { all=0; break; }
        out="$out$(docker inspect -f '{{.Name}}' "$id" | sed 's|^/||') $s"$'\n'
      done
      [ "$all" = 1 ] && { printf '%s' "$out"; return 0; }
    fi
    sleep 0.2
  done
  say "not 3 containers of image ${image:7:12} UP within $STEP_TIMEOUT s ($*)"
  return 1
}

# The load on $1 in the background (load_pid); its results go to $2 once $3 exists or a limit hits.
start_load() {
  python3 "$(dirname "$(readlink -f "$0")")/load_client.py" "$1" "$CONCURRENCY" "$MAX_SECONDS" "$3" "$2" "$MAX_REQUESTS" versions &
  load_pid=$!
}

stop_load() {
  touch "$1"
  wait "$load_pid" || die "the load client failed"
  load_pid=
}

# The contender's figures: $work/<contender>.json from the load's results and the times.
write_figures() { # contender results t0 t1 ups-file lb-before lb-after rollout-log
  python3 - "$@" "$work/$1.json" <<'PY'
import json, sys
name, results, t0, t1, ups_file, lb_before, lb_after, log_file, out = sys.argv[1:10]
t0, t1 = float(t0), float(t1)
s = json.load(open(results))
ups = [(l.split()[0], float(l.split()[1])) for l in open(ups_file) if l.strip()]
v1, v2 = s["versions"].get("v1"), s["versions"].get("v2")
last_up = max(u for _, u in ups)
last_v1 = v1["last"] if v1 else None
end = max(t1, last_up, last_v1 or t0)
f = {
    "contender": name, "requests": s["requests"], "failures": s["failures"], "errors": s["errors"],
    "failures_before_change": len([t for t in s["failure_times"] if t < t0]),
    "load_s": round(s["end"] - s["start"], 2), "hit_limit": s["hit_limit"],
    "command_s": round(t1 - t0, 3), "last_up_s": round(last_up - t0, 3),
    "last_v1_s": round(last_v1 - t0, 3) if last_v1 else None,
    "first_v2_s": round(v2["first"] - t0, 3) if v2 else None,
    "rollout_s": round(end - t0, 3),
    "ups_s": {c: round(u - t0, 3) for c, u in ups},
    "pages": {p: [c, round(a - t0, 3), round(b - t0, 3)]
              for v in s["versions"].values() for p, (c, a, b) in v["pages"].items()},
    # The roll-out command's output, each line with its time after the start.
    "log": [[round(float(l.split(" ", 1)[0]) - t0, 3), l.split(" ", 1)[1].rstrip("\n")]
            for l in open(log_file) if " " in l],
    "failure_span_s": [round(min(s["failure_times"]) - t0, 3), round(max(s["failure_times"]) - t0, 3)]
                      if s["failure_times"] else None,
    "lb_recreated": lb_before != lb_after,
}
json.dump(f, open(out, "w"))
PY
}

# --- contender: dops -------------------------------------------------------------------------------
run_dops() {
  say "[dops] starting web one, two, three (v1) and lb"
  docker tag "$v1" "$proj/web:latest"
  dops run:all,wait=True || die "dops run:all,wait=True failed"
  local lb=$proj-lb-master url lb_before lb_after t0 t1
  url=http://127.0.0.1:$p80/
  docker port "$lb" 80/tcp | grep -q ":$p80\$" || die "$lb does not publish port 80 on $p80"
  say "[dops] HAProxy: $(docker exec "$lb" grep -E '^[[:space:]]*(retries|option[[:space:]]+redispatch|retry-on)' /usr/local/etc/haproxy/haproxy.cfg | tr -s ' \n' ' ')"
  wait_served_v1 "$url"
  lb_before=$(docker inspect -f '{{.Id}}' "$lb")

  start_load "$url" "$work/dops.results.json" "$work/dops.stop"
  say "[dops] load: $CONCURRENCY keep-alive clients on $url; ${BASELINE} s, then the change"
  sleep "$BASELINE"
  docker tag "$v2" "$proj/web:latest"
  t0=$(now)
  timeout "$STEP_TIMEOUT" "$DOPS" --project "$dir" --conf bench run:all 2>&1 | stamp >"$work/dops.rollout.log" ||
    { cat "$work/dops.rollout.log" >&2; die "dops run:all (the roll-out) failed"; }
  t1=$(now)
  wait_new_up "$v2" "label=io.dops.project=$proj" "label=io.dops.service=web" >"$work/dops.ups" ||
    die "[dops] after dops run:all: not 3 web containers on v2 and UP"
  grep -c 'replacing' "$work/dops.rollout.log" | grep -qx 3 ||
    say "[dops] warning: dops run:all did not report 3 replacements: $(cat "$work/dops.rollout.log")"
  sleep "$SETTLE"
  stop_load "$work/dops.stop"
  docker logs -t "$lb" >"$work/dops.lb.log" 2>&1 || true
  lb_after=$(docker inspect -f '{{.Id}}' "$lb")
  curl -s --max-time 2 "$url" | grep -q ' v2$' || die "[dops] the balancer does not serve v2 after the roll-out"
  write_figures dops "$work/dops.results.json" "$t0" "$t1" "$work/dops.ups" "$lb_before" "$lb_after" "$work/dops.rollout.log"
  say "[dops] roll-out done in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s; removing the platform"
  remove_dops_platform
}

# --- contender: docker-compose ---------------------------------------------------------------------
run_compose() {
  say "[compose] starting web x3 (v1) and lb"
  docker tag "$v1" "$proj/web:latest"
  compose up -d >"$work/compose.log" 2>&1 || { cat "$work/compose.log" >&2; die "docker-compose up -d failed"; }
  local lb url lb_before lb_after t0 t1
  lb=$(docker ps -q --filter "label=com.docker.compose.project=$cproj" --filter "label=com.docker.compose.service=lb")
  [ -n "$lb" ] || die "[compose] no lb container"
  url=http://127.0.0.1:$pc80/
  say "[compose] HAProxy: $(docker exec "$lb" grep -E '^[[:space:]]*(retries|option[[:space:]]+redispatch|retry-on|server-template)' /usr/local/etc/haproxy/haproxy.cfg | tr -s ' \n' ' ')"
  # The same readiness as dops' --wait before the load: every instance UP.
  wait_new_up "$v1" "label=com.docker.compose.project=$cproj" "label=com.docker.compose.service=web" >/dev/null ||
    die "[compose] web v1 not UP"
  wait_served_v1 "$url"
  lb_before=$(docker inspect -f '{{.Id}}' "$lb")

  start_load "$url" "$work/compose.results.json" "$work/compose.stop"
  say "[compose] load: $CONCURRENCY keep-alive clients on $url; ${BASELINE} s, then the change"
  sleep "$BASELINE"
  docker tag "$v2" "$proj/web:latest"
  t0=$(now)
  compose up -d 2>&1 | stamp >"$work/compose.rollout.log" ||
    { cat "$work/compose.rollout.log" >&2; die "docker-compose up -d (the roll-out) failed"; }
  t1=$(now)
  wait_new_up "$v2" "label=com.docker.compose.project=$cproj" "label=com.docker.compose.service=web" >"$work/compose.ups" ||
    die "[compose] after docker-compose up -d: not 3 web containers on v2 and UP"
  sleep "$SETTLE"
  stop_load "$work/compose.stop"
  docker logs -t "$lb" >"$work/compose.lb.log" 2>&1 || true
  lb_after=$(docker ps -q --no-trunc --filter "label=com.docker.compose.project=$cproj" --filter "label=com.docker.compose.service=lb")
  curl -s --max-time 2 "$url" | grep -q ' v2$' || die "[compose] the balancer does not serve v2 after the roll-out"
  write_figures compose "$work/compose.results.json" "$t0" "$t1" "$work/compose.ups" "$lb_before" "$lb_after" "$work/compose.rollout.log"
  say "[compose] roll-out done in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s; removing the platform"
  remove_compose_platform
}

for c in "${order[@]}"; do "run_$c"; done

# --- side by side ----------------------------------------------------------------------------------
python3 - "$work" "$CONCURRENCY" "${order[@]}" <<'PY'
import json, os, sys
work, conc, order = sys.argv[1], sys.argv[2], sys.argv[3:]
r = {c: json.load(open(os.path.join(work, c + ".json"))) for c in order}
label = {"dops": "dops run:all", "compose": "docker-compose up -d"}
print()
print("rollout bench: web v1 -> v2 on 3 instances behind HAProxy (retries 0, no redispatch), "
      "%s keep-alive clients" % conc)
print("  %-22s %8s %9s %8s %10s %10s %10s %10s" % (
    "", "failed", "requests", "fail %", "command s", "last UP s", "last v1 s", "roll-out s"))
for c in order:
    f = r[c]
    print("  %-22s %8d %9d %8.3f %10.2f %10.2f %10s %10.2f" % (
        label[c], f["failures"], f["requests"], 100.0 * f["failures"] / max(f["requests"], 1),
        f["command_s"], f["last_up_s"], "%.2f" % f["last_v1_s"] if f["last_v1_s"] is not None else "-",
        f["rollout_s"]))
for c in order:
    f = r[c]
    extra = []
    if f["failures"]:
        extra.append("errors %s, from %.2f s to %.2f s after the command started" % (
            json.dumps(f["errors"], sort_keys=True), f["failure_span_s"][0], f["failure_span_s"][1]))
    if f["failures_before_change"]:
        extra.append("%d before the change" % f["failures_before_change"])
    if f["lb_recreated"]:
        extra.append("the lb container was recreated")
    if f["hit_limit"]:
        extra.append("WARNING: the load hit MAX_SECONDS/MAX_REQUESTS")
    ups = ", ".join("%s %.2f s" % (k, v) for k, v in sorted(f["ups_s"].items(), key=lambda x: x[1]))
    print("  %s: new instances UP at %s; first v2 response %.2f s%s" % (
        label[c], ups, f["first_v2_s"], ("; " + "; ".join(extra)) if extra else ""))
if "dops" in r and "compose" in r:
    d, c = r["dops"], r["compose"]
    print("  roll-out time dops / compose = %.2f   (command: %.2f)" % (
        d["rollout_s"] / c["rollout_s"], d["command_s"] / c["command_s"]))
    if d["failures"]:
        print("  failed dops / compose = %d / %d = %.3f" % (d["failures"], c["failures"],
              d["failures"] / c["failures"] if c["failures"] else float("inf")))
    else:
        print("  failed: dops 0 (target met), compose %d" % c["failures"])
# A contender with failures: its timeline, to see where they fell.
for c in order:
    f = r[c]
    if not f["failures"]:
        continue
    print("  %s timeline (s after the command started):" % label[c])
    events = [(t, "%s" % line) for t, line in f["log"]]
    events += [(a, "first response of %s (%d in all)" % (p, n)) for p, (n, a, b) in f["pages"].items() if a >= 0]
    events += [(b, "last response of %s" % p) for p, (n, a, b) in f["pages"].items() if b >= 0]
    events += [(u, "%s UP" % k) for k, u in f["ups_s"].items()]
    events += [(f["failure_span_s"][0], "first failure"), (f["failure_span_s"][1], "last failure")]
    for t, e in sorted(events):
        print("    %7.3f  %s" % (t, e))
print("ROLLOUT_JSON " + json.dumps({c: {k: v for k, v in f.items() if k not in ("log", "pages")}
                                     for c, f in r.items()}, sort_keys=True))
if "dops" in r and r["dops"]["failures"]:
    sys.exit(1)
PY
