#!/bin/sh
# Entrypoint of a Swarm test-bed node (see testbed.sh): make the cgroups writable for the inner
# engine, clear the state a previous start left behind, then run dockerd in the foreground.
# Arguments are passed on to dockerd (testbed.sh gives --insecure-registry NAME:5000).
set -eu

say() { printf 'testbed-node: %s\n' "$*" >&2; }

# Without --privileged (refused on hosts whose capability bounding set lacks CAP_SYS_RESOURCE)
# the engine mounts the cgroup hierarchies read-only; runc inside must create cgroups there.
case "$(stat -fc %T /sys/fs/cgroup)" in
  cgroup2fs)
    # cgroup v2 (not exercised on the machine this was written on): the recipe of the official
    # docker:dind image. Move every process out of the root cgroup, then delegate all controllers.
    mount -o remount,rw /sys/fs/cgroup
    mkdir -p /sys/fs/cgroup/init
    xargs -rn1 </sys/fs/cgroup/cgroup.procs >/sys/fs/cgroup/init/cgroup.procs 2>/dev/null || :
    sed -e 's/ / +/g' -e 's/^/+/' </sys/fs/cgroup/cgroup.controllers >/sys/fs/cgroup/cgroup.subtree_control
    ;;
  *)
    # cgroup v1 (and the hybrid layout with /sys/fs/cgroup/unified): every controller is its own
    # read-only bind mount. The fstype is the field after the " - " separator of mountinfo.
    awk '{ for (i = 7; $i != "-"; i++) ; if ($(i + 1) ~ /^cgroup2?$/) print $5 }' /proc/self/mountinfo |
      while read -r m; do
        mount -o remount,bind,rw "$m" || say "warning: cannot remount $m read-write"
      done
    ;;
esac

# A restarted node keeps its filesystem: a stale pid file makes dockerd refuse to start, and a
# stale containerd pid may now name another process. testbed.sh puts /run on a tmpfs anyway.
rm -rf /var/run/docker.pid /var/run/docker /run/containerd

# --tls=false says we mean a plain TCP listener: without it, dockerd 20.10 sleeps 15 s at start
# ("Startup is intentionally being slowed down"). A test bed on a private bridge network.
say "starting dockerd $*"
exec dockerd -H unix:///var/run/docker.sock -H tcp://0.0.0.0:2375 --tls=false "$@"
