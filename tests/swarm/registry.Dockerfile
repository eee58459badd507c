# The registry of the Swarm test bed (tests/swarm/testbed.sh): Debian's docker-registry package
# (Docker Distribution 2.x), plain HTTP on :5000, storage on a volume at /var/lib/docker-registry.
# Context: this Dockerfile and registry.yml. BASE as in node.Dockerfile.
ARG BASE=dops/base-rootfs:bookworm
FROM ${BASE}

RUN set -eu; \
    apt-get update -q; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker-registry tini; \
    rm -rf /var/lib/apt/lists/*; \
    mkdir -p /var/lib/docker-registry; \
    chown docker-registry: /var/lib/docker-registry

COPY registry.yml /etc/docker/registry/config.yml

# The package's own user; a new named volume takes the ownership of this folder.
USER docker-registry
EXPOSE 5000
# tini as PID 1 passes `docker stop`'s SIGTERM on and reaps; the registry needs nothing more.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/bin/docker-registry", "serve", "/etc/docker/registry/config.yml"]
