#!/usr/bin/env bash
# Smoke test of the Swarm test bed, and a worked example of what a client does with it:
# push a local image through the bed's registry, deploy a 3-replica dnsrr service on an
# attachable overlay, check placement, tasks.<svc>, cross-node traffic and host-mode ports,
# then the same with `docker stack deploy`. Prints the time of each step.
#
#   tests/swarm/smoke.sh            brings the bed up, runs the checks, then takes it down
#   tests/swarm/smoke.sh --keep     leaves the bed up at the end (its own objects are removed)
#
# Needs the image dops-test/busybox (./install.sh test-image). Exit 0 when every check passed.
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
keep=
[ "${1:-}" = --keep ] && keep=1

trap 'exit 130' INT TERM
say() { printf 'testbed: smoke: %s\n' "$*" >&2; }
die() { printf 'testbed: smoke: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

HOST_ENGINE=${DOPS_SWARM_LOCAL_DOCKER_HOST:-${DOCKER_HOST:-unix:///var/run/docker.sock}}
hd() { DOCKER_HOST=$HOST_ENGINE command docker "$@"; }
hd image inspect dops-test/busybox >/dev/null 2>&1 || die "no image dops-test/busybox: run './install.sh test-image'"

t_all=$(now)
t0=$(now)
env_text=$(DOPS_SWARM_LOCAL_DOCKER_HOST=$HOST_ENGINE "$here/testbed.sh" up)
say "bed up ($(since "$t0") s)"
# The env file is shell syntax: DOCKER_HOST now points at the manager.
set -a
eval "$env_text"
set +a

SVC=smoke-web NET=smoke-net STACK=smoke
# Remove what this script creates in the swarm (left by an earlier run, or at the end). The
# tasks stop within their grace period (1 s below: busybox httpd as PID 1 ignores SIGTERM, so
# the default 10 s would be spent in full), and a network goes once its last task has.
remove_ours() {
  local gone=
  docker stack rm "$STACK" >/dev/null 2>&1 || true
  docker service rm "$SVC" >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do
    docker network rm "$NET" "${STACK}_front" >/dev/null 2>&1 || true
    if ! docker network inspect "$NET" >/dev/null 2>&1 && ! docker network inspect "${STACK}_front" >/dev/null 2>&1; then
      gone=1
      break
    fi
    sleep 0.5
  done
  [ -n "$gone" ] || say "warning: networks $NET/${STACK}_front still exist after 30 s"
}
cleanup() {
  remove_ours
  [ -n "$keep" ] || "$here/testbed.sh" down >&2 || true
}
remove_ours
trap cleanup EXIT

# Retry COMMAND every 0.5 s for at most SECONDS.
wait_for() {
  local deadline=$(($(date +%s) + $1))
  shift
  while ! "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

# 1. The image: tagged and pushed by the host engine to 127.0.0.1:PORT (insecure by default),
#    referenced by the nodes as dops-swarm-registry:5000/... (same repository, same digest).
t0=$(now)
tag=smoke-$$
hd tag dops-test/busybox "$DOPS_SWARM_REGISTRY_HOST/dops-test/busybox:$tag"
hd push -q "$DOPS_SWARM_REGISTRY_HOST/dops-test/busybox:$tag" >/dev/null
hd image rm "$DOPS_SWARM_REGISTRY_HOST/dops-test/busybox:$tag" >/dev/null
IMAGE=$DOPS_SWARM_REGISTRY/dops-test/busybox:$tag
say "pushed $IMAGE via $DOPS_SWARM_REGISTRY_HOST ($(since "$t0") s)"

# 2. An attachable overlay and a 3-replica dnsrr service, one task per node, each task's
#    hostname saying its node, httpd on 8080 published in host mode on 18080.
t0=$(now)
docker network create --driver overlay --attachable "$NET" >/dev/null
docker service create --detach --quiet --name "$SVC" --replicas 3 --replicas-max-per-node 1 \
  --endpoint-mode dnsrr --network "$NET" --stop-grace-period 1s --hostname '{{.Node.Hostname}}-{{.Task.Slot}}' \
  --publish mode=host,target=8080,published=18080 \
  "$IMAGE" sh -c 'mkdir -p /www && hostname >/www/index.html && exec httpd -f -p 8080 -h /www' >/dev/null
running() { # SERVICE N: exactly N tasks desired running, all of them running
  [ "$(docker service ps --filter desired-state=running --format '{{.CurrentState}}' "$1" 2>/dev/null | grep -c '^Running')" = "$2" ]
}
wait_for 120 running "$SVC" 3 || { docker service ps --no-trunc "$SVC" >&2; die "$SVC: 3 tasks not running within 120 s"; }
say "service $SVC: 3 tasks running ($(since "$t0") s)"

nodes=$(docker service ps --filter desired-state=running --format '{{.Node}}' "$SVC" | sort -u)
printf '%s\n' "$nodes" | sed 's/^/testbed: smoke:   task on /' >&2
[ "$(printf '%s\n' "$nodes" | wc -l)" = 3 ] || die "the 3 tasks are not on 3 different nodes"

# 3. From a container on node2 (attached to the overlay through node2's own engine):
#    tasks.<svc> has 3 addresses, and every task answers, those on node1 and node3 included.
#    The names reach node2's resolver by gossip, a moment after the tasks run: poll for them.
t0=$(now)
# (pulled first: `docker run --quiet` is not in Debian's 20.10 client)
DOCKER_HOST=$DOPS_SWARM_NODE2_HOST docker pull -q "$IMAGE" >/dev/null
out=$(DOCKER_HOST=$DOPS_SWARM_NODE2_HOST docker run --rm --network "$NET" "$IMAGE" sh -c "
  tries=0
  while :; do
    tries=\$((tries + 1))
    addrs=\$(nslookup tasks.$SVC 2>/dev/null | awk '/^Name:/ { n = 1 } n && /^Address/ { print \$NF }')
    [ \$(echo \$addrs | wc -w) -ge 3 ] || [ \$tries -ge 60 ] && break
    sleep 0.5
  done
  echo addresses: \$addrs
  echo lookups: \$tries
  # (busybox 1.35's wget -T crashes: timeout(1) bounds it instead)
  for a in \$addrs; do echo \"answer \$a: \$(timeout 5 wget -qO- http://\$a:8080/)\"; done")
printf '%s\n' "$out" | sed 's/^/testbed: smoke:   /' >&2
[ "$(printf '%s\n' "$out" | awk '/^addresses:/ { print NF - 1 }')" = 3 ] || die "tasks.$SVC does not resolve to 3 addresses"
for i in 1 2 3; do
  printf '%s\n' "$out" | grep -q "^answer .*: $DOPS_SWARM_BED-node$i-" || die "no answer over the overlay from the task on node$i"
done
say "overlay: tasks.$SVC = 3 addresses, all 3 tasks answer from node2 ($(since "$t0") s)"

# 4. The host-mode port on every node's address, from the host.
# shellcheck disable=SC2016 # expanded by the inner bash
http_get() { # HOST PORT PATH: the body (bash only; the host may have no curl)
  timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "GET %s HTTP/1.0\r\n\r\n" "$3" >&3 && sed "1,/^\r$/d" <&3' _ "$@" 2>/dev/null || true
}
for i in 1 2 3; do
  ip_var=DOPS_SWARM_NODE${i}_IP
  body=$(http_get "${!ip_var}" 18080 /)
  say "  http://${!ip_var}:18080/ -> $body"
  case "$body" in "$DOPS_SWARM_BED-node$i-"*) ;; *) die "host-mode port 18080 on node$i does not answer with its own task" ;; esac
done

# Memory of the nodes (each includes its engine, containerd and its tasks).
# shellcheck disable=SC2086 # the node names, split
hd stats --no-stream --format '{{.Name}} {{.MemUsage}}' $DOPS_SWARM_NODES "$DOPS_SWARM_BED-registry" |
  sed 's/^/testbed: smoke:   memory /' >&2

docker service rm "$SVC" >/dev/null

# 5. docker stack deploy: a compose v3 file, 3 replicas, dnsrr (no IPVS, so no VIP).
t0=$(now)
compose=$(mktemp)
cat >"$compose" <<EOF
version: "3.8"
services:
  web:
    image: $IMAGE
    command: ["sh", "-c", "mkdir -p /www && hostname >/www/index.html && exec httpd -f -p 8080 -h /www"]
    hostname: "{{.Node.Hostname}}-{{.Task.Slot}}"
    networks: [front]
    stop_grace_period: 1s
    deploy:
      replicas: 3
      endpoint_mode: dnsrr
      placement:
        max_replicas_per_node: 1
networks:
  front:
    driver: overlay
    attachable: true
EOF
# Clients from 26 on wait for convergence unless --detach=true; Debian's 20.10 has no --detach.
detach=()
docker stack deploy --help 2>/dev/null | grep -q -- '--detach' && detach=(--detach=true)
docker stack deploy "${detach[@]}" -c "$compose" "$STACK" >/dev/null
rm -f "$compose"
wait_for 120 running "${STACK}_web" 3 || { docker stack ps --no-trunc "$STACK" >&2; die "stack $STACK: 3 tasks not running within 120 s"; }
say "stack $STACK: 3 tasks running on $(docker stack ps --filter desired-state=running --format '{{.Node}}' "$STACK" | sort -u | wc -l) nodes ($(since "$t0") s)"
docker stack rm "$STACK" >/dev/null

say "all checks passed ($(since "$t_all") s before the clean-up)"
