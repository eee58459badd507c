# The node image of the Swarm test bed (tests/swarm/testbed.sh): Debian's Docker engine, run
# inside a container as one node of a local swarm. Built by testbed.sh with this folder's
# node-entrypoint.sh as its only context file; BASE is dops/base-rootfs:bookworm unless
# DOPS_SWARMBED_BASE says otherwise (the plain Debian root filesystem under dops/base:bookworm:
# it does not change when dops-init is rebuilt, so neither does this image).
ARG BASE=dops/base-rootfs:bookworm
FROM ${BASE}

# docker.io brings containerd, runc and tini (its Depends); iptables for the engine's NAT and
# the overlay's rules, iproute2 and procps to look inside a node when something goes wrong.
# No recommends: the registry is plain HTTP (no ca-certificates needed), and no git/xz/apparmor.
RUN set -eu; \
    apt-get update -q; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        docker.io iptables iproute2 procps; \
    rm -rf /var/lib/apt/lists/*; \
    dockerd --version; tini --version

COPY node-entrypoint.sh /usr/local/sbin/testbed-node

# tini as PID 1: dockerd does not reap the orphans (containerd shims' children) a node collects.
# It forwards SIGTERM to dockerd alone, which stops its containers and then containerd.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/sbin/testbed-node"]
