#!/usr/bin/env bash
# `dops events` and `dops ui` with the release binary, beside `docker events` (the peer for the
# engine's events), on a busybox project on the real engine:
#
# - latency: N instances run and cleaned one after the other; for each container start, the
#   engine's own event time → the line read from `docker events` and from `dops events --json`;
#   dops-init's UP (its state file's `since`) → the `dops events` line, and → the dashboard's
#   card (headless Chromium through chromedriver, when installed);
# - memory: PSS and private memory of `docker events`, `dops events` and `dops ui` (one page
#   open on it) after the runs.
#
# The 100-instance render time is measured by tests/ui_browser.rs (it needs instances the
# engine does not have). Usage: bench/ui.sh [N] (default 10).
set -euo pipefail
source "$(dirname "$0")/common.sh"
N=${1:-10}

bench_project uibench
mkdir -p "$dir/services/web"
printf '#!/bin/sh\nsleep 0.2\n' > "$dir/services/web/warmup"
cat > "$dir/services/web/Dockerfile" <<'EOF'
FROM dops-test/busybox
COPY warmup /ww/usr/warmup
RUN chmod +x /ww/usr/warmup
CMD ["httpd","-f","-p","8080","-h","/"]
EOF
echo '[{"service": "web", "instance": "one"}]' > "$dir/run.conf"

pids=()
driver=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$driver" ] && kill "$driver" 2>/dev/null || true
  local f="label=io.dops.project=$proj"
  docker rm -f $(docker ps -aq --filter "$f") >/dev/null 2>&1 || true
  for n in $(docker network ls -q --filter "$f"); do remove_network "$n"; done
  docker image rm -f $(docker image ls -q --filter "$f") >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

cd "$dir"
dops_q run:all --wait --timeout 120

# Every line with the time it was read (bash's clock: no fork per line).
stamp() { while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done; }
docker events --format '{{json .}}' --filter "label=io.dops.project=$proj" --filter type=container \
  > >(stamp > "$work/docker.log") &
pids+=($!); docker_pid=$!
"$DOPS" events --json > >(stamp > "$work/dops.log") 2> "$work/dops.err" &
pids+=($!); events_pid=$!
"$DOPS" ui > "$work/ui.out" 2> "$work/ui.err" &
pids+=($!); ui_pid=$!
for _ in $(seq 1 100); do grep -q following "$work/dops.err" 2>/dev/null && [ -s "$work/ui.out" ] && break; sleep 0.1; done
url=$(head -1 "$work/ui.out")

# The dashboard in headless Chromium, when installed.
session=""
if command -v chromedriver >/dev/null && [ -x /usr/bin/chromium ]; then
  port=$(( 20000 + RANDOM % 20000 ))
  chromedriver --port="$port" >/dev/null 2>&1 &
  driver=$!
  api="http://127.0.0.1:$port"
  for _ in $(seq 1 50); do curl -sf "$api/status" >/dev/null && break; sleep 0.2; done
  caps='{"capabilities":{"alwaysMatch":{"goog:chromeOptions":{"binary":"/usr/bin/chromium","args":["--headless=new","--no-sandbox","--disable-gpu","--disable-dev-shm-usage","--user-data-dir='"$work/profile"'"]}}}}'
  session=$(curl -sf -X POST "$api/session" -H 'Content-Type: application/json' -d "$caps" \
    | sed -n 's/.*"sessionId":"\([^"]*\)".*/\1/p')
  curl -sf -X POST "$api/session/$session/url" -H 'Content-Type: application/json' -d "{\"url\":\"$url\"}" >/dev/null
fi
js() { # a script's value, as JSON text
  curl -sf -X POST "$api/session/$session/execute/sync" -H 'Content-Type: application/json' \
    -d "{\"script\":\"$1\",\"args\":[]}" | sed 's/^{"value"://; s/}$//'
}

ui_ms=()
for i in $(seq 1 "$N"); do
  dops_q run:web,instance=b$i --wait --timeout 60
  c=$proj-web-b$i
  if [ -n "$session" ]; then
    for _ in $(seq 1 100); do
      v=$(js "const s = window.dops && window.dops.seen['$c']; const v = window.dops && window.dops.instances.get('$c'); return (s && v && s.UP && v.lifecycle) ? s.UP - Date.parse(v.lifecycle.since) : null;")
      [ "$v" != "null" ] && [ -n "$v" ] && { ui_ms+=("$v"); break; }
      sleep 0.1
    done
  fi
  dops_q clean:web,instance=b$i
done
sleep 1

# engine time → read, ms, of each start (docker: timeNano; dops: epoch_ms)
docker_ms=$(awk '/"Action":"start"/ && match($0, /"timeNano":[0-9]+/) {
  t = substr($0, RSTART + 11, RLENGTH - 11) / 1e9; printf "%.1f\n", ($1 - t) * 1000 }' "$work/docker.log")
dops_ms=$(awk '/"kind":"start"/ && match($0, /"epoch_ms":[0-9]+/) {
  t = substr($0, RSTART + 11, RLENGTH - 11) / 1e3; printf "%.1f\n", ($1 - t) * 1000 }' "$work/dops.log")
up_ms=$(awk '/"kind":"lifecycle"/ && /"to":"UP"/ && match($0, /"epoch_ms":[0-9]+/) {
  t = substr($0, RSTART + 11, RLENGTH - 11) / 1e3; printf "%.1f\n", ($1 - t) * 1000 }' "$work/dops.log")

mem() { # PSS and private KiB of a pid
  awk '/^Pss:/ { p = $2 } /^Private_(Clean|Dirty):/ { q += $2 } END { printf "PSS %6d KiB  private %6d KiB", p, q }' "/proc/$1/smaps_rollup" 2>/dev/null || echo "n/a"
}

# shellcheck disable=SC2086
dm=$(median $docker_ms); om=$(median $dops_ms)
echo "== dops events / dops ui ($N instances run and cleaned, release build)"
echo "engine event → line read, median of $(echo "$docker_ms" | wc -l) starts:"
printf '  docker events  %7s ms\n' "$dm"
printf '  dops events    %7s ms   (dops/docker %s)\n' "$om" "$(ratio "$om" "$dm")"
# shellcheck disable=SC2086
printf "dops-init's UP → dops events line, median: %s ms (max %s)\n" "$(median $up_ms)" "$(printf '%s\n' $up_ms | sort -g | tail -1)"
if [ ${#ui_ms[@]} -gt 0 ]; then
  printf "dops-init's UP → dashboard card, median: %s ms (max %s, %d runs)\n" "$(median "${ui_ms[@]}")" "$(printf '%s\n' "${ui_ms[@]}" | sort -g | tail -1)" "${#ui_ms[@]}"
fi
echo "memory after the runs:"
echo "  docker events  $(mem "$docker_pid")"
echo "  dops events    $(mem "$events_pid")"
echo "  dops ui        $(mem "$ui_pid")   (one page following it)"
[ -n "$session" ] && curl -sf -X DELETE "$api/session/$session" >/dev/null || true
