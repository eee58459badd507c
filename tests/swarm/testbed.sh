#!/usr/bin/env bash
# A local Docker Swarm on this one machine, for the Swarm backend's tests and bench: a registry
# and N (3) nodes, each a container running its own Docker engine, on a dedicated bridge network.
# Built from local images and Debian's packages only (no Docker Hub).
#
#   testbed.sh up [--quiet]     build what is missing, start what is stopped, form the swarm, wait
#                               until every node is Ready, print the client environment (below)
#                               on stdout and write it to the env file. Safe to run again: a bed
#                               that is up is left alone (and its services kept).
#   testbed.sh down [--images]  remove everything of this bed (by label): containers, volumes,
#                               network, env file; --images also the two test-bed images.
#   testbed.sh status           a short state; exit 0 when the bed is up and whole, else 1
#   testbed.sh env              the env file of a bed that is up (exit 1 when there is none)
#
# The environment printed by `up` (shell syntax, also in the env file):
#   DOCKER_HOST=tcp://IP:2375          the manager's engine (node1)
#   DOPS_SWARM_MANAGER                 the same address
#   DOPS_SWARM_LOCAL_DOCKER_HOST       the host engine that runs the bed (push images there;
#                                      this script also uses it, so sourcing the file is safe)
#   DOPS_SWARM_NODE_COUNT, _MANAGER_COUNT  how many nodes, how many of them managers (node1 first)
#   DOPS_SWARM_NODES                   the node names (= container names = swarm hostnames)
#   DOPS_SWARM_NODE<i>, _HOST, _IP     node i's name, engine address, address on the bed network
#   DOPS_SWARM_REGISTRY                the registry as the nodes see it (NAME:5000): the name in
#                                      image references of services
#   DOPS_SWARM_REGISTRY_HOST           the same registry as the host engine sees it (127.0.0.1:PORT,
#                                      insecure by default for dockerd): tag and push there
#   DOPS_SWARM_NETWORK                 the bridge network the nodes are on
#
# Environment (all optional):
#   DOPS_SWARMBED_NAME       bed name, prefix of every object (default dops-swarm); two beds
#                            with different names can run side by side
#   DOPS_SWARMBED_NODES      number of nodes (default 3)
#   DOPS_SWARMBED_MANAGERS   how many of them are managers, node1 first (default 1; 1 or 3 are
#                            the useful values: 3 keeps a quorum when any one node is killed)
#   DOPS_SWARMBED_ENV        env file (default tests/swarm/.state/<name>.env)
#   DOPS_SWARMBED_BASE       base of the two images (default dops/base-rootfs:bookworm)
#   DOPS_SWARMBED_REGISTRY_PORT  host port of the registry on 127.0.0.1 (default: any free one)
#   DOPS_SWARMBED_TIMEOUT    seconds allowed for each wait (default 120)
#   DOPS_SWARMBED_HEARTBEAT  the swarm's dispatcher heartbeat, e.g. 1s (Docker's default: 5s): a
#                            killed node is Down after about 3 heartbeats (13 s by default, 4 s
#                            with 1s), its tasks placed elsewhere about 6 s later
#   DOPS_SWARMBED_FORCE_BUILD=1  rebuild the images even when their inputs are unchanged
#   DOPS_SWARMBED_TRACE=1    trace every command with its time on stderr
#
# Everything the bed creates carries the labels io.dops.testbed=swarm and io.dops.testbed.bed=NAME
# (images only the first); `down` removes only what carries both.
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)

BED=${DOPS_SWARMBED_NAME:-dops-swarm}
ENV_FILE=${DOPS_SWARMBED_ENV:-$here/.state/$BED.env}
# `up` makes the bed these say; `status` judges a bed by what its env file says it was made with.
if [ "${1:-}" = status ] && [ -f "$ENV_FILE" ]; then
  DOPS_SWARMBED_NODES=${DOPS_SWARMBED_NODES:-$(sed -n 's/^DOPS_SWARM_NODE_COUNT=//p' "$ENV_FILE")}
  DOPS_SWARMBED_MANAGERS=${DOPS_SWARMBED_MANAGERS:-$(sed -n 's/^DOPS_SWARM_MANAGER_COUNT=//p' "$ENV_FILE")}
fi
NODES=${DOPS_SWARMBED_NODES:-3}
MANAGERS=${DOPS_SWARMBED_MANAGERS:-1}
BASE=${DOPS_SWARMBED_BASE:-dops/base-rootfs:bookworm}
REGISTRY_PORT=${DOPS_SWARMBED_REGISTRY_PORT:-}
TIMEOUT=${DOPS_SWARMBED_TIMEOUT:-120}
HEARTBEAT=${DOPS_SWARMBED_HEARTBEAT:-}
NODE_IMAGE=dops-testbed/swarm-node:bookworm
REGISTRY_IMAGE=dops-testbed/registry:bookworm
NETWORK=$BED
REGISTRY=$BED-registry
# The engine that runs the bed: never a node of a bed, even after `. <env file>` set DOCKER_HOST.
HOST_ENGINE=${DOPS_SWARM_LOCAL_DOCKER_HOST:-${DOCKER_HOST:-unix:///var/run/docker.sock}}

L_BED=io.dops.testbed=swarm
L_NAME=io.dops.testbed.bed=$BED

# DOPS_SWARMBED_TRACE=1: every command on stderr with the time, to see where time goes.
if [ -n "${DOPS_SWARMBED_TRACE:-}" ]; then PS4='+ $(date +%T.%3N) '; set -x; fi

# Temporary folders (build contexts) go on any exit, Ctrl-C and kill included.
tmp_dirs=()
trap 'rm -rf "${tmp_dirs[@]}"' EXIT
trap 'exit 130' INT TERM
say() { printf 'testbed: %s\n' "$*" >&2; }
die() { printf 'testbed: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Every engine is named by DOCKER_HOST here: a context chosen by the caller must not interfere.
unset DOCKER_CONTEXT
# The host engine, whatever DOCKER_HOST the caller has.
hd() { DOCKER_HOST=$HOST_ENGINE command docker "$@"; }
# Node i's engine (after node_ips), every call bounded: a hung inner engine must not hang us
# (a manager that lost its quorum can take minutes to answer).
nd_t() { # SECONDS i ARGS...
  local t=$1 i=$2
  shift 2
  DOCKER_HOST=tcp://${NODE_IP[$i]}:2375 timeout "$t" docker "$@"
}
nd() { nd_t 30 "$@"; }
node_name() { echo "$BED-node$1"; }

case "$NODES" in '' | *[!0-9]*) die "DOPS_SWARMBED_NODES must be a number" ;; esac
case "$MANAGERS" in '' | *[!0-9]*) die "DOPS_SWARMBED_MANAGERS must be a number" ;; esac
{ [ "$NODES" -ge 1 ] && [ "$NODES" -le 9 ]; } || die "DOPS_SWARMBED_NODES must be 1 to 9"
{ [ "$MANAGERS" -ge 1 ] && [ "$MANAGERS" -le "$NODES" ] && [ $((MANAGERS % 2)) = 1 ]; } ||
  die "DOPS_SWARMBED_MANAGERS must be odd (raft quorum) and at most DOPS_SWARMBED_NODES"
case "$BED" in *[!a-z0-9-]* | -* | '') die "DOPS_SWARMBED_NAME must be lowercase letters, digits and '-'" ;; esac

# One up/down of a bed at a time (parallel tests may all ask for it), and one image build at a
# time on the machine (two beds share the images).
lock() { # NAME
  local f=${TMPDIR:-/tmp}/dops-testbed-$1.lock fd
  exec {fd}>"$f"
  if ! flock -n "$fd"; then
    say "waiting for another testbed run (lock $f)"
    flock -w 900 "$fd" || die "timed out after 900 s waiting for $f"
  fi
}

check_host_engine() {
  command -v docker >/dev/null || die "docker not found (run './install.sh engine')"
  local name
  name=$(timeout 20 env DOCKER_HOST="$HOST_ENGINE" docker info --format '{{.Name}}' 2>/dev/null) ||
    die "no Docker engine answers at $HOST_ENGINE (run './install.sh engine')"
  # A bed inside a bed would be a mistake (DOCKER_HOST left pointing at a node).
  case "$name" in *-node[0-9]) die "$HOST_ENGINE is a test-bed node ($name), not the host engine: unset DOCKER_HOST" ;; esac
}

# ---------------------------------------------------------------------------------------------
# Objects of this bed (labels), and the checks that keep us off anything else.

container_label() { hd container inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }
object_label() { hd "$1" inspect --format "{{ index .Labels \"$3\" }}" "$2" 2>/dev/null || true; }
exists() { hd "$1" inspect "$2" >/dev/null 2>&1; } # KIND NAME
# Refuse to touch an object of ours' name that is not ours.
must_be_ours() { # KIND NAME
  local bed
  if [ "$1" = container ]; then bed=$(container_label "$2" io.dops.testbed.bed); else bed=$(object_label "$1" "$2" io.dops.testbed.bed); fi
  [ "$bed" = "$BED" ] || die "a $1 named $2 exists that this test bed did not create (label io.dops.testbed.bed='$bed'); remove or rename it"
}

image_id() { hd image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }

# ---------------------------------------------------------------------------------------------
# Images: rebuilt only when their inputs (Dockerfile, context files, base image id) change;
# their hash is the label io.dops.testbed.inputs.

ensure_image() { # IMAGE DOCKERFILE CONTEXT-FILE...
  local image=$1 dockerfile=$2
  shift 2
  local base_id inputs old_id ctx t0 f
  base_id=$(image_id "$BASE")
  [ -n "$base_id" ] || die "no base image $BASE: build it with './install.sh base-image' (or set DOPS_SWARMBED_BASE)"
  inputs=$({
    echo "$base_id"
    for f in "$dockerfile" "$@"; do sha256sum <"$here/$f"; done
  } | sha256sum | cut -d' ' -f1)
  old_id=$(image_id "$image")
  if [ -z "${DOPS_SWARMBED_FORCE_BUILD:-}" ] && [ -n "$old_id" ] &&
    [ "$(hd image inspect --format '{{ index .Config.Labels "io.dops.testbed.inputs" }}' "$image" 2>/dev/null)" = "$inputs" ]; then
    return 0
  fi
  t0=$(now)
  ctx=$(mktemp -d "${TMPDIR:-/tmp}/dops-testbed-ctx.XXXXXX")
  tmp_dirs+=("$ctx")
  cp "$here/$dockerfile" "$ctx/Dockerfile"
  for f in "$@"; do cp -p "$here/$f" "$ctx/$f"; done
  say "building $image from $BASE and Debian packages"
  # nice: the machine is shared and has 2 cores; apt and dpkg are the heavy part.
  if ! nice -n 10 env DOCKER_HOST="$HOST_ENGINE" docker build --build-arg "BASE=$BASE" \
    --label "$L_BED" --label "io.dops.testbed.inputs=$inputs" \
    --label "org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    -t "$image" "$ctx" >"$ctx/build.log" 2>&1; then
    tail -n 30 "$ctx/build.log" >&2
    die "docker build of $image failed"
  fi
  local new_id
  new_id=$(image_id "$image")
  # The previous build is now untagged: remove it unless a container still uses it.
  if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
    hd image rm "$old_id" >/dev/null 2>&1 || true
  fi
  say "$image built ($(since "$t0") s)"
}

ensure_images() {
  lock images
  ensure_image "$NODE_IMAGE" node.Dockerfile node-entrypoint.sh
  ensure_image "$REGISTRY_IMAGE" registry.Dockerfile registry.yml
}

# Earlier builds that containers still used when they were replaced: removed once unused.
remove_old_images() {
  local id
  for id in $(hd image ls -q --filter "label=$L_BED" --filter dangling=true | sort -u); do
    hd image rm "$id" >/dev/null 2>&1 || true
  done
}

# ---------------------------------------------------------------------------------------------
# Network, volumes, containers

ensure_network() {
  if exists network "$NETWORK"; then
    must_be_ours network "$NETWORK"
    return 0
  fi
  hd network create --driver bridge --label "$L_BED" --label "$L_NAME" "$NETWORK" >/dev/null
}

ensure_volume() { # NAME
  if exists volume "$1"; then
    must_be_ours volume "$1"
    return 0
  fi
  hd volume create --label "$L_BED" --label "$L_NAME" "$1" >/dev/null
}

# Create NAME from the arguments, or keep it when it was created from the same arguments and
# image (the hash label io.dops.testbed.spec), else replace it; then make sure it runs.
ensure_container() { # NAME IMAGE [docker run options...] -- [command args...]
  local name=$1 image=$2
  shift 2
  local opts=() args=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  args=("$@")
  local spec have
  spec=$(printf '%s\n' "$(image_id "$image")" "${opts[@]}" -- "${args[@]}" | sha256sum | cut -d' ' -f1)
  if exists container "$name"; then
    must_be_ours container "$name"
    have=$(container_label "$name" io.dops.testbed.spec)
    if [ "$have" != "$spec" ]; then
      say "$name: image or settings changed, replacing it"
      hd rm -f "$name" >/dev/null
    elif [ "$(hd container inspect --format '{{.State.Running}}' "$name")" != true ]; then
      say "$name: starting it again"
      hd start "$name" >/dev/null
      return 0
    else
      return 0
    fi
  fi
  hd run -d --name "$name" --label "$L_BED" --label "$L_NAME" --label "io.dops.testbed.spec=$spec" \
    "${opts[@]}" "$image" "${args[@]}" >/dev/null
}

log_opts() {
  # Inner engines log every task; keep the node logs bounded where the log driver allows it.
  case "$(hd info --format '{{.LoggingDriver}}' 2>/dev/null)" in
    json-file | local) echo "--log-opt max-size=20m --log-opt max-file=2" ;;
  esac
}

ensure_registry() {
  ensure_volume "$REGISTRY"
  # shellcheck disable=SC2046 # log_opts is a list of words
  ensure_container "$REGISTRY" "$REGISTRY_IMAGE" \
    --hostname "$REGISTRY" --network "$NETWORK" --restart no $(log_opts) \
    --mount "type=volume,src=$REGISTRY,dst=/var/lib/docker-registry" \
    -p "127.0.0.1:${REGISTRY_PORT}:5000" --
}

# What a Docker engine needs to run inside a container without --privileged (refused where
# the host's capability bounding set lacks CAP_SYS_RESOURCE): every other capability, no
# seccomp/AppArmor filter, /proc/sys writable (systempaths), every device node allowed, and
# /var/lib/docker on a volume (overlay2 cannot stack on the container's own overlay root).
# shellcheck disable=SC2054 # the commas are inside option values
NODE_RUN_OPTS=(
  --cap-add ALL --cap-drop SYS_RESOURCE
  --security-opt seccomp=unconfined --security-opt apparmor=unconfined
  --security-opt systempaths=unconfined
  --device-cgroup-rule 'a *:* rwm'
  # A fresh /run at every start: no stale pid files or sockets from a previous start.
  --tmpfs /run:rw,nosuid,nodev,exec,mode=755,size=256m
  --restart no
)

ensure_node() { # i
  local name
  name=$(node_name "$1")
  ensure_volume "$name"
  # shellcheck disable=SC2046 # log_opts is a list of words
  ensure_container "$name" "$NODE_IMAGE" \
    --hostname "$name" --network "$NETWORK" "${NODE_RUN_OPTS[@]}" $(log_opts) \
    --label io.dops.testbed.node="$1" \
    --mount "type=volume,src=$name,dst=/var/lib/docker" \
    -- --insecure-registry "$REGISTRY:5000" --storage-driver overlay2
}

declare -a NODE_IP
node_ips() {
  local i ip
  for i in $(seq 1 "$NODES"); do
    ip=$(hd container inspect --format "{{ with index .NetworkSettings.Networks \"$NETWORK\" }}{{ .IPAddress }}{{ end }}" "$(node_name "$i")" 2>/dev/null || true)
    NODE_IP[i]=$ip
  done
}

registry_host() { # the registry's published address on the host: 127.0.0.1:PORT
  hd port "$REGISTRY" 5000/tcp 2>/dev/null | grep -m1 '^127\.0\.0\.1:' || true
}

# An HTTP GET of /v2/ with bash alone (the host may have no curl): prints the status line.
http_v2() { # HOST PORT
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "GET /v2/ HTTP/1.0\r\nHost: %s\r\n\r\n" "$1" >&3 && head -n1 <&3' _ "$1" "$2" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# Waits: bounded in time, each with its own timeout message.

wait_for() { # SECONDS COMMAND... : retry COMMAND every 0.5 s, false after SECONDS
  local deadline
  deadline=$(($(date +%s) + $1))
  shift
  while ! "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

engine_answers() { # i: the inner engine answers, or die when its container stopped
  local name
  name=$(node_name "$1")
  if [ "$(hd container inspect --format '{{.State.Running}}' "$name" 2>/dev/null)" != true ]; then
    hd logs --tail 30 "$name" >&2 || true
    die "node $name stopped while its engine was starting (its log is above)"
  fi
  [ -n "${NODE_IP[$1]}" ] && DOCKER_HOST=tcp://${NODE_IP[$1]}:2375 timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

wait_engines() {
  local i name t0
  t0=$(now)
  for i in $(seq 1 "$NODES"); do
    name=$(node_name "$i")
    if ! wait_for "$TIMEOUT" engine_answers "$i"; then
      hd logs --tail 30 "$name" >&2 || true
      die "the engine of $name did not answer on tcp://${NODE_IP[$i]}:2375 within ${TIMEOUT}s (its log is above)"
    fi
  done
  say "$NODES engines answer ($(since "$t0") s)"
}

# The registry answers on the host, and node1 reaches it by name, the way the engines will pull.
# shellcheck disable=SC2016 # expanded by the node's bash
registry_answers() {
  [ "$(http_v2 127.0.0.1 "${REGISTRY_HOST##*:}" | tr -d '\r')" = "HTTP/1.0 200 OK" ] &&
    hd exec "$(node_name 1)" bash -c 'exec 3<>"/dev/tcp/$1/5000"' _ "$REGISTRY" 2>/dev/null
}

# ---------------------------------------------------------------------------------------------
# The swarm: node1 initializes it and is the first manager; nodes 2..MANAGERS join as managers,
# the others as workers. A swarm that is not exactly that (a node left, an address changed after
# a restart, a different manager count) is dissolved and formed again (5 to 12 s).

swarm_state() { # i -> "LocalNodeState ControlAvailable NodeAddr ClusterID"
  nd_t 10 "$1" info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.NodeAddr}} {{with .Swarm.Cluster}}{{.ID}}{{end}}' 2>/dev/null || true
}

# The expected `node ls` lines, sorted: "NAME Ready Active manager|worker". Which manager leads
# does not matter (with 3 managers, leadership moves when a node restarts).
expected_nodes() {
  local i
  for i in $(seq 1 "$NODES"); do
    if [ "$i" -le "$MANAGERS" ]; then echo "$(node_name "$i") Ready Active manager"
    else echo "$(node_name "$i") Ready Active worker"; fi
  done | sort
}
observed_nodes() {
  nd 1 node ls --format '{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}' 2>/dev/null |
    awk '{ role = "worker"; if ($4 == "Leader" || $4 == "Reachable") role = "manager"; else if ($4 != "") role = "manager-" $4
           print $1, $2, $3, role }' | sort
}
names_and_roles() { awk '{ print $1, $4 }'; }

swarm_members() { # every node active in node1's cluster at its current address
  local i s cluster=
  for i in $(seq 1 "$NODES"); do
    s=$(swarm_state "$i")
    # shellcheck disable=SC2086 # split into its four fields
    set -- $s
    [ "${1:-}" = active ] && [ "${3:-}" = "${NODE_IP[$i]}" ] || return 1
    if [ "$i" = 1 ]; then cluster=${4:-}; [ "${2:-}" = true ] || return 1; fi
    # a worker's info has no cluster id; a manager's must be node1's
    [ -z "${4:-}" ] || [ "$4" = "$cluster" ] || return 1
  done
}
nodes_as_expected() { [ "$(observed_nodes)" = "$(expected_nodes)" ]; }
swarm_whole() { swarm_members && nodes_as_expected; } # ... all Ready, roles as configured

form_swarm() {
  local i t0 wtoken mtoken
  t0=$(now)
  say "forming the swarm ($MANAGERS manager(s), $((NODES - MANAGERS)) worker(s))"
  # Which engines are in a swarm now: asked all at once (each answer bounded).
  local dir joined=() stuck=()
  dir=$(mktemp -d "${TMPDIR:-/tmp}/dops-testbed-state.XXXXXX")
  tmp_dirs+=("$dir")
  for i in $(seq 1 "$NODES"); do swarm_state "$i" >"$dir/$i" & done
  wait
  for i in $(seq 1 "$NODES"); do
    case "$(cat "$dir/$i")" in inactive*) ;; *) joined+=("$i") ;; esac
  done
  if [ ${#joined[@]} -gt 0 ]; then
    # They leave all at once: one by one, the last managers of a 3-manager swarm lose their
    # quorum and then take 10 to 30 s to leave, or even to answer `docker info`.
    for i in "${joined[@]}"; do nd_t 20 "$i" swarm leave --force >/dev/null 2>&1 & done
    wait
    # An engine that left a swarm keeps stale overlay state: in the next swarm, names on
    # overlay networks no longer resolve (tasks.<svc> is empty). A restart clears it.
    say "restarting the engines that were in a swarm (${#joined[@]})"
    for i in "${joined[@]}"; do hd restart -t 10 "$(node_name "$i")" >/dev/null & done
    wait
    node_ips
    wait_engines
    # One still in a swarm gets a new engine: its container and volume are made again.
    for i in "${joined[@]}"; do
      case "$(swarm_state "$i")" in inactive*) ;; *) stuck+=("$i") ;; esac
    done
    for i in "${stuck[@]}"; do
      say "$(node_name "$i") did not leave its swarm: making it again with an empty /var/lib/docker"
      hd rm -f "$(node_name "$i")" >/dev/null
      remove_all volume "$(node_name "$i")"
      ensure_node "$i"
    done
    if [ ${#stuck[@]} -gt 0 ]; then
      node_ips
      wait_engines
    fi
  fi
  nd 1 swarm init --advertise-addr "${NODE_IP[1]}" --listen-addr "${NODE_IP[1]}:2377" >/dev/null ||
    die "docker swarm init failed on $(node_name 1)"
  wtoken=$(nd 1 swarm join-token -q worker)
  mtoken=$(nd 1 swarm join-token -q manager)
  for i in $(seq 2 "$NODES"); do
    local token=$wtoken
    [ "$i" -le "$MANAGERS" ] && token=$mtoken
    nd "$i" swarm join --token "$token" --advertise-addr "${NODE_IP[$i]}" \
      --listen-addr "${NODE_IP[$i]}:2377" "${NODE_IP[1]}:2377" >/dev/null ||
      die "$(node_name "$i") could not join the swarm at ${NODE_IP[1]}:2377"
  done
  if ! wait_for "$TIMEOUT" swarm_whole; then
    observed_nodes >&2 || true
    die "the swarm did not have its $NODES nodes Ready within ${TIMEOUT}s (node ls above)"
  fi
  say "swarm formed ($(since "$t0") s)"
}

# ---------------------------------------------------------------------------------------------
# The client environment

write_env() {
  local i tmp
  mkdir -p "$(dirname "$ENV_FILE")"
  tmp=$(mktemp "$ENV_FILE.XXXXXX")
  {
    echo "# Swarm test bed '$BED' (tests/swarm/testbed.sh up, $(date -u +%Y-%m-%dT%H:%M:%SZ))"
    echo "DOCKER_HOST=tcp://${NODE_IP[1]}:2375"
    echo "DOPS_SWARM_BED=$BED"
    echo "DOPS_SWARM_MANAGER=tcp://${NODE_IP[1]}:2375"
    echo "DOPS_SWARM_LOCAL_DOCKER_HOST=$HOST_ENGINE"
    echo "DOPS_SWARM_NODE_COUNT=$NODES"
    echo "DOPS_SWARM_MANAGER_COUNT=$MANAGERS"
    echo "DOPS_SWARM_NODES=\"$(for i in $(seq 1 "$NODES"); do node_name "$i"; done | xargs)\""
    for i in $(seq 1 "$NODES"); do
      echo "DOPS_SWARM_NODE$i=$(node_name "$i")"
      echo "DOPS_SWARM_NODE${i}_HOST=tcp://${NODE_IP[$i]}:2375"
      echo "DOPS_SWARM_NODE${i}_IP=${NODE_IP[$i]}"
    done
    echo "DOPS_SWARM_REGISTRY=$REGISTRY:5000"
    echo "DOPS_SWARM_REGISTRY_HOST=$REGISTRY_HOST"
    echo "DOPS_SWARM_NETWORK=$NETWORK"
  } >"$tmp"
  mv -f "$tmp" "$ENV_FILE"
}

# ---------------------------------------------------------------------------------------------
# Commands

cmd_up() {
  local quiet=
  [ "${1:-}" = --quiet ] && quiet=1
  local t0 i
  t0=$(now)
  check_host_engine
  lock "bed-$BED"
  ensure_images
  ensure_network
  ensure_registry
  for i in $(seq 1 "$NODES"); do ensure_node "$i"; done
  node_ips
  for i in $(seq 1 "$NODES"); do
    [ -n "${NODE_IP[$i]}" ] || die "$(node_name "$i") has no address on network $NETWORK"
  done
  wait_engines
  REGISTRY_HOST=$(registry_host)
  [ -n "$REGISTRY_HOST" ] || die "$REGISTRY publishes no port on 127.0.0.1"
  wait_for "$TIMEOUT" registry_answers ||
    die "the registry did not answer on $REGISTRY_HOST (host) and $REGISTRY:5000 (nodes) within ${TIMEOUT}s"
  # Restarted nodes rejoin their swarm by themselves within seconds: give them that time
  # before dissolving a swarm (and the services the tests put there).
  # A different membership or other roles (DOPS_SWARMBED_MANAGERS changed) are formed again at
  # once; only nodes not Ready yet are waited for.
  if swarm_members && [ "$(observed_nodes | names_and_roles)" = "$(expected_nodes | names_and_roles)" ] &&
    wait_for 30 nodes_as_expected; then
    say "swarm already formed"
  else
    form_swarm
  fi
  if [ -n "$HEARTBEAT" ]; then
    nd 1 swarm update --dispatcher-heartbeat "$HEARTBEAT" >/dev/null ||
      die "docker swarm update --dispatcher-heartbeat $HEARTBEAT failed"
  fi
  remove_old_images
  write_env
  say "up: $NODES nodes Ready, manager ${NODE_IP[1]} ($(since "$t0") s); environment in $ENV_FILE"
  [ -n "$quiet" ] || grep -v '^#' "$ENV_FILE"
}

# Remove a list of objects of one kind, a few bounded tries each (a network may still have
# endpoints detaching just after its containers were removed).
remove_all() { # KIND ID...
  local kind=$1 id ok
  shift
  for id in "$@"; do
    ok=
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      if hd "$kind" rm "$id" >/dev/null 2>&1 || ! hd "$kind" inspect "$id" >/dev/null 2>&1; then ok=1; break; fi
      sleep 1
    done
    [ -n "$ok" ] || say "warning: could not remove $kind $id: $(hd "$kind" rm "$id" 2>&1 | tail -n1)"
  done
}

cmd_down() {
  local images='' t0 ids
  [ "${1:-}" = --images ] && images=1
  t0=$(now)
  check_host_engine
  lock "bed-$BED"
  # rm -f kills the nodes: their inner containers die with them (nested pid namespaces), and
  # their volumes are removed next anyway, so a graceful stop would only cost time.
  mapfile -t ids < <(hd ps -aq --filter "label=$L_BED" --filter "label=$L_NAME")
  [ ${#ids[@]} = 0 ] || hd rm -f "${ids[@]}" >/dev/null
  mapfile -t ids < <(hd volume ls -q --filter "label=$L_BED" --filter "label=$L_NAME")
  remove_all volume "${ids[@]}"
  mapfile -t ids < <(hd network ls -q --filter "label=$L_BED" --filter "label=$L_NAME")
  remove_all network "${ids[@]}"
  rm -f "$ENV_FILE"
  remove_old_images
  if [ -n "$images" ]; then
    # Only the test-bed images, and only when no container (another bed) still uses them.
    mapfile -t ids < <(hd image ls -q --filter "label=$L_BED" | sort -u)
    local id
    for id in "${ids[@]}"; do
      hd image rm "$id" >/dev/null 2>&1 || say "keeping image $id: $(hd image rm "$id" 2>&1 | tail -n1)"
    done
  fi
  say "down: bed $BED removed ($(since "$t0") s)"
}

cmd_status() {
  check_host_engine
  local i name state whole=1
  if ! exists network "$NETWORK"; then
    say "bed $BED is down"
    return 1
  fi
  node_ips
  REGISTRY_HOST=$(registry_host)
  state=$(hd container inspect --format '{{.State.Status}}' "$REGISTRY" 2>/dev/null || echo absent)
  [ "$state" = running ] || whole=
  printf '%-22s %-8s %s\n' "$REGISTRY" "$state" "${REGISTRY_HOST:--} (host), $REGISTRY:5000 (nodes)"
  for i in $(seq 1 "$NODES"); do
    name=$(node_name "$i")
    state=$(hd container inspect --format '{{.State.Status}}' "$name" 2>/dev/null || echo absent)
    local engine=- swarm=-
    if [ "$state" = running ] && engine_answers "$i" 2>/dev/null; then
      engine=tcp://${NODE_IP[$i]}:2375
      swarm=$(swarm_state "$i" | awk '{ print $1 ($2 == "true" ? " manager" : "") }')
    else
      whole=
    fi
    printf '%-22s %-8s %-26s swarm: %s\n' "$name" "$state" "$engine" "$swarm"
  done
  if [ -n "$whole" ] && swarm_whole; then
    nd 1 node ls 2>/dev/null || true
    say "bed $BED is up (env: $ENV_FILE)"
    return 0
  fi
  say "bed $BED is not whole: 'testbed.sh up' repairs it, 'testbed.sh down' removes it"
  return 1
}

cmd_env() {
  [ -f "$ENV_FILE" ] || die "no env file $ENV_FILE: is the bed up? ('testbed.sh up')"
  grep -v '^#' "$ENV_FILE"
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  status) shift; cmd_status "$@" ;;
  env) shift; cmd_env "$@" ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
