#!/usr/bin/env bash
# make ee: the execution environment image from execution-environment.yml (ansible-builder's context, podman on
# the project's Debian image), then the demo's playbook inside it with no network: a data dir etcd 3.4.23 wrote,
# migrated to 3.5 by the collection as installed in the image.
set -euo pipefail
cd "$(dirname "$0")/.."
py=$PWD/.venv/bin/python
image=localhost/etcdops-ee:0.1.0
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/.cache/podman/containers.conf}
[ -f "$CONTAINERS_CONF" ] || bash tools/molecule-env.sh  # the base image and podman's settings

rm -rf .cache/build .cache/ee-context
.venv/bin/ansible-galaxy collection build --output-path .cache/build . >/dev/null
ansible-builder create -f execution-environment.yml -c .cache/ee-context >/dev/null
# pip inside the build trusts what this machine trusts: its CA bundle, mounted for the build only.
bundle=/etc/ssl/certs/ca-certificates.crt
podman build -q -f .cache/ee-context/Containerfile -t "$image" --env PIP_CERT=$bundle -v $bundle:$bundle:ro \
    .cache/ee-context >/dev/null
# Each build leaves the previous image and its stages untagged (~0.5 GB a build): remove the untagged ones.
podman image prune -f >/dev/null

run=(podman run --rm --network none -e ANSIBLE_LOCALHOST_WARNING=false -e ANSIBLE_INVENTORY_UNPARSED_WARNING=false)
# A filter on the environment's own Python (semver there).
"${run[@]}" "$image" ansible localhost -e ansible_python_interpreter=/usr/bin/python3 -m ansible.builtin.debug \
    -a "msg={{ '3.4.23' | etcdops.etcd.etcd_migration_versions('3.6.16', ['3.5.35', '3.6.16']) }}" \
    | grep -q '"3.5.35",' || { echo "the filter failed in $image"; exit 1; }

work=$PWD/.cache/ee-demo
rm -rf "$work" && mkdir -p "$work"
"$py" - "$work" <<'PY'
import sys
from pathlib import Path
sys.path.insert(0, "tools")
import etcd_binaries
from etcd_sample import running_etcd, write_sample_data
work = Path(sys.argv[1])
with running_etcd(etcd_binaries.cache_root(), "3.4.23", work / "data", work) as member:
    write_sample_data(member)
(work / "data" / "version.txt").write_text("3.4.23/etcd3")
PY
chown -R 1000 "$work"  # the image runs as user 1000, as execution environments do
target=$("$py" -c 'import sys; sys.path.insert(0, "tools"); import etcd_binaries; print(etcd_binaries.newest_cached("3.5"))')
"${run[@]}" -v "$(realpath "${ETCD_BINARIES_DIR:-.cache/etcd}")":/etcd:ro -v "$work":/work \
    -v "$PWD/tools/demo.yml":/demo.yml:ro "$image" ansible-playbook /demo.yml -e "{\"demo_data_dir\": \
\"/work/data\", \"demo_target_version\": \"$target\", \"demo_bin_dir\": \"/etcd\", \"demo_client_port\": 23790, \
\"demo_peer_url\": \"http://127.0.0.1:23800\", \"demo_backup_dir\": \"/work/backups\", \
\"ansible_python_interpreter\": \"/usr/bin/python3\"}"
grep -qx "$target/etcd3" "$work/data/version.txt"
echo "== the execution environment $image migrated etcd 3.4.23 data to $target with no network"
