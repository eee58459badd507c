#!/usr/bin/env bash
# bench/scale.sh: scale the demo's web service up and down under load, through the balancer,
# once per HAProxy variant, and print the variants side by side:
#   retries     the demo's lb as shipped: retries 3, option redispatch, retry-on conn-failure
#               empty-response (a request to a server that just vanished goes to another one);
#   noretries   the same with HAProxy's retries off: retries 0, no option redispatch, no retry-on
#               (what dops's DNS, drain and health checks achieve on their own).
#
# Per variant: installs the demo into a temporary folder (its own project name), builds web and
# lb, runs web one + two and lb (no database: a run conf of its own; the balancer's ports are
# published on free host ports of 127.0.0.1), then keeps a bounded HTTP load on the balancer
# while it, one step at a time:
#   adds web three, adds web four, removes web one, removes web two, then (KILL=1, the default)
#   `docker kill`s web three: a crash, which the DNS lease and HAProxy's checks absorb.
# It reports the requests, the failures (target: 0), the requests each instance served, the
# time from UP (`dops run --wait` returning, and the instance's own state.json) to the first
# request a new instance served, the last request a removed instance served relative to
# `dops clean`, and the failures around each remove and the kill. Everything it created is
# removed at the end, even on failure or Ctrl-C.
#
# Usage: bench/scale.sh            (root or a docker user; needs curl and python3)
#   VARIANTS="retries noretries"  which variants, in this order
#   CONCURRENCY=4   parallel keep-alive clients          GAP=5     seconds between steps
#   MAX_SECONDS=180 hard limit of each load (time)       KILL=1    the docker kill step (0: none)
#   MAX_REQUESTS=200000 hard limit of each load (count)
#   DOPS=path       the dops binary (default: this checkout's release build, else dops on PATH)
#   KEEP=1          leave the projects running (prints how to clean them)
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
repo=$(cd "$here/.." && pwd)
CONCURRENCY=${CONCURRENCY:-4}
GAP=${GAP:-5}
MAX_SECONDS=${MAX_SECONDS:-180}
MAX_REQUESTS=${MAX_REQUESTS:-200000}
KILL=${KILL:-1}
VARIANTS=${VARIANTS:-retries noretries}
KEEP=${KEEP:-0}
STEP_TIMEOUT=${STEP_TIMEOUT:-120}

say() { printf 'scale: %s\n' "$*" >&2; }
die() { printf 'scale: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }

# This checkout's dops first: the bench measures the code beside it.
if [ -z "${DOPS:-}" ]; then
  DOPS=$repo/target/x86_64-unknown-linux-gnu/release/dops
  [ -x "$DOPS" ] || DOPS=$(command -v dops 2>/dev/null || echo "$DOPS")
fi
[ -x "$DOPS" ] || die "no dops binary at $DOPS (run ./install.sh, or set DOPS=)"
command -v python3 >/dev/null || die "python3 is needed for the load client"
command -v curl >/dev/null || die "curl is needed"
timeout 10 docker info >/dev/null 2>&1 || die "no Docker engine answers"

work=$(mktemp -d "${TMPDIR:-/tmp}/dops-scale.XXXXXX")
# The project of the variant being run (empty between variants): what cleanup removes.
name=
dir=
kept=()
load_pid=

# dops for the current project; its progress goes to a log, shown when it fails.
dops() {
  local log=$work/dops.log
  if ! timeout "$STEP_TIMEOUT" "$DOPS" --project "$dir" --conf bench "$@" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    return 1
  fi
}

# Everything of project $1 (folder $2): dops clean, then whatever carries its label, by id.
remove_project() {
  # Best effort, whatever fails: errexit off in here only.
  local - p=$1 d=$2 ids
  set +e
  say "cleaning up project $p"
  [ -d "$d" ] && timeout 120 "$DOPS" --project "$d" --conf bench clean:all,purge=True,yes=True >/dev/null 2>&1
  ids=$(docker ps -aq --filter "label=io.dops.project=$p")
  [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
  ids=$(docker network ls -q --filter "label=io.dops.project=$p")
  [ -n "$ids" ] && docker network rm $ids >/dev/null 2>&1
  docker network rm "$p" >/dev/null 2>&1
  ids=$(docker volume ls -q --filter "label=io.dops.project=$p")
  [ -n "$ids" ] && docker volume rm $ids >/dev/null 2>&1
  ids=$( { docker images -q --filter "label=io.dops.project=$p"
           docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$p/"; } | sort -u)
  [ -n "$ids" ] && docker rmi -f $ids >/dev/null 2>&1
  return 0
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [ -n "$load_pid" ] && kill -0 "$load_pid" 2>/dev/null; then
    kill "$load_pid" 2>/dev/null; wait "$load_pid" 2>/dev/null
  fi
  if [ "$KEEP" = 1 ]; then
    [ -n "$name" ] && kept+=("$dir")
    for d in "${kept[@]}"; do
      say "KEEP=1: project left running in $d (clean: $DOPS --project $d --conf bench clean:all,purge=True,yes=True)"
    done
    exit "$rc"
  fi
  [ -n "$name" ] && remove_project "$name" "$dir"
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A TCP port nobody listens on, from $1 up (bounded); the balancer publishes on it.
free_port() {
  local p=$1 end=$(($1 + 1000))
  while [ "$p" -lt "$end" ]; do
    [ "$p" != "${2:-}" ] && ! ss -Hltn "sport = :$p" | grep -q . && { echo "$p"; return 0; }
    p=$((p + 1))
  done
  die "no free TCP port in $1..$end"
}

# The variant's HAProxy settings, in the template dops-init renders and in the initial file.
configure_variant() { # variant
  local f
  case $1 in
    retries) ;; # the demo as shipped
    noretries)
      for f in "$dir/services/lb/config/haproxy.cfg.hb" "$dir/services/lb/config/haproxy.cfg"; do
        grep -Eq '^[[:space:]]*retries[[:space:]]' "$f" || die "$f has no 'retries' line to turn off"
        sed -i -E -e 's/^([[:space:]]*)retries[[:space:]].*/\1retries 0/' \
          -e '/^[[:space:]]*option[[:space:]]+redispatch/d' -e '/^[[:space:]]*retry-on[[:space:]]/d' "$f"
        if ! grep -Eq '^[[:space:]]*retries 0$' "$f" || grep -Eq '^[[:space:]]*(option[[:space:]]+redispatch|retry-on)' "$f"; then
          die "could not turn HAProxy's retries off in $f"
        fi
      done
      ;;
    *) die "unknown variant '$1' (expected: retries, noretries)" ;;
  esac
}

# Steps: "<event> <instance> <t_start> <t_end> [<t_up_state>]" lines in $events.
state_since() { # instance -> since_epoch of its state.json when UP, else empty
  local f=$dir/.dops/run/web-$1/state.json
  [ -f "$f" ] || return 0
  python3 -c 'import calendar, json, re, sys, time
try:
    s = json.load(open(sys.argv[1]))
    if s.get("state") != "UP":
        sys.exit(0)
    # "since" (RFC 3339, nanoseconds) is finer than "since_epoch" (whole seconds).
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z$", s.get("since") or "")
    if m:
        print(calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) + float(m.group(2) or 0))
    elif s.get("since_epoch") is not None:
        print(s["since_epoch"])
except Exception:
    pass' "$f"
}
add() {
  sleep "$GAP"
  say "adding web $1"
  local a b
  a=$(now)
  dops run:web,instance="$1",wait=True || die "dops run:web,instance=$1,wait=True failed"
  b=$(now)
  echo "add $1 $a $b $(state_since "$1")" >>"$events"
}
remove() {
  sleep "$GAP"
  say "removing web $1"
  local a b
  a=$(now)
  dops clean:web,instance="$1",yes=True || die "dops clean:web,instance=$1 failed"
  b=$(now)
  echo "remove $1 $a $b" >>"$events"
}
crash() {
  sleep "$GAP"
  say "docker kill web $1"
  local a
  a=$(now)
  docker kill "$name-web-$1" >/dev/null || die "docker kill $name-web-$1 failed"
  echo "kill $1 $a $(now)" >>"$events"
}

# One whole run of the scenario for one variant; its report goes to $work/<variant>.report.json.
run_variant() {
  local variant=$1
  name=scale$$$variant
  dir=$work/$name
  results=$work/$variant.results.json
  stop_file=$work/$variant.stop
  events=$work/$variant.events.log

  # --- set-up ----------------------------------------------------------------------------------
  local t_setup p80 p8404
  t_setup=$(now)
  say "[$variant] installing the demo as project $name in $work"
  timeout 60 "$DOPS" install_demo "$dir" >/dev/null || die "dops install_demo failed"
  [ -f "$dir/services/web/Dockerfile" ] && [ -f "$dir/services/lb/Dockerfile" ] ||
    die "dops install_demo did not write services/web and services/lb"
  cat >"$dir/bench.conf" <<'EOF'
# bench/scale.sh: the demo without its database
[
  {"service": "web", "instance": "one"},
  {"service": "web", "instance": "two"},
  {"service": "lb", "instance": "master", "instance_type": "published"}
]
EOF
  # Free host ports for the balancer (the demo's 80 and 8404 may be taken on a shared machine):
  # a "# dops: expose" comment overrides the EXPOSE of the same port.
  p80=$(free_port 18080)
  p8404=$(free_port 18404 "$p80")
  printf '\n# bench/scale.sh: host ports free on this machine\n# dops: expose 80 as %s\n# dops: expose 8404 as %s\n' \
    "$p80" "$p8404" >>"$dir/services/lb/Dockerfile"
  configure_variant "$variant"
  say "[$variant] building web and lb"
  dops build:web || die "dops build:web failed"
  dops build:lb || die "dops build:lb failed"
  say "[$variant] running web one, web two and lb (--wait)"
  dops run:all,wait=True || die "dops run:all,wait=True failed"

  local lb=$name-lb-master hostport url seen body
  hostport=$(docker port "$lb" 80/tcp 2>/dev/null | grep -m1 -E '^(0\.0\.0\.0|127\.0\.0\.1):' | sed 's/.*://') ||
    true
  [ -n "$hostport" ] || die "$lb does not publish port 80 on the host (docker port $lb)"
  url=http://127.0.0.1:$hostport/
  say "[$variant] balancer: $url; HAProxy: $(docker exec "$lb" grep -E '^[[:space:]]*(retries|option[[:space:]]+redispatch|retry-on)' /usr/local/etc/haproxy/haproxy.cfg | tr -s ' \n' ' ')"

  # Both initial instances must answer through the balancer before the load starts (bounded).
  seen=
  for _ in $(seq 1 150); do
    body=$(curl -s --max-time 2 "$url" || true)
    case "$body" in "web one "*) seen="$seen one" ;; "web two "*) seen="$seen two" ;; esac
    case "$seen" in *one*two* | *two*one*) break ;; esac
    sleep 0.2
  done
  case "$seen" in *one*two* | *two*one*) ;; *) die "the balancer did not reach web one and web two within 30 s (saw:${seen:- nothing})" ;; esac
  say "[$variant] set-up took $(awk -v a="$t_setup" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') s"

  # --- the load --------------------------------------------------------------------------------
  # Keep-alive clients; each response's body names the instance ("web three (web-three)").
  python3 "$here/load_client.py" "$url" "$CONCURRENCY" "$MAX_SECONDS" "$stop_file" "$results" "$MAX_REQUESTS" instances &
  load_pid=$!
  local t_load
  t_load=$(now)
  say "[$variant] load: $CONCURRENCY keep-alive clients on $url"

  : >"$events"
  add three
  add four
  remove one
  remove two
  if [ "$KILL" = 1 ]; then crash three; fi
  sleep "$GAP"
  touch "$stop_file"
  wait "$load_pid" || die "the load client failed"
  load_pid=

  # --- report ----------------------------------------------------------------------------------
  echo
  echo "== variant $variant =="
  python3 - "$results" "$events" "$t_load" "$CONCURRENCY" "$variant" "$work/$variant.report.json" <<'PY'
import json, sys
stats = json.load(open(sys.argv[1]))
events = [l.split() for l in open(sys.argv[2]) if l.strip()]
variant, report_file = sys.argv[5], sys.argv[6]
dur = stats["end"] - stats["start"]
inst = stats["instances"]
print("scale bench: %d requests in %.1f s (%.0f/s, %s clients), failures: %d%s" % (
    stats["requests"], dur, stats["requests"] / dur if dur else 0, sys.argv[4], stats["failures"],
    "  " + json.dumps(stats["errors"]) if stats["failures"] else ""))
print("served per instance: " + ", ".join("%s %d" % (k, v["count"]) for k, v in sorted(inst.items())))
report = {"variant": variant, "requests": stats["requests"], "failures": stats["failures"],
          "errors": stats["errors"], "duration_s": round(dur, 2),
          "served": {k: v["count"] for k, v in inst.items()}, "steps": [],
          "failure_times_capped": len(stats["failure_times"]) < stats["failures"]}
late_steps = [e for e in events if float(e[2]) > stats["end"]]
if late_steps:
    print("WARNING: the load ended (MAX_SECONDS/MAX_REQUESTS) before %d step(s): their figures are meaningless" % len(late_steps))
report["load_ended_early"] = bool(late_steps)
for n, e in enumerate(events):
    kind, name, a, b = e[0], e[1], float(e[2]), float(e[3])
    # A step's window: from its start to the next step's start (the last one: the end of the
    # load), so that every failure is counted once, against the step before it.
    w_end = float(events[n + 1][2]) if n + 1 < len(events) else stats["end"]
    s = inst.get(name)
    step = {"step": kind, "instance": name, "command_s": round(b - a, 2)}
    if kind == "add":
        up = float(e[4]) if len(e) > 4 else None
        if s:
            step["wait_return_to_first_served_s"] = round(s["first"] - b, 3)
            if up is not None:
                step["up_to_first_served_s"] = round(s["first"] - up, 3)
        else:
            step["first_served"] = None
        print("add %-6s dops run --wait %.2f s; first request served %s after UP%s" % (
            name, b - a,
            ("%.2f s" % step["up_to_first_served_s"]) if "up_to_first_served_s" in step else "n/a",
            (" (%.2f s after --wait returned)" % step["wait_return_to_first_served_s"])
            if "wait_return_to_first_served_s" in step else "  NEVER SERVED"))
    else:
        step["failures_during"] = len([t for t in stats["failure_times"] if a <= t < w_end])
        step["window_s"] = round(w_end - a, 2)
        if s:
            step["last_served_after_command_start_s"] = round(s["last"] - a, 3)
        print("%-6s %-6s command %.2f s; last request served %s; failures in the %.1f s until the next step: %d" % (
            kind, name, b - a,
            ("%.2f s after the command started" % step["last_served_after_command_start_s"])
            if s else "never", step["window_s"], step["failures_during"]))
    report["steps"].append(step)
print("SCALE_JSON " + json.dumps(report))
json.dump(report, open(report_file, "w"))
PY

  if [ "$KEEP" = 1 ]; then kept+=("$dir"); else remove_project "$name" "$dir"; fi
  name=
}

for v in $VARIANTS; do run_variant "$v"; done

# --- side by side ----------------------------------------------------------------------------------
python3 - "$work" $VARIANTS <<'PY'
import json, os, sys
work, variants = sys.argv[1], sys.argv[2:]
reports = [json.load(open(os.path.join(work, v + ".report.json"))) for v in variants]
def during(r, kind):
    return sum(s.get("failures_during", 0) for s in r["steps"] if s["step"] == kind)
print()
print("scale bench, side by side (the same steps under the same load; failures: target 0)")
print("%-10s %9s %9s %8s %12s %12s %10s" % ("variant", "requests", "failures", "fail %", "at removes", "after kill", "req/s"))
for r in reports:
    kill = during(r, "kill") if any(s["step"] == "kill" for s in r["steps"]) else "-"
    print("%-10s %9d %9d %8.3f %12d %12s %10.0f" % (
        r["variant"], r["requests"], r["failures"], 100.0 * r["failures"] / max(r["requests"], 1),
        during(r, "remove"), kill, r["requests"] / r["duration_s"] if r["duration_s"] else 0))
if len(reports) == 2:
    a, b = reports
    ra, rb = a["failures"] / max(a["requests"], 1), b["failures"] / max(b["requests"], 1)
    if ra > 0:
        print("failure rate %s / %s = %.2f" % (b["variant"], a["variant"], rb / ra))
    else:
        print("failure rate %s / %s: n/a (%s had no failure; %s: %d)" % (b["variant"], a["variant"], a["variant"], b["variant"], b["failures"]))
if any(r["load_ended_early"] for r in reports):
    print("WARNING: a load ended before its steps (MAX_SECONDS/MAX_REQUESTS): see above")
PY
