#!/usr/bin/env bash
# bench/dns.sh: the dops DNS side by side with BIND 9 (`named`) and dnsmasq, on loopback, with
# dnsperf; the same records in all three; then the convergence of the dops DNS.
#
#   bench/dns.sh          # ROUNDS=3 DURATION=10 CLIENTS=8 OUTSTANDING=100 CLIENT_THREADS=2
#                         # LAT_QPS=5000 DNS_THREADS=1
#   ROUNDS=5 DURATION=20 bench/dns.sh
#   DOPS_BIN=/path/to/old/dops CONVERGE_BIN=/path/to/old/dns_converge bench/dns.sh
#                         # measure another dops build (e.g. before a change) instead of building
#
# Prints, per server: queries/s, lost, average and p99 latency (p99 measured in second, also
# interleaved, rounds at a fixed rate, LAT_QPS, from dnsperf -v), the server's CPU time per
# answered query (user+system from /proc/PID/stat over the throughput rounds: a counter that stays
# meaningful when the shared machine is busy), the share of a core that the server and dnsperf
# used (a client at 100% bounds the qps of a server below it), and the ratios dops/BIND and
# dops/dnsmasq. The order of the servers rotates each round. Then:
# UP -> resolvable and kill -9 -> gone, with the client dops-init uses.
#
# Before any speed is measured, the three servers must give the same answers (response code and
# records) to every query: a difference fails the bench.
#
# Every server runs on its own free loopback port, each for a bounded time, detached (setsid,
# stdin from /dev/null, output to a log file); everything started here is stopped by pid on exit.
# Needs root only to apt-get missing tools.
set -euo pipefail

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-8}
OUTSTANDING=${OUTSTANDING:-100}
LAT_QPS=${LAT_QPS:-5000}
LAT_SECS=${LAT_SECS:-5}
# dnsperf's threads for the throughput rounds. With one, dnsperf saturated its core before the
# dops server did (client 90-100% of a core, dops 65-70%), so dops' qps was the client's limit;
# with two, BIND and dnsmasq stay at their own limit (one serving thread each at 90-95%) and the
# client no longer caps the fastest server. The same client for all three either way.
CLIENT_THREADS=${CLIENT_THREADS:-2}
# One serving thread for dops and BIND, as dnsmasq: on 2 cores the other one is dnsperf's (with
# DNS_THREADS=2 all three servers answer less here: the second thread competes with dnsperf).
DNS_THREADS=${DNS_THREADS:-1}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/dops-dns-bench.XXXXXX)
chmod 755 "$WORK"
PIDS=()

cleanup() {
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # so that cleanup runs on Ctrl-C and kill too

say() { printf '%s\n' "$*" >&2; }

# --- tools (install only what is missing) ---------------------------------------------------
missing=()
command -v dnsperf >/dev/null || missing+=(dnsperf)
command -v named >/dev/null || [ -x /usr/sbin/named ] || missing+=(bind9)
command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || missing+=(dnsmasq)
command -v nsupdate >/dev/null || missing+=(bind9-dnsutils)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing: ${missing[*]}"
    "$ROOT/install.sh" tools "${missing[@]}"
fi
NAMED=$(command -v named || echo /usr/sbin/named)
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)

# --- the dops DNS binary ----------------------------------------------------------------------
cd "$ROOT"
REL="$ROOT/target/x86_64-unknown-linux-gnu/release"
if [ -z "${DOPS_BIN:-}" ] || [ -z "${CONVERGE_BIN:-}" ]; then
    say "building dops (release)..."
    cargo build --release --quiet --bin dops --example dns_converge
fi
DOPS_SERVE=("${DOPS_BIN:-$REL/dops}" dns serve)
CONVERGE="${CONVERGE_BIN:-$REL/examples/dns_converge}"

# --- free loopback ports ------------------------------------------------------------------------
used_ports=$(ss -Hlntu 2>/dev/null | awk '{print $5}' | sed 's/.*://' | sort -u)
next_port() {
    local p=$1
    while grep -qx "$p" <<<"$used_ports" || [ "$p" = "${PORT_DOPS:-}" ] || [ "$p" = "${PORT_BIND:-}" ]; do
        p=$((p + 1))
    done
    echo "$p"
}
PORT_DOPS=$(next_port 25353)
PORT_BIND=$(next_port $((PORT_DOPS + 1)))
PORT_MASQ=$(next_port $((PORT_BIND + 1)))

wait_port() { # port
    for _ in $(seq 1 100); do
        if dig @127.0.0.1 -p "$1" +time=1 +tries=1 local.zone SOA >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    say "server on port $1 did not come up"
    return 1
}

# --- the same records everywhere -------------------------------------------------------------
# web: 3 instances, db: 1 instance, an SRV for web-1.
RECORDS="web-1 10.10.0.1
web-2 10.10.0.2
web-3 10.10.0.3
db-1 10.10.1.1"

cat >"$WORK/queries" <<'EOF'
web.local.zone A
web-1.local.zone A
web-2.local.zone A
db.local.zone A
db-1.local.zone A
_80._tcp.web.local.zone SRV
missing.local.zone A
EOF

# dops: registrations through signed RFC 2136 UPDATEs (how dops learns names), long lease so
# nothing expires during the run.
KEY="hmac-sha256:bench-key:$(head -c 32 /dev/urandom | base64)"
DNS_LISTEN="127.0.0.1:$PORT_DOPS" DNS_ZONE=local.zone DNS_KEY="$KEY" DNS_LEASE=3600 DNS_TTL=2 \
    DNS_UPSTREAM=127.0.0.1:9 DNS_THREADS="$DNS_THREADS" DNS_RECORDS_FILE="$WORK/records.json" \
    SERVICE_IP=127.0.0.1 DOPS_LOG=warn setsid "${DOPS_SERVE[@]}" </dev/null >"$WORK/dops.log" 2>&1 &
PIDS+=($!)
DOPS_PID=$!
wait_port "$PORT_DOPS"
{
    echo "server 127.0.0.1 $PORT_DOPS"
    echo "zone local.zone"
    while read -r inst ip; do
        svc=${inst%-*}
        echo "update add $svc.local.zone 2 A $ip"
        echo "update add $inst.local.zone 2 A $ip"
    done <<<"$RECORDS"
    echo "update add _80._tcp.web.local.zone 2 SRV 0 0 80 web-1.local.zone."
    echo "send"
} | nsupdate -y "$KEY"

# BIND 9: a primary zone file with the same records.
mkdir -p "$WORK/bind"
{
    echo '$TTL 2'
    echo '@ IN SOA ns.local.zone. hostmaster.local.zone. 1 60 30 3600 2'
    echo '@ IN NS ns.local.zone.'
    echo 'ns IN A 127.0.0.1'
    while read -r inst ip; do
        echo "${inst%-*} IN A $ip"
        echo "$inst IN A $ip"
    done <<<"$RECORDS"
    echo '_80._tcp.web IN SRV 0 0 80 web-1.local.zone.'
} >"$WORK/bind/local.zone.db"
cat >"$WORK/bind/named.conf" <<EOF
options {
    directory "$WORK/bind";
    pid-file "$WORK/bind/named.pid";
    session-keyfile "$WORK/bind/session.key";
    managed-keys-directory "$WORK/bind";
    listen-on port $PORT_BIND { 127.0.0.1; };
    listen-on-v6 { none; };
    recursion no;
    dnssec-validation no;
    allow-query { any; };
    minimal-responses yes;
};
controls { };
zone "local.zone" { type primary; file "local.zone.db"; };
EOF
setsid "$NAMED" -f -c "$WORK/bind/named.conf" -n "$DNS_THREADS" </dev/null >"$WORK/named.log" 2>&1 &
PIDS+=($!)
BIND_PID=$!
wait_port "$PORT_BIND"

# dnsmasq: a hosts file and an srv-host, authoritative-only for the zone (no upstream).
while read -r inst ip; do
    echo "$ip ${inst%-*}.local.zone"
    echo "$ip $inst.local.zone"
done <<<"$RECORDS" >"$WORK/hosts"
echo "127.0.0.1 ns.local.zone" >>"$WORK/hosts"
chmod 644 "$WORK/hosts"
setsid "$DNSMASQ" -k --conf-file=/dev/null --user=root --port="$PORT_MASQ" --listen-address=127.0.0.1 \
    --bind-interfaces --no-resolv --no-hosts --addn-hosts="$WORK/hosts" --local=/local.zone/ \
    --local-ttl=2 --auth-ttl=2 --srv-host=_80._tcp.web.local.zone,web-1.local.zone,80 \
    --pid-file="$WORK/dnsmasq.pid" --log-facility=- </dev/null >"$WORK/dnsmasq.log" 2>&1 &
PIDS+=($!)
MASQ_PID=$!
for _ in $(seq 1 50); do
    dig @127.0.0.1 -p "$PORT_MASQ" +time=1 +tries=1 web.local.zone A >/dev/null 2>&1 && break
    sleep 0.1
done

# --- the same answers from every server, for every query, before any speed is measured ----------
# Per query of the dnsperf list (and the instance names not in it): the response code and the
# answer records (dig +short: data only, no TTL), sorted. Any difference fails the bench: a server
# that answers something else (or nothing) is not doing the same work.
answers() { # port name type -> "STATUS; rdata rdata ..." (sorted)
    local out status
    out=$(dig @127.0.0.1 -p "$1" +time=2 +tries=2 +noall +comments +answer "$2" "$3" 2>&1) || true
    status=$(sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$out" | head -1)
    printf '%s; %s\n' "${status:-NO-ANSWER}" \
        "$(dig @127.0.0.1 -p "$1" +time=2 +tries=2 +short "$2" "$3" 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//')"
}
{
    cat "$WORK/queries"
    while read -r inst _; do echo "$inst.local.zone A"; done <<<"$RECORDS"
} | sort -u >"$WORK/check-queries"
diffs=0
printf '\n%-32s %-36s %s\n' "query" "dops" "same in BIND, dnsmasq" >&2
while read -r qname qtype; do
    a_dops=$(answers "$PORT_DOPS" "$qname" "$qtype")
    a_bind=$(answers "$PORT_BIND" "$qname" "$qtype")
    a_masq=$(answers "$PORT_MASQ" "$qname" "$qtype")
    verdict="yes"
    if [ "$a_dops" != "$a_bind" ] || [ "$a_dops" != "$a_masq" ]; then
        verdict="DIFFERENT: bind [$a_bind] dnsmasq [$a_masq]"
        diffs=$((diffs + 1))
    fi
    printf '%-32s %-36s %s\n' "$qname $qtype" "$a_dops" "$verdict" >&2
done <"$WORK/check-queries"
nq=$(wc -l <"$WORK/check-queries")
if [ "$diffs" -gt 0 ]; then
    say "bench: FAILED: $diffs of $nq queries answered differently (above); no speed measured"
    exit 1
fi
say "bench: all three servers give the same answers to the $nq queries"
ANSWERS_OK="same answers from the 3 servers for all $nq queries (rcode + sorted records)"

# --- throughput: ROUNDS interleaved rounds (the machine is shared), median per server --------------
declare -A QPS LOST SENT AVG P99 CPU BUSY PID_OF
PID_OF=([dops]=$DOPS_PID [bind]=$BIND_PID [dnsmasq]=$MASQ_PID)
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { # pid -> user+system clock ticks of the whole process (all threads)
    awk '{print $14 + $15}' "/proc/$1/stat"
}
perf() { # name port -> appends "qps sent lost avg_ms cpu_ticks client_ticks" to $WORK/perf.<name>
    local out t0 t1
    t0=$(cpu_ticks "${PID_OF[$1]}")
    # dnsperf's own CPU (its parent shell's cutime+cstime once it exited): a client that used its
    # whole core bounds the qps of a server that did not.
    out=$(sh -c 'dnsperf "$@" 2>&1; echo "client ticks: $(cut -d" " -f16,17 /proc/$$/stat)"' sh \
        -s 127.0.0.1 -p "$2" -d "$WORK/queries" -l "$DURATION" -c "$CLIENTS" -T "$CLIENT_THREADS" -q "$OUTSTANDING" -t 2)
    t1=$(cpu_ticks "${PID_OF[$1]}")
    awk -v cpu=$((t1 - t0)) '/Queries sent:/{s=$3} /Queries lost:/{l=$3} /Queries per second:/{q=$4}
         /Average Latency/{a=$4*1000} /^client ticks:/{c=$3+$4}
         END {printf "%s %s %s %.3f %s %s\n", q, s, l, a, cpu, c}' <<<"$out" >>"$WORK/perf.$1"
}
latency() { # name port: p99 at a fixed rate from per-query verbose output
    local lat
    lat=$(dnsperf -s 127.0.0.1 -p "$2" -d "$WORK/queries" -l "$LAT_SECS" -c 4 -T 1 -Q "$LAT_QPS" -v 2>/dev/null |
        awk '$1==">" {print $NF}' | sort -g)
    P99[$1]=$(awk '{a[NR]=$1} END {if (NR==0) {print "n/a"} else {i=int(NR*0.99); if (i<1) i=1; printf "%.3f", a[i]*1000}}' <<<"$lat")
}
median() { # file column
    sort -g -k"$2","$2" "$1" | awk -v c="$2" '{v[NR]=$c} END {print v[int((NR+1)/2)]}'
}

# The order rotates each round (dops bind dnsmasq, then bind dnsmasq dops, ...): no server always
# runs first, after a pause, or last, after the others warmed the machine.
SERVERS=(dops:$PORT_DOPS bind:$PORT_BIND dnsmasq:$PORT_MASQ)
rotated() { # round
    local i
    for i in 0 1 2; do echo "${SERVERS[$(( (i + $1 - 1) % 3 ))]}"; done
}
for r in $(seq 1 "$ROUNDS"); do
    for s in $(rotated "$r"); do
        say "round $r/$ROUNDS: dnsperf ${s%%:*} (${DURATION}s)..."
        perf "${s%%:*}" "${s##*:}"
        sleep 1
    done
done
for s in dops bind dnsmasq; do
    QPS[$s]=$(median "$WORK/perf.$s" 1)
    SENT[$s]=$(awk '{t+=$2} END {print t}' "$WORK/perf.$s")
    LOST[$s]=$(awk '{t+=$3} END {print t}' "$WORK/perf.$s")
    AVG[$s]=$(median "$WORK/perf.$s" 4)
    CPU[$s]=$(awk -v hz="$CLK_TCK" '{t+=$5; q+=$2-$3} END {if (q>0) printf "%.2f", t*1e6/hz/q; else print "n/a"}' "$WORK/perf.$s")
    # The share of one core that the server and dnsperf used during the throughput rounds.
    BUSY[$s]=$(awk -v hz="$CLK_TCK" -v d="$DURATION" '{t+=$5; c+=$6; n++} END {printf "%.0f%% / %.0f%%", 100*t/hz/d/n, 100*c/hz/d/n}' "$WORK/perf.$s")
done
# p99 in ROUNDS interleaved rounds too (one run of a few seconds is at the mercy of whatever else
# the shared machine does then): the median of each server's per-round p99.
for r in $(seq 1 "$ROUNDS"); do
    for s in $(rotated "$r"); do
        say "latency round $r/$ROUNDS: ${s%%:*} (${LAT_SECS}s at ${LAT_QPS} qps)..."
        latency "${s%%:*}" "${s##*:}"
        echo "${P99[${s%%:*}]}" >>"$WORK/p99.${s%%:*}"
    done
done
for s in dops bind dnsmasq; do
    P99[$s]=$(median "$WORK/p99.$s" 1)
done

echo
echo "DNS on loopback: dnsperf (${CLIENT_THREADS} threads) ${ROUNDS} interleaved rounds x ${DURATION}s per server, ${CLIENTS} clients, ${OUTSTANDING} outstanding,"
echo "$ANSWERS_OK"
echo "7 query names (A x5, SRV, NXDOMAIN); dops and BIND with ${DNS_THREADS} thread(s), dnsmasq single-threaded; $(nproc) cores shared with dnsperf"
printf '%-10s %14s %12s %8s %14s %18s %16s %20s\n' server "median qps" "sent(all)" "lost" "median avg ms" "median p99 ms @${LAT_QPS}qps" "cpu us/query" "core: server/client"
for s in dops bind dnsmasq; do
    printf '%-10s %14.0f %12s %8s %14s %18s %16s %20s\n' "$s" "${QPS[$s]}" "${SENT[$s]}" "${LOST[$s]}" "${AVG[$s]}" "${P99[$s]}" "${CPU[$s]}" "${BUSY[$s]}"
done
for s in dops bind dnsmasq; do
    printf '  %-8s per round qps: %s  p99 ms: %s\n' "$s" "$(awk '{printf "%.0f ", $1}' "$WORK/perf.$s")" \
        "$(tr '\n' ' ' <"$WORK/p99.$s")"
done
awk -v d="${QPS[dops]}" -v b="${QPS[bind]}" -v m="${QPS[dnsmasq]}" 'BEGIN {
    printf "ratio qps dops/bind    = %.2fx (target >= 1.30x)\n", d / b
    printf "ratio qps dops/dnsmasq = %.2fx (target >= 1.00x)\n", d / m
}'
awk -v d="${P99[dops]}" -v b="${P99[bind]}" -v m="${P99[dnsmasq]}" 'BEGIN {
    printf "ratio p99 dops/bind    = %.2fx, dops/dnsmasq = %.2fx (target <= 1.00x both)\n", d / b, d / m
}'
awk -v d="${CPU[dops]}" -v b="${CPU[bind]}" -v m="${CPU[dnsmasq]}" 'BEGIN {
    printf "ratio cpu/query dops/bind = %.2fx, dops/dnsmasq = %.2fx (lower is better)\n", d / b, d / m
}'

# --- convergence (the real registration client, default lease 6 s) ----------------------------------
kill "$DOPS_PID" 2>/dev/null || true
wait "$DOPS_PID" 2>/dev/null || true
DNS_LISTEN="127.0.0.1:$PORT_DOPS" DNS_ZONE=local.zone DNS_KEY="$KEY" DNS_LEASE=6 \
    DNS_UPSTREAM=127.0.0.1:9 DOPS_LOG=warn setsid "${DOPS_SERVE[@]}" </dev/null >>"$WORK/dops.log" 2>&1 &
PIDS+=($!)
wait_port "$PORT_DOPS"
echo
echo "convergence of the dops DNS (lease 6 s, refresh every 2 s):"
"$CONVERGE" "127.0.0.1:$PORT_DOPS" "$KEY"
