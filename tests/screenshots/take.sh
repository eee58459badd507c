#!/usr/bin/env bash
# A screenshot of a dashboard, as the README's was made:
#   dops ui                                   # prints http://127.0.0.1:PORT/?token=…
#   tests/screenshots/take.sh 'http://127.0.0.1:PORT/?token=…' tests/screenshots/demo-dashboard.png
# Headless Chromium through chromedriver's WebDriver API (./install.sh tools chromium
# chromium-driver), a 1400x900 window, after WAIT seconds (default 8: the charts fill up).
set -euo pipefail
url=$1 out=$2 wait=${3:-8}
port=$(( 20000 + RANDOM % 20000 ))
chromedriver --port="$port" >/dev/null 2>&1 &
driver=$!
profile=$(mktemp -d)
trap 'kill "$driver" 2>/dev/null || true; rm -rf "$profile"' EXIT
api="http://127.0.0.1:$port"
for _ in $(seq 1 50); do curl -sf "$api/status" >/dev/null && break; sleep 0.2; done
caps='{"capabilities":{"alwaysMatch":{"goog:chromeOptions":{"binary":"/usr/bin/chromium","args":["--headless=new","--no-sandbox","--disable-gpu","--disable-dev-shm-usage","--hide-scrollbars","--window-size=1400,900","--user-data-dir='"$profile"'"]}}}}'
session=$(curl -sf -X POST "$api/session" -H 'Content-Type: application/json' -d "$caps" \
  | sed -n 's/.*"sessionId":"\([^"]*\)".*/\1/p')
[ -n "$session" ] || { echo "take.sh: no WebDriver session" >&2; exit 1; }
curl -sf -X POST "$api/session/$session/url" -H 'Content-Type: application/json' -d "{\"url\":\"$url\"}" >/dev/null
sleep "$wait"
curl -sf "$api/session/$session/screenshot" | sed 's/.*"value":"\([^"]*\)".*/\1/' | base64 -d > "$out"
curl -sf -X DELETE "$api/session/$session" >/dev/null || true
echo "take.sh: wrote $out"
