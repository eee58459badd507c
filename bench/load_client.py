"""The HTTP load of the benches that change a platform under traffic (rollout.sh, scale.sh).

CONCURRENCY keep-alive HTTP/1.1 clients GET / on URL until STOP_FILE exists, MAX_SECONDS pass or
MAX_REQUESTS were sent, then write their figures to OUT (JSON, written whole or not at all):

  requests, failures, status {code: n}, errors {kind: n}, failure_times (first 5000), start,
  end, hit_limit (stopped by a limit rather than STOP_FILE), and GROUP: the 200 answers grouped
  by what their body says, each {count, first, last, pages: {line: [count, first, last]}}.

GROUP is "versions" (v2 when the body's line ends with " v2", else v1: the page of a roll-out)
or "instances" (the body's second word: "web three (web-three)" is from "three").

Usage: python3 load_client.py URL CONCURRENCY MAX_SECONDS STOP_FILE OUT MAX_REQUESTS GROUP
"""

import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

url, conc, max_s, stop_file, out, max_requests, group = sys.argv[1:8]
conc, max_s, max_requests = int(conc), float(max_s), int(max_requests)
if group not in ("versions", "instances"):
    sys.exit("load_client: GROUP is versions or instances, not %r" % group)
u = urllib.parse.urlsplit(url)
lock = threading.Lock()
stats = {"requests": 0, "failures": 0, "status": {}, "errors": {}, group: {}, "failure_times": []}
start = time.time()
deadline = start + max_s


def group_of(line):
    if group == "versions":
        return "v2" if line.endswith(" v2") else "v1"
    words = line.split()
    return words[1] if len(words) > 1 else "?"


def record(body, t):
    line = body.strip()
    g = stats[group].setdefault(group_of(line), {"count": 0, "first": t, "last": t, "pages": {}})
    g["count"] += 1
    g["last"] = t
    p = g["pages"].setdefault(line, [0, t, t])
    p[0] += 1
    p[2] = t


def fail(kind, t):
    stats["failures"] += 1
    stats["errors"][kind] = stats["errors"].get(kind, 0) + 1
    if len(stats["failure_times"]) < 5000:
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
                    record(body, t)
                else:
                    fail("http_%d" % r.status, t)
            if r.getheader("connection", "").lower() == "close":
                conn.close()
                conn = None
        except Exception as e:  # every failure counts, whatever its kind
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
for th in threads:
    th.start()
for th in threads:
    th.join()
stats["start"] = start
stats["end"] = time.time()
stats["hit_limit"] = not os.path.exists(stop_file)
with open(out + ".tmp", "w") as f:
    json.dump(stats, f)
os.replace(out + ".tmp", out)
