#!/usr/bin/env bash
# bench/init.sh: dops-init side by side with tini, dumb-init, s6 (s6-svscan + s6-supervise) and
# supervisord (Debian packages), in one run:
#   - memory of the init (and its supervisor processes, not the supervised program) while it
#     supervises the same `sleep`: RSS, and the private figures next to it, PSS (shared pages
#     divided among the processes sharing them) and USS (Private_Clean + Private_Dirty: what
#     ending the process would give back), from /proc/PID/smaps_rollup. RSS alone flatters a
#     dynamically linked peer (its libc pages are shared with every other process on the
#     machine) and hides a static binary's cost (no page of it is shared with anything else);
#     PSS and USS compare like with like. Every init gets the same warm-up: the reading is taken
#     WARMUP seconds after the supervised `sleep` is seen running under it (dops-init is UP and
#     has trimmed its startup code pages by then);
#   - binary size;
#   - time from exec of the init to the program running (median of N runs; the program is a tiny
#     static helper that prints the clock, so the figure includes its own exec, the same for all).
#   - in containers (CONTAINERS=20, 0 skips it): N containers of one dops image, each dops-init
#     with its lifecycle UP, registered in the project's DNS and running one watch, next to N
#     containers of the same busybox image under Debian's tini-static (bind-mounted: one file,
#     as dops-init is one file in the image's layer); per container and in all, PSS and
#     Private_Dirty of the init process (PID 1 of the container; not the supervised sleep).
# Targets for dops-init: RSS <= 2 MB, static binary <= 3 MB, start <= 5 ms; in containers, PSS
# and Private_Dirty per container <= 3x tini's.
# Usage: bench/init.sh [runs]   DOPS_INIT_BIN=path: measure that dops-init (no build)   (installs the missing Debian packages with apt-get; run as root:
#   smaps_rollup of another user's process needs it)   WARMUP=2 (seconds)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
RUNS=${1:-20}
WARMUP=${WARMUP:-2}

missing=()
{ command -v tini >/dev/null && [ -x /usr/bin/tini-static ]; } || missing+=(tini)
command -v dumb-init >/dev/null || missing+=(dumb-init)
command -v s6-svscan >/dev/null || missing+=(s6)
command -v supervisord >/dev/null || missing+=(supervisor)
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench: installing ${missing[*]}" >&2
  ./install.sh tools "${missing[@]}"
fi

if [ -n "${DOPS_INIT_BIN:-}" ]; then
  DOPS_INIT=$DOPS_INIT_BIN   # (also the init common.sh's dops injects into the bench images)
else
  echo "bench: building dops-init (release)" >&2
  cargo build --release --bin dops-init -q
  DOPS_INIT=$PWD/target/x86_64-unknown-linux-gnu/release/dops-init
fi

W=$(mktemp -d /tmp/dops-init-bench.XXXXXX)
cleanup() {
  # Only what this script started: the pids it recorded.
  for f in "$W"/*.pid; do [ -e "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT

# The clock helper: prints CLOCK_REALTIME in nanoseconds to the file given as $1, then exits.
cat > "$W/mark.c" <<'EOF'
#include <stdio.h>
#include <time.h>
int main(int argc, char **argv) {
  struct timespec t; clock_gettime(CLOCK_REALTIME, &t);
  FILE *f = fopen(argc > 1 ? argv[1] : "/dev/stdout", "w");
  fprintf(f, "%lld\n", (long long)t.tv_sec * 1000000000LL + t.tv_nsec); fclose(f);
  return 0;
}
EOF
gcc -O2 -static -o "$W/mark" "$W/mark.c"
SLEEP=$(command -v sleep)

# dops-init root with no hooks and no stdout notifications.
mkdir -p "$W/root/dops/init.d"
echo '{"notify": []}' > "$W/root/dops/init.d/10.json"

# --- how to start each init with a program -------------------------------------------------
# start_<name> PROGRAM ARGS...  (exec's, so the pid of the subshell is the init's)
start_dops_init() { DOPS_INIT_ROOT=$W/root exec "$DOPS_INIT" "$@"; }
start_tini() { exec tini -s -- "$@"; }
start_dumb_init() { exec dumb-init "$@"; }
start_s6() {
  local scan=$W/s6.$BASHPID
  mkdir -p "$scan/svc"
  if command -v execlineb >/dev/null; then
    { echo "#!$(command -v execlineb) -P"; printf '%q ' "$@"; echo; } > "$scan/svc/run"
  else
    { echo '#!/bin/sh'; printf 'exec '; printf '%q ' "$@"; echo; } > "$scan/svc/run"
  fi
  chmod +x "$scan/svc/run"
  exec s6-svscan "$scan"
}
start_supervisord() {
  local conf=$W/supervisord.$BASHPID.conf
  cat > "$conf" <<EOF
[supervisord]
nodaemon=true
logfile=/dev/null
logfile_maxbytes=0
pidfile=$W/supervisord.$BASHPID.pidfile
[program:p]
command=$*
startsecs=0
autorestart=false
stdout_logfile=/dev/null
stderr_logfile=/dev/null
EOF
  exec supervisord -c "$conf"
}

INITS=(dops_init tini dumb_init s6 supervisord)
label() { case $1 in dops_init) echo dops-init;; dumb_init) echo dumb-init;; s6) echo "s6-svscan+s6-supervise";; *) echo "$1";; esac; }

# Memory of one process in KB: "rss pss uss anon" (smaps_rollup; Linux 4.14+). USS =
# Private_Clean + Private_Dirty; anon = Anonymous (heap, stacks: the part of USS that is not file
# pages). A process that is gone counts 0.
mem_kb() {
  awk '/^Rss:/ {r = $2} /^Pss:/ {p = $2} /^Private_(Clean|Dirty):/ {u += $2} /^Anonymous:/ {a = $2}
       END {printf "%d %d %d %d\n", r, p, u, a}' "/proc/$1/smaps_rollup" 2>/dev/null || echo "0 0 0 0"
}
# Memory of the init and its descendants, without the supervised `sleep` itself.
tree_mem() {
  local pid=$1 p r=0 ps=0 u=0 an=0 a b c d
  for p in $pid $(descendants "$pid"); do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "sleep" ] && continue
    read -r a b c d < <(mem_kb "$p")
    r=$((r + a)); ps=$((ps + b)); u=$((u + c)); an=$((an + d))
  done
  echo "$r $ps $u $an"
}
# The pid of the supervised `sleep` under PID, once it runs (bounded wait), else empty.
wait_sleep_under() {
  local pid=$1 k
  for _ in $(seq 1 100); do
    for k in $(descendants "$pid"); do
      [ "$(cat "/proc/$k/comm" 2>/dev/null)" = "sleep" ] && { echo "$k"; return 0; }
    done
    sleep 0.05
  done
}
descendants() {
  local kids k
  kids=$(cat /proc/"$1"/task/*/children 2>/dev/null || true)
  for k in $kids; do echo "$k"; descendants "$k"; done
}

size_of() {
  case $1 in
    dops_init) stat -c %s "$DOPS_INIT";;
    tini) stat -c %s "$(command -v tini)";;
    dumb_init) stat -c %s "$(command -v dumb-init)";;
    s6) echo $(( $(stat -c %s "$(command -v s6-svscan)") + $(stat -c %s "$(command -v s6-supervise)") ));;
    supervisord) echo 0;;
  esac
}
linkage() {
  local f
  case $1 in
    dops_init) f=$DOPS_INIT;; tini) f=$(command -v tini);; dumb_init) f=$(command -v dumb-init);;
    s6) f=$(command -v s6-svscan);; supervisord) echo "python"; return;;
  esac
  if file -L "$f" | grep -q 'static'; then echo static; else echo dynamic; fi
}

# --- memory --------------------------------------------------------------------------------
[ -r "/proc/self/smaps_rollup" ] || { echo "bench: /proc/PID/smaps_rollup is missing (Linux >= 4.14 needed)" >&2; exit 1; }
declare -A RSS PSS USS ANON START SIZE BEST
for i in "${INITS[@]}"; do
  ( "start_$i" "$SLEEP" 1000 ) </dev/null >/dev/null 2>&1 &
  pid=$!
  echo "$pid" > "$W/$i.rss.pid"
  # The same warm-up for every init: counted from the moment the supervised program runs.
  [ -n "$(wait_sleep_under "$pid")" ] || { echo "bench: $(label "$i") did not start its sleep within 5 s" >&2; exit 1; }
  sleep "$WARMUP"
  read -r "RSS[$i]" "PSS[$i]" "USS[$i]" "ANON[$i]" < <(tree_mem "$pid")
  kids=$(descendants "$pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # s6/supervisord children, if any survived: by the pids seen under this init.
  for k in $kids; do kill -9 "$k" 2>/dev/null || true; done
  rm -f "$W/$i.rss.pid"
done

# --- start time ----------------------------------------------------------------------------
# Waiting must not fork (a `sleep` per poll would compete with the init being measured): a read
# with a timeout on a FIFO nobody writes to is a builtin sleep.
mkfifo "$W/never"
exec 9<>"$W/never"
nap() { read -r -t "$1" -u 9 _ || true; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else printf "%d\n", (a[NR/2]+a[NR/2+1])/2}'; }
for i in "${INITS[@]}"; do
  : > "$W/$i.times"
  for n in $(seq 1 "$RUNS"); do
    out=$W/out.$i.$n
    rm -f "$out"
    ( t0=$EPOCHREALTIME; echo "$t0" > "$W/t0"; "start_$i" "$W/mark" "$out" ) >/dev/null 2>&1 &
    pid=$!
    echo "$pid" > "$W/$i.start.pid"
    for _ in $(seq 1 1000); do [ -s "$out" ] && break; nap 0.005; done
    if [ -s "$out" ]; then
      t0=$(cat "$W/t0"); t1=$(cat "$out")
      # t0 is seconds.micros; t1 nanoseconds: the difference in microseconds.
      awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", (b/1000) - (a*1000000) }' >> "$W/$i.times"
    fi
    kids=$(descendants "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 250); do kill -0 "$pid" 2>/dev/null || break; nap 0.02; done
    kill -9 "$pid" 2>/dev/null || true
    for k in $kids; do kill -9 "$k" 2>/dev/null || true; done
    wait "$pid" 2>/dev/null || true
    rm -f "$W/$i.start.pid"
  done
  START[$i]=$(median < "$W/$i.times")
  BEST[$i]=$(sort -n "$W/$i.times" | head -1)
  SIZE[$i]=$(size_of "$i")
done

# --- table ---------------------------------------------------------------------------------
x() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
ms() { awk -v a="$1" 'BEGIN { printf "%.2f", a / 1000 }'; }
fmt='%-34s %8s %6s %8s %6s %8s %6s %8s %9s %6s %10s %6s %9s\n'
# shellcheck disable=SC2059 # one format for the header and the rows
printf "\n$fmt" "init" "RSS KB" "x" "PSS KB" "x" "USS KB" "x" "anon KB" "size KB" "x" "start ms" "x" "best ms"
# shellcheck disable=SC2059
printf "$fmt" "----------------------------------" "------" "----" "------" "----" "------" "----" "-------" "-------" "----" "--------" "----" "-------"
d=dops_init
for i in "${INITS[@]}"; do
  if [ "${SIZE[$i]}" -gt 0 ]; then size_kb=$(( SIZE[$i] / 1024 )); size_x=$(x "${SIZE[$i]}" "${SIZE[$d]}");
  else size_kb="(python)"; size_x="-"; fi
  # shellcheck disable=SC2059
  printf "$fmt" "$(label "$i") [$(linkage "$i")]" \
    "${RSS[$i]}" "$(x "${RSS[$i]}" "${RSS[$d]}")" "${PSS[$i]}" "$(x "${PSS[$i]}" "${PSS[$d]}")" \
    "${USS[$i]}" "$(x "${USS[$i]}" "${USS[$d]}")" "${ANON[$i]}" "$size_kb" "$size_x" \
    "$(ms "${START[$i]}")" "$(x "${START[$i]}" "${START[$d]}")" "$(ms "${BEST[$i]}")"
done
echo
echo "x = ratio to dops-init (above 1: dops-init is smaller/faster). Memory: the init and its helper processes"
echo "(s6-supervise; not the supervised sleep), read ${WARMUP}s after the sleep was seen running, the same for all;"
echo "PSS shares each shared page among its users, USS = Private_Clean + Private_Dirty (smaps_rollup), anon = Anonymous."
echo "A static init's code pages count as private here (no other process maps that file); the dynamic peers' libc"
echo "pages are shared with the rest of the machine, so their PSS/USS leave them out. Containers of one image map"
echo "the same dops-init file, so with several of them its code pages are shared (PSS) as libc's are."
echo "start = median of $RUNS runs (best = fastest run), exec of the init -> the program's first instruction"
echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (start times are noisy on a busy machine)"
ok() { if [ "$1" = 1 ]; then echo "ok"; else echo "MISSED"; fi; }
echo "dops-init targets: RSS ${RSS[$d]} KB <= 2048 KB: $(ok $(( RSS[$d] <= 2048 ))); binary $(( SIZE[$d] / 1024 )) KB <= 3072 KB: $(ok $(( SIZE[$d] <= 3*1024*1024 ))); start $(ms "${START[$d]}") ms median <= 5 ms: $(ok $(( START[$d] <= 5000 ))) (best run $(ms "${BEST[$d]}") ms)"

# --- in containers: N of one image, lifecycle + DNS registration + one watch ---------------------
CONTAINERS=${CONTAINERS:-20}
[ "$CONTAINERS" -gt 0 ] || exit 0
. "$(dirname "$(readlink -f "$0")")/common.sh"
cdir=$W/initmem$$
cproj=initmem$$
mkdir -p "$cdir/services/app"
# The DNS is on (the default): every instance registers app-iNN and app, and follows app.
printf 'FROM dops-test/busybox\nCOPY 50-watch.json /dops/init.d/50-watch.json\nCMD ["sleep","3600"]\n' \
  > "$cdir/services/app/Dockerfile"
cat > "$cdir/services/app/50-watch.json" <<'EOF2'
{"watches": {"peers": {"dns": "app", "interval_ms": 1000, "on_change": "true"}}}
EOF2
{
  echo "["
  for i in $(seq 1 "$CONTAINERS"); do
    sep=","; [ "$i" = "$CONTAINERS" ] && sep=""
    printf '  {"service": "app", "instance": "i%02d"}%s\n' "$i" "$sep"
  done
  echo "]"
} > "$cdir/run.conf"
ccleanup() {
  (cd "$cdir" && "$DOPS" clean:all >/dev/null 2>&1) || true
  docker ps -aq --filter "label=io.dops.project=$cproj" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker ps -aq --filter "label=bench=$cproj" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker image ls -q --filter "label=io.dops.project=$cproj" | xargs -r docker image rm -f >/dev/null 2>&1 || true
  docker network ls -q --filter "label=io.dops.project=$cproj" | xargs -r -n1 sh -c 'docker network rm "$0" >/dev/null 2>&1 || true'
  cleanup
}
trap ccleanup EXIT
echo "bench: starting $CONTAINERS dops containers (DNS + one watch) and $CONTAINERS under tini-static" >&2
(cd "$cdir" && dops_q run:all)
for i in $(seq 1 "$CONTAINERS"); do
  docker run -d --label "bench=$cproj" --name "$cproj-tini-$i" -v /usr/bin/tini-static:/tini:ro \
    --entrypoint /tini dops-test/busybox -s -- sleep 3600 >/dev/null
done
# Every dops instance UP, registered, and its watch answered once (bounded).
for _ in $(seq 1 60); do
  ok=$(cd "$cdir" && "$DOPS" status --json | python3 -c 'import json, sys
rows = json.load(sys.stdin)
print(sum(1 for r in rows if (r.get("lifecycle") or {}).get("state") == "UP"
          and ((r["lifecycle"].get("dns") or {}).get("registered"))
          and (r["lifecycle"].get("watches") or {}).get("peers", {}).get("members")))')
  [ "$ok" = "$CONTAINERS" ] && break
  sleep 1
done
[ "$ok" = "$CONTAINERS" ] || { echo "bench: FAILED: $ok of $CONTAINERS dops instances UP, registered and watching" >&2; exit 1; }
sleep "$WARMUP"
# "n pss private_dirty rss" of the PID 1 of each container matching the filters, summed.
init_mem() {
  local id pid t_pss=0 t_pd=0 t_rss=0 a b c n=0
  for id in $(docker ps -q "$@"); do
    pid=$(docker inspect -f '{{.State.Pid}}' "$id")
    read -r a b c < <(awk '/^Pss:/ {p = $2} /^Private_Dirty:/ {d = $2} /^Rss:/ {r = $2}
      END {printf "%d %d %d\n", p, d, r}' "/proc/$pid/smaps_rollup")
    t_pss=$((t_pss + a)); t_pd=$((t_pd + b)); t_rss=$((t_rss + c)); n=$((n + 1))
  done
  echo "$n $t_pss $t_pd $t_rss"
}
threads() { docker inspect -f '{{.State.Pid}}' "$1" | xargs -I{} sh -c 'ls /proc/{}/task | wc -l'; }
# (the project's DNS server, dops-dns, is not one of them)
read -r dn dpss dpd drss < <(init_mem --filter "label=io.dops.project=$cproj" --filter label=io.dops.service=app)
read -r tn tpss tpd trss < <(init_mem --filter "label=bench=$cproj")
[ "$dn" = "$CONTAINERS" ] && [ "$tn" = "$CONTAINERS" ] || { echo "bench: FAILED: $dn dops, $tn tini containers" >&2; exit 1; }
dthreads=$(threads "$(docker ps -q --filter "label=io.dops.project=$cproj" --filter "label=io.dops.service=app" | head -1)")
# Where one dops-init's private dirty pages are, by mapping (smaps): heap, stacks, data.
one=$(docker inspect -f '{{.State.Pid}}' "$(docker ps -q --filter "label=io.dops.project=$cproj" --filter label=io.dops.service=app | head -1)")
breakdown=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { name = ($6 == "" ? "[anon]" : $6); if ($6 ~ /dops-init/) name = "dops-init " $2 }
  /^Private_Dirty:/ { pd[name] += $2 } END { for (n in pd) if (pd[n] > 0) printf "%s %d KB; ", n, pd[n] }' "/proc/$one/smaps")
per() { awk -v a="$1" -v n="$2" 'BEGIN { printf "%.0f", a / n }'; }
cfmt='%-40s %10s %10s %12s %12s %10s\n'
echo
echo "in containers: $CONTAINERS containers each, one image each (the init binary is one file shared by all)"
# shellcheck disable=SC2059
printf "$cfmt" "init (PID 1 of the container)" "PSS KB/c" "PD KB/c" "PSS KB all" "PD KB all" "RSS KB/c"
# shellcheck disable=SC2059
printf "$cfmt" "dops-init (UP, DNS, 1 watch; $dthreads threads)" "$(per "$dpss" "$dn")" "$(per "$dpd" "$dn")" "$dpss" "$dpd" "$(per "$drss" "$dn")"
# shellcheck disable=SC2059
printf "$cfmt" "tini-static (sleep)" "$(per "$tpss" "$tn")" "$(per "$tpd" "$tn")" "$tpss" "$tpd" "$(per "$trss" "$tn")"
echo "dops-init / tini: PSS $(x "$dpss" "$tpss")x, Private_Dirty $(x "$dpd" "$tpd")x   (target <= 3x each)"
echo "one dops-init's Private_Dirty by mapping: $breakdown"
echo "PD = Private_Dirty (what no other container can share: heap, stacks, written data);"
echo "PSS divides each shared page (the init's code, one file for all $CONTAINERS) among its users."
