"""`make demo`: a data dir written by etcd 3.4.23, migrated by the module up to the newest 3.7 and
back down one minor, with the data checked on real etcd after each migration."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import etcd_binaries
from etcd_sample import free_port, read_state, running_etcd, write_sample_data

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".cache" / "demo"


def run_playbook(data_dir, target, extra_env=None):
    extra = {"demo_data_dir": str(data_dir), "demo_target_version": target,
             "demo_bin_dir": str(etcd_binaries.cache_root()), "demo_client_port": free_port(),
             "demo_peer_url": "http://127.0.0.1:%d" % free_port(), "demo_backup_dir": str(WORK / "backups"),
             "ansible_python_interpreter": sys.executable}
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".cache" / "collections"),
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false", **(extra_env or {}))
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(ROOT / "tools" / "demo.yml"),
                           "-e", json.dumps(extra)], env=env, check=True, text=True,
                          capture_output=bool(extra_env))


def verify(version, data_dir, marks, before, ids):
    with running_etcd(etcd_binaries.cache_root(), version, data_dir, WORK) as member:
        after, info, header = read_state(member, marks), member.version_info(), member.status()["header"]
    same = after == before and (header["member_id"], header["cluster_id"]) == ids
    print("== on etcd %s (/version %s): %d keys, revision %s, lease %s with %d keys, compaction at %s: %s"
          % (version, json.dumps(info), len(after["kvs"]), after["revision"], after["lease"]["id"],
             len(after["lease"]["keys"]), marks["compact_at"], "all identical" if same else "DIFFERENT"))
    if not same:
        sys.exit("data changed during the migration to %s" % version)


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    data_dir = WORK / "data"
    start, up, down = "3.4.23", etcd_binaries.newest_cached("3.7"), etcd_binaries.newest_cached("3.6")
    with running_etcd(etcd_binaries.cache_root(), start, data_dir, WORK) as member:
        marks = write_sample_data(member)
        before = read_state(member, marks)
        header = member.status()["header"]
    ids = (header["member_id"], header["cluster_id"])
    (data_dir / "version.txt").write_text("%s/etcd3" % start)
    print("== etcd %s wrote %d keys (one with several revisions, compacted at %d, two on a lease) in %s"
          % (start, len(before["kvs"]), marks["compact_at"], data_dir))
    for target in (up, down):
        print("== migrating to %s with etcdops.etcd.etcd_migrate" % target, flush=True)
        run_playbook(data_dir, target)
        verify(target, data_dir, marks, before, ids)
    print("== done: %s -> %s -> %s; backups in %s" % (start, up, down, WORK / "backups"))


if __name__ == "__main__":
    main()
