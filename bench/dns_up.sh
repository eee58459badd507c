#!/usr/bin/env bash
# bench/dns_up.sh: UP -> resolvable, measured on the real engine with a real container, side by side
# with the in-process figure of bench/dns_converge.rs (the registration client dops-init uses,
# against `dops dns serve` on loopback, no container involved).
#
# A small project of its own (one busybox service, the project's dops DNS on, as `dops run`
# sets it up): the dops-dns instance is started first, then, ROUNDS times, one web instance:
#   - while `dops run:web,instance=iN --wait` runs, the host asks the dops-dns container (its
#     address on the project network) for web-iN.<zone> every POLL_MS, until it answers (a small
#     UDP loop: a dig per poll would be too coarse), then checks the answer with dig;
#   - UP is the instance's own state.json (the host copy, <project>/.dops/run/web-iN/state.json:
#     "state" UP since "since", sub-second RFC 3339, the same clock as the host's);
#   - UP -> resolvable = reply to the first query that got the address - "since" (an upper bound:
#     the name became resolvable between the previous query and that one; the step is printed);
#   - then `dops clean:web,instance=iN` -> the name no longer resolves (withdrawal on STOPPED).
# Every loop is bounded in count and time; the DNS traffic goes only to the containers this
# script created and to loopback. Everything it created is removed at the end, even on failure
# or Ctrl-C (its own project name; dops clean, then by label).
#
# Usage: bench/dns_up.sh        ROUNDS=5 POLL_MS=2 (pause between two queries)
set -euo pipefail
. "$(dirname "$0")/common.sh"
ROUNDS=${ROUNDS:-5}
POLL_MS=${POLL_MS:-2}
ZONE=local.zone

command -v dig >/dev/null || "$ROOT/install.sh" tools bind9-dnsutils
command -v python3 >/dev/null || { echo "bench: python3 is needed (RFC 3339 parsing)" >&2; exit 1; }
timeout 10 docker info >/dev/null 2>&1 || { echo "bench: no Docker engine answers" >&2; exit 1; }
docker image inspect dops-test/busybox >/dev/null 2>&1 ||
  { echo "bench: dops-test/busybox is missing (./install.sh test-image)" >&2; exit 1; }
CONVERGE=$(dirname "$DOPS")/examples/dns_converge
if [ ! -x "$CONVERGE" ]; then
  echo "bench: building the dns_converge example (release)" >&2
  (cd "$ROOT" && cargo build --release --example dns_converge -q)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/dops-dnsup.XXXXXX")
proj=dnsup$$
dir=$work/$proj
serve_pid=
cleanup() {
  local rc=$? ids
  set +e
  trap - EXIT INT TERM
  # The loopback DNS server this script started, by pid.
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null; fi
  if [ -n "${poller:-}" ]; then kill "$poller" 2>/dev/null; wait "$poller" 2>/dev/null; fi
  if [ -d "$dir" ]; then timeout 120 "$DOPS" --project "$dir" clean:all >/dev/null 2>&1; fi
  # Whatever dops left: everything labelled with this project, by id.
  ids=$(docker ps -aq --filter "label=io.dops.project=$proj")
  [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
  remove_network "$proj"
  ids=$(docker network ls -q --filter "label=io.dops.project=$proj")
  [ -n "$ids" ] && docker network rm $ids >/dev/null 2>&1
  ids=$( { docker images -q --filter "label=io.dops.project=$proj"
           docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$proj/"; } | sort -u)
  [ -n "$ids" ] && docker rmi -f $ids >/dev/null 2>&1
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the project: one tiny service, DNS on (the default) ------------------------------------------
mkdir -p "$dir/services/web"
printf 'FROM dops-test/busybox\nCMD ["sleep","3600"]\n' >"$dir/services/web/Dockerfile"
{
  echo "["
  for i in $(seq 1 "$ROUNDS"); do
    sep=","; [ "$i" = "$ROUNDS" ] && sep=""
    printf '  {"service": "web", "instance": "i%d", "autorun": false}%s\n' "$i" "$sep"
  done
  echo "]"
} >"$dir/run.conf"

echo "bench: building web and dops-dns, starting dops-dns (project $proj)" >&2
(cd "$dir" && dops_q build:all)
(cd "$dir" && dops_q run:dops-dns,instance=master --wait --timeout 60)
dns_ip=$(docker inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$proj-dops-dns-master")
[ -n "$dns_ip" ] || { echo "bench: no address for $proj-dops-dns-master" >&2; exit 1; }
dig @"$dns_ip" +time=1 +tries=3 "$ZONE" SOA >/dev/null ||
  { echo "bench: the dops DNS at $dns_ip does not answer from the host" >&2; exit 1; }

# dig NAME -> its A records (empty when it does not resolve)
resolve() { dig @"$dns_ip" +short +time=1 +tries=1 "$1" A 2>/dev/null | grep -E '^[0-9.]+$' || true; }

# The poller: one dig costs ~30-40 ms of process start on this kind of machine, too coarse for a
# figure of a few ms, so the polling is done by a small Python loop sending the same A query
# over UDP (a new id each time) every POLL_MS; dig confirms the outcome afterwards. Bounded by
# 20000 queries and 30 s. Prints "<reply time of the first query with the wanted outcome>
# <reply time of the query before it> <queries>" (epoch seconds), or nothing on timeout.
cat >"$work/poll.py" <<'PY'
import os, random, socket, struct, sys, time
server, name, want, pause, ready = sys.argv[1], sys.argv[2], sys.argv[3] == "yes", float(sys.argv[4]) / 1000, sys.argv[5]
q_name = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((server, 53))
s.settimeout(0.2)
deadline, prev, n = time.time() + 30, time.time(), 0
while n < 20000 and time.time() < deadline:
    qid = random.randrange(65536)
    s.send(struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q_name + struct.pack(">HH", 1, 1))
    n += 1
    try:
        while True:
            r = s.recv(4096)
            if len(r) >= 12 and struct.unpack(">H", r[:2])[0] == qid:
                break
    except socket.timeout:
        prev = time.time()
        continue
    t = time.time()
    rcode, ancount = struct.unpack(">H", r[2:4])[0] & 0xF, struct.unpack(">H", r[6:8])[0]
    if (rcode == 0 and ancount > 0) == want:
        print("%.6f %.6f %d" % (t, prev, n))
        sys.exit(0)
    prev = t
    if n == 1:
        open(ready, "w").close() # polling: the caller may start what it measures
    time.sleep(pause)
PY
# poll NAME yes|no > result, in the background; returns once the poller has had its first
# answer (the outcome not wanted yet), so that what is measured starts only then.
poll_bg() {
  rm -f "$work/ready"
  python3 "$work/poll.py" "$dns_ip" "$1" "$2" "$POLL_MS" "$work/ready" >"$3" &
  poller=$!
  for _ in $(seq 1 200); do
    [ -e "$work/ready" ] && return 0
    kill -0 "$poller" 2>/dev/null || break
    sleep 0.05
  done
  echo "bench: the poller for $1 did not start (or the outcome '$2' held from the first query)" >&2
  exit 1
}

# "since" of a state.json in UP -> epoch seconds (sub-second), else empty.
up_since() {
  python3 - "$1" <<'PY'
import calendar, json, re, sys, time
try:
    s = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(0)
if s.get("state") != "UP":
    sys.exit(0)
m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z$", s.get("since") or "")
if m:
    print("%.6f" % (calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) + float(m.group(2) or 0)))
elif s.get("since_epoch") is not None:
    print(s["since_epoch"])
PY
}
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (a - b) * 1000 }'; }

up_res=(); steps=(); gone=(); poller=
for i in $(seq 1 "$ROUNDS"); do
  name=web-i$i.$ZONE
  [ -z "$(resolve "$name")" ] || { echo "bench: $name resolves before its instance runs" >&2; exit 1; }
  # The poller starts before the instance, so it sees the name appear wherever UP falls.
  poll_bg "$name" yes "$work/up.$i"
  (cd "$dir" && dops_q run:web,instance="i$i" --wait --timeout 60)
  wait "$poller" || true
  read -r t_res t_prev n_q <"$work/up.$i" || { echo "bench: $name never resolved within 30 s" >&2; exit 1; }
  ip=$(docker inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$proj-web-i$i")
  [ "$(resolve "$name")" = "$ip" ] || { echo "bench: dig $name @$dns_ip: '$(resolve "$name")', want $ip" >&2; exit 1; }
  since=$(up_since "$dir/.dops/run/web-i$i/state.json")
  [ -n "$since" ] || { echo "bench: web-i$i: state.json does not say UP" >&2; exit 1; }
  up_res+=("$(ms "$t_res" "$since")")
  steps+=("$(ms "$t_res" "$t_prev")")

  s=$(now)
  poll_bg "$name" no "$work/gone.$i"
  (cd "$dir" && dops_q clean:web,instance="i$i")
  wait "$poller" || true
  read -r t_gone _ _ <"$work/gone.$i" || { echo "bench: $name still resolves 30 s after dops clean" >&2; exit 1; }
  [ -z "$(resolve "$name")" ] || { echo "bench: dig $name @$dns_ip still answers after dops clean" >&2; exit 1; }
  gone+=("$(ms "$t_gone" "$s")")
  echo "bench: round $i: UP -> resolvable ${up_res[-1]} ms (poll step ${steps[-1]} ms, $n_q queries); clean -> gone ${gone[-1]} ms" >&2
done

# --- in-process, for comparison: the same client and server, no container, no network hop -------
port=25400
while ss -Hlnu "sport = :$port" | grep -q . && [ "$port" -lt 25500 ]; do port=$((port + 1)); done
key="hmac-sha256:bench-key:$(head -c 32 /dev/urandom | base64)"
DNS_LISTEN="127.0.0.1:$port" DNS_ZONE=$ZONE DNS_KEY="$key" DNS_LEASE=6 DNS_UPSTREAM=127.0.0.1:9 \
  DNS_RECORDS_FILE="$work/records.json" SERVICE_IP=127.0.0.1 DOPS_LOG=warn \
  setsid "$DOPS" dns serve </dev/null >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 100); do
  dig @127.0.0.1 -p "$port" +time=1 +tries=1 "$ZONE" SOA >/dev/null 2>&1 && break
  sleep 0.1
done
inproc=$(timeout 60 "$CONVERGE" "127.0.0.1:$port" "$key" | awk '/^up_to_resolvable_ms/ { print $3 }')
kill "$serve_pid" 2>/dev/null || true
wait "$serve_pid" 2>/dev/null || true
serve_pid=

real=$(median "${up_res[@]}")
echo
echo "UP -> resolvable, $ROUNDS instances started one by one on the real engine (project DNS at $dns_ip, asked from the host)"
printf '  %-62s %9s ms   (rounds: %s)\n' "real container (state.json since -> first answer from dops-dns)" "$real" "${up_res[*]}"
printf '  %-62s %9s ms\n' "in-process (dns_converge: register client -> loopback server)" "${inproc:-n/a}"
echo "  real / in-process = $(ratio "$real" "${inproc:-0}")"
echo "  poll step (the figures above are upper bounds by at most this): median $(median "${steps[@]}") ms"
echo "  dops clean -> name gone: median $(median "${gone[@]}") ms   (rounds: ${gone[*]})"
