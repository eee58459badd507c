#!/usr/bin/env bash
# bench/scale.sh: scale the demo's web service up and down under load, through the balancer.
#
# Installs the demo into a temporary folder (its own project name), builds web and lb, runs
# web one + two and lb (no database: a run conf of its own), then keeps a bounded HTTP load on
# the balancer's published port on 127.0.0.1 while it, one step at a time:
#   adds web three, adds web four, removes web one, removes web two   (then, with KILL=1,
#   `docker kill`s web three: a crash, which the DNS lease and HAProxy's checks absorb).
# It reports the requests, the failures (target: 0), the requests each instance served, the
# time from UP (`dops run --wait` returning, and the instance's own state.json) to the first
# request a new instance served, and the last request a removed instance served relative to
# `dops clean`. Everything it created is removed at the end, even on failure or Ctrl-C.
#
# Usage: bench/scale.sh            (root or a docker user; needs curl and python3)
#   CONCURRENCY=4   parallel keep-alive clients          GAP=5     seconds between steps
#   MAX_SECONDS=180 hard limit of the load (time)        KILL=0    add the docker kill step
#   MAX_REQUESTS=200000 hard limit of the load (count)
#   DOPS=path       the dops binary (default: dops on PATH, else target/.../release/dops)
#   KEEP=1          leave the project running (prints how to clean it)
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
repo=$(cd "$here/.." && pwd)
CONCURRENCY=${CONCURRENCY:-4}
GAP=${GAP:-5}
MAX_SECONDS=${MAX_SECONDS:-180}
MAX_REQUESTS=${MAX_REQUESTS:-200000}
KILL=${KILL:-0}
KEEP=${KEEP:-0}
STEP_TIMEOUT=${STEP_TIMEOUT:-120}

say() { printf 'scale: %s\n' "$*" >&2; }
die() { printf 'scale: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }

if [ -z "${DOPS:-}" ]; then
  if command -v dops >/dev/null 2>&1; then DOPS=$(command -v dops)
  else DOPS=$repo/target/x86_64-unknown-linux-gnu/release/dops; fi
fi
[ -x "$DOPS" ] || die "no dops binary at $DOPS (run ./install.sh, or set DOPS=)"
command -v python3 >/dev/null || die "python3 is needed for the load client"
command -v curl >/dev/null || die "curl is needed"
timeout 10 docker info >/dev/null 2>&1 || die "no Docker engine answers"

work=$(mktemp -d "${TMPDIR:-/tmp}/dops-scale.XXXXXX")
name=scalebench$$
dir=$work/$name
load_pid=
results=$work/results.json
stop_file=$work/stop
events=$work/events.log

dops() { timeout "$STEP_TIMEOUT" "$DOPS" --project "$dir" --conf bench "$@"; }

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [ -n "$load_pid" ] && kill -0 "$load_pid" 2>/dev/null; then
    kill "$load_pid" 2>/dev/null; wait "$load_pid" 2>/dev/null
  fi
  if [ "$KEEP" = 1 ] && [ -d "$dir" ]; then
    say "KEEP=1: project left running in $dir (clean: $DOPS --project $dir --conf bench clean:all,purge=True,yes=True)"
    exit "$rc"
  fi
  say "cleaning up project $name"
  [ -d "$dir" ] && timeout 120 "$DOPS" --project "$dir" --conf bench clean:all,purge=True,yes=True >/dev/null 2>&1
  # Whatever dops left (or could not remove): everything labelled with the project, by id.
  local ids
  ids=$(docker ps -aq --filter "label=io.dops.project=$name")
  [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
  ids=$(docker network ls -q --filter "label=io.dops.project=$name")
  [ -n "$ids" ] && docker network rm $ids >/dev/null 2>&1
  docker network rm "$name" >/dev/null 2>&1
  ids=$(docker volume ls -q --filter "label=io.dops.project=$name")
  [ -n "$ids" ] && docker volume rm $ids >/dev/null 2>&1
  ids=$( { docker images -q --filter "label=io.dops.project=$name"
           docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$name/"; } | sort -u)
  [ -n "$ids" ] && docker rmi -f $ids >/dev/null 2>&1
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- set-up ------------------------------------------------------------------------------------
t_setup=$(now)
say "installing the demo as project $name in $work"
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
say "building web and lb"
dops build:web >/dev/null || die "dops build:web failed"
dops build:lb >/dev/null || die "dops build:lb failed"
say "running web one, web two and lb (--wait)"
dops run:all,wait=True >/dev/null || die "dops run:all,wait=True failed"

lb=$name-lb-master
hostport=$(docker port "$lb" 80/tcp 2>/dev/null | grep -m1 -E '^(0\.0\.0\.0|127\.0\.0\.1):' | sed 's/.*://') ||
  true
[ -n "$hostport" ] || die "$lb does not publish port 80 on the host (docker port $lb)"
url=http://127.0.0.1:$hostport/
say "balancer: $url"

# Both initial instances must answer through the balancer before the load starts (bounded).
seen=
for _ in $(seq 1 150); do
  body=$(curl -s --max-time 2 "$url" || true)
  case "$body" in "web one "*) seen="$seen one" ;; "web two "*) seen="$seen two" ;; esac
  case "$seen" in *one*two* | *two*one*) break ;; esac
  sleep 0.2
done
case "$seen" in *one*two* | *two*one*) ;; *) die "the balancer did not reach web one and web two within 30 s (saw:${seen:- nothing})" ;; esac
say "set-up took $(awk -v a="$t_setup" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') s"

# --- the load ----------------------------------------------------------------------------------
# Keep-alive clients; each response's body names the instance ("web three (web-three)").
python3 - "$url" "$CONCURRENCY" "$MAX_SECONDS" "$stop_file" "$results" "$MAX_REQUESTS" <<'PY' &
import http.client, json, os, sys, threading, time, urllib.parse
url, conc, max_s, stop_file, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
max_requests = int(sys.argv[6])
u = urllib.parse.urlsplit(url)
lock = threading.Lock()
stats = {"requests": 0, "failures": 0, "status": {}, "errors": {}, "instances": {}, "failure_times": []}
start = time.time()
deadline = start + max_s

def record(inst, t):
    i = stats["instances"].setdefault(inst, {"count": 0, "first": t, "last": t})
    i["count"] += 1
    i["last"] = t

def fail(kind, t):
    stats["failures"] += 1
    stats["errors"][kind] = stats["errors"].get(kind, 0) + 1
    if len(stats["failure_times"]) < 1000:
        stats["failure_times"].append(round(t, 3))

def worker():
    conn = None
    while time.time() < deadline and stats["requests"] < max_requests and not os.path.exists(stop_file):
        try:
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
            conn.request("GET", "/")
            r = conn.getresponse()
            body = r.read().decode("utf-8", "replace")
            t = time.time()
            with lock:
                stats["requests"] += 1
                stats["status"][str(r.status)] = stats["status"].get(str(r.status), 0) + 1
                if r.status == 200:
                    words = body.split()
                    record(words[1] if len(words) > 1 else "?", t)
                else:
                    fail("http_%d" % r.status, t)
            if r.getheader("connection", "").lower() == "close":
                conn.close(); conn = None
        except Exception as e:
            t = time.time()
            with lock:
                stats["requests"] += 1
                fail(type(e).__name__, t)
            try:
                conn.close()
            except Exception:
                pass
            conn = None
            time.sleep(0.01)

threads = [threading.Thread(target=worker, daemon=True) for _ in range(conc)]
for th in threads: th.start()
for th in threads: th.join()
stats["start"] = start
stats["end"] = time.time()
with open(out + ".tmp", "w") as f: json.dump(stats, f)
os.replace(out + ".tmp", out)
PY
load_pid=$!
t_load=$(now)
say "load: $CONCURRENCY keep-alive clients on $url"

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
  dops run:web,instance="$1",wait=True >/dev/null || die "dops run:web,instance=$1,wait=True failed"
  b=$(now)
  echo "add $1 $a $b $(state_since "$1")" >>"$events"
}
remove() {
  sleep "$GAP"
  say "removing web $1"
  local a b
  a=$(now)
  dops clean:web,instance="$1",yes=True >/dev/null || die "dops clean:web,instance=$1 failed"
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
: >"$events"
add three
add four
remove one
remove two
[ "$KILL" = 1 ] && crash three
sleep "$GAP"
touch "$stop_file"
wait "$load_pid" || die "the load client failed"
load_pid=

# --- report ------------------------------------------------------------------------------------
python3 - "$results" "$events" "$t_load" "$CONCURRENCY" <<'PY'
import json, sys
stats = json.load(open(sys.argv[1]))
events = [l.split() for l in open(sys.argv[2]) if l.strip()]
dur = stats["end"] - stats["start"]
inst = stats["instances"]
print()
print("scale bench: %d requests in %.1f s (%.0f/s, %s clients), failures: %d%s" % (
    stats["requests"], dur, stats["requests"] / dur if dur else 0, sys.argv[4], stats["failures"],
    "  " + json.dumps(stats["errors"]) if stats["failures"] else ""))
print("served per instance: " + ", ".join("%s %d" % (k, v["count"]) for k, v in sorted(inst.items())))
report = {"requests": stats["requests"], "failures": stats["failures"], "errors": stats["errors"],
          "duration_s": round(dur, 2), "served": {k: v["count"] for k, v in inst.items()}, "steps": []}
late_steps = [e for e in events if float(e[2]) > stats["end"]]
if late_steps:
    print("WARNING: the load ended (MAX_SECONDS/MAX_REQUESTS) before %d step(s): their figures are meaningless" % len(late_steps))
report["load_ended_early"] = bool(late_steps)
for e in events:
    kind, name, a, b = e[0], e[1], float(e[2]), float(e[3])
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
        if s:
            step["last_served_after_command_start_s"] = round(s["last"] - a, 3)
        print("%-6s %-6s command %.2f s; last request served %s" % (
            kind, name, b - a,
            ("%.2f s after the command started" % step["last_served_after_command_start_s"])
            if s else "never"))
        if kind == "remove":
            late = [t for t in stats["failure_times"] if a <= t <= b + 5]
            step["failures_during"] = len(late)
    report["steps"].append(step)
print("SCALE_JSON " + json.dumps(report))
PY
