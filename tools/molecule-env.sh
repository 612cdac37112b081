#!/usr/bin/env bash
# What the molecule scenarios need on this machine, made idempotently:
#  - a containers.conf (ulimits, runc) for podman, exported through CONTAINERS_CONF;
#  - a systemd base image built with debootstrap from this machine's Debian mirror (no registry here);
#  - an --internal podman network the scenarios join;
#  - the local etcd release mirror, served by one more container on that network;
#  - the containers.podman and community.crypto collections, taken from the ansible wheel (Galaxy is unreachable).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache"
export CONTAINERS_CONF="$cache/podman/containers.conf"
image_base=localhost/etcdops-base
image_rev=1  # bump when the package list below changes
suites=(bullseye bookworm trixie)
image=$image_base:bookworm-$image_rev
network=etcdops-test
mirror=etcdops-mirror
mirror_versions=(3.4.23 $(cd "$root/tools" && "$root/.venv/bin/python" -c \
    'import etcd_binaries as e; print(*(e.newest_cached(m) for m in ("3.5", "3.6", "3.7")))'))

if ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman runc debootstrap uidmap slirp4netns >/dev/null
fi

mkdir -p "$cache/podman"
cat > "$CONTAINERS_CONF" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000","nproc=32768:32768"]
[engine]
runtime = "runc"
CONF

# The managed hosts' Debian releases (Python 3.9, 3.11, 3.13): the scenarios' hosts run on bookworm, the cluster
# scenario's on each (bullseye is its spare's: the mirror's 3.4.23 needs bookworm's C library). Missing ones are
# built side by side.
uri=$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
[ -n "$uri" ] || uri=$(awk '$1 == "deb" && $2 ~ /\/debian$/ {print $2; exit}' /etc/apt/sources.list)
build_image() {  # in a subshell of its own: its trap removes the root fs however it ends
    local suite=$1 rootfs
    rootfs=$(mktemp -d)
    trap "rm -rf '$rootfs'" EXIT  # expanded now: the local is gone when the subshell exits
    debootstrap --variant=minbase \
        --include=systemd,systemd-sysv,dbus,python3,python3-semver,python3-apt,iproute2,procps,ca-certificates,curl \
        "$suite" "$rootfs" "$uri" >"$cache/podman/debootstrap-$suite.log" 2>&1
    tar -C "$rootfs" -c . | podman import --quiet --change 'CMD ["/sbin/init"]' - "$image_base:$suite-$image_rev" >/dev/null
}
builds=()
for suite in "${suites[@]}"; do
    podman image exists "$image_base:$suite-$image_rev" || { build_image "$suite" & builds+=($!); }
done
failed=0
for pid in "${builds[@]}"; do wait "$pid" || failed=1; done
[ "$failed" = 0 ] || { echo "debootstrap failed: see $cache/podman/debootstrap-*.log" >&2; exit 1; }

podman network exists "$network" || podman network create --internal "$network" >/dev/null

"$root/.venv/bin/python" "$root/tools/etcd_mirror.py" build "$cache/mirror" ${mirror_versions[@]} >/dev/null
# Made anew each time: it serves this checkout's mirror, wherever the checkout is. --replace takes the place of any
# container of that name, also one whose processes vanished (a machine restored from a snapshot), which
# "podman rm -f" may fail to remove.
podman run -d --replace --name "$mirror" --network "$network" -v "$cache/mirror:/srv:ro" "$image" \
    python3 -m http.server 8080 --directory /srv >/dev/null

"$root/.venv/bin/python" "$root/tools/wheel_collections.py" "$cache/collections" containers.podman community.crypto ansible.posix
# The controller reaches the mirror too (the controller-cache mode downloads there): use its address.
mirror_ip=$(podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$mirror")
versions=(${mirror_versions[@]})
cat > "$cache/podman/molecule.env" <<ENV
export CONTAINERS_CONF=$CONTAINERS_CONF
export ANSIBLE_COLLECTIONS_PATH=$cache/collections
export ETCDOPS_MIRROR_URL=http://$mirror_ip:8080
export ETCDOPS_MIRROR_VERSIONS=[$(IFS=,; echo "${versions[*]}")]
export ETCDOPS_START_VERSION=${versions[0]}
export ETCDOPS_CLUSTER_VERSION=${versions[2]}
export ETCDOPS_TARGET_VERSION=${versions[3]}
ENV
echo "molecule environment ready: images ${suites[*]/#/$image_base:} (-$image_rev), network $network, mirror http://$mirror_ip:8080 (${versions[*]})"
