"""etcd_migrate's engine on real etcd binaries: every key, value, revision and lease must survive."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from etcd_sample import free_port
from helpers import BIN_ROOT, ROOT, etcd_version, params, running_etcd, state_on, tree_digest

from ansible_collections.etcdops.etcd.plugins.module_utils.engine import migrate
from ansible_collections.etcdops.etcd.plugins.module_utils.versions import MigrationError

COLLECTION = ROOT / ".cache" / "collections" / "ansible_collections" / "etcdops" / "etcd"


def assert_same_data(before, after):
    assert after["kvs"] == before["kvs"]
    assert after["revision"] == before["revision"]
    assert after["lease"] == before["lease"]
    assert after["below_compaction_refused"] and after["at_compaction"] == before["at_compaction"]


def check_on(version, data_dir, tmp_path, marks, before, header_before=None):
    after, info, header = state_on(version, data_dir, tmp_path, marks)
    assert_same_data(before, after)
    assert info["etcdserver"] == version
    if header_before is not None:
        assert (header["member_id"], header["cluster_id"]) == (header_before["member_id"], header_before["cluster_id"])
    return info


def ids_of(version, data_dir, tmp_path, marks):
    return state_on(version, data_dir, tmp_path, marks)[2]


@pytest.mark.parametrize("source,target,hops", [
    ("3.3.25", "3.4.23", ["3.4.23"]),
    ("3.4.23", "3.5", ["3.5"]),
    ("3.4.23", "3.7", ["3.5", "3.6", "3.7"]),
])
def test_upgrade_hops_one_minor_at_a_time(data_dir_from, tmp_path, source, target, hops):
    version, data_dir, marks, before = data_dir_from(source)
    ids = ids_of(version, data_dir, tmp_path, marks)
    target = etcd_version(target)
    result = migrate(params(data_dir, target))
    assert [s["binary"] for s in result["steps"]] == [etcd_version(h) for h in hops]
    assert result["previous"] == {"version": version, "storage": "etcd3"}
    assert (data_dir / "version.txt").read_text() == "%s/etcd3" % target
    info = check_on(target, data_dir, tmp_path, marks, before, ids)
    assert info["etcdcluster"] == "%s.0" % target.rsplit(".", 1)[0]
    backup = Path(result["backup"])
    assert (backup / "version.txt").read_text() == "%s/etcd3" % version
    assert oct(os.stat(data_dir).st_mode & 0o777) == "0o700"


def test_35_below_floor_takes_a_patch_hop_before_36(data_dir_from, tmp_path):
    version, data_dir, marks, before = data_dir_from("<3.5.26 >=3.5.0")
    target = etcd_version("3.6")
    result = migrate(params(data_dir, target))
    newest_35 = etcd_version("3.5")
    assert [(s["from"], s["to"]) for s in result["steps"]] == [(version, newest_35), (newest_35, target)]
    check_on(target, data_dir, tmp_path, marks, before)


@pytest.mark.parametrize("source,target,action", [
    ("3.5", "3.4.23", "downgrade-snapshot"),
    ("3.4.23", "3.3.25", "downgrade-snapshot"),
    ("3.6", "3.5", "downgrade-api"),
    ("3.7", "3.6", "downgrade-api"),
])
def test_downgrade_one_minor(data_dir_from, tmp_path, source, target, action):
    version, data_dir, marks, before = data_dir_from(source)
    ids = ids_of(version, data_dir, tmp_path, marks)
    target = etcd_version(target)
    result = migrate(params(data_dir, target))
    assert [(s["action"], s["from"], s["to"]) for s in result["steps"]] == [(action, version, target)]
    assert (data_dir / "version.txt").read_text() == "%s/etcd3" % target
    info = check_on(target, data_dir, tmp_path, marks, before, ids)
    assert info["etcdcluster"] == "%s.0" % target.rsplit(".", 1)[0]


def test_patch_change_needs_no_data_work(data_dir_from, tmp_path):
    version, data_dir, marks, before = data_dir_from("3.5.0")
    digest = tree_digest(data_dir / "member")
    up = migrate(params(data_dir, "3.5.1"))
    assert [s["action"] for s in up["steps"]] == ["record-version"] and up["backup"] is None
    assert (data_dir / "version.txt").read_text() == "3.5.1/etcd3"
    down = migrate(params(data_dir, "3.5.0"))
    assert down["changed"] and (data_dir / "version.txt").read_text() == "3.5.0/etcd3"
    assert tree_digest(data_dir / "member") == digest
    check_on("3.5.1", data_dir, tmp_path, marks, before)


def test_already_at_target_changes_nothing(data_dir_from):
    version, data_dir, _marks, _before = data_dir_from("3.4.23")
    os.chmod(data_dir, 0o700)
    digest, mtime = tree_digest(data_dir), os.stat(data_dir / "version.txt").st_mtime_ns
    result = migrate(params(data_dir, version))
    assert not result["changed"] and result["steps"] == [] and result["backup"] is None
    assert tree_digest(data_dir) == digest
    assert os.stat(data_dir / "version.txt").st_mtime_ns == mtime


def test_empty_and_missing_data_dirs_only_record_the_target(tmp_path):
    missing = tmp_path / "missing"
    result = migrate(params(missing, "3.6.16"))
    assert result["changed"] and (missing / "version.txt").read_text() == "3.6.16/etcd3"
    assert oct(os.stat(missing).st_mode & 0o777) == "0o700"
    empty = tmp_path / "empty"
    empty.mkdir()
    result = migrate(params(empty, "3.5.1", data_dir_mode="0750"))
    assert [s["action"] for s in result["steps"]] == ["record-version"]
    assert sorted(os.listdir(empty)) == ["version.txt"]
    assert oct(os.stat(empty).st_mode & 0o777) == "0o750"
    assert not migrate(params(empty, "3.5.1", data_dir_mode="0750"))["changed"]


def test_check_mode_returns_the_plan_and_touches_nothing(data_dir_from):
    version, data_dir, _marks, _before = data_dir_from("3.4.23")
    digest = tree_digest(data_dir)
    result = migrate(params(data_dir, etcd_version("3.7")), check_mode=True)
    assert result["changed"]
    assert [p["to_version"] for p in result["plan"]] == [etcd_version(v) for v in ("3.5", "3.6", "3.7")]
    assert result["diff"] == {"before": "%s/etcd3" % version, "after": "%s/etcd3" % etcd_version("3.7")}
    assert tree_digest(data_dir) == digest
    assert not [p for p in os.listdir(data_dir.parent) if ".etcd-backup." in p]


def test_running_etcd_is_refused(data_dir_from, tmp_path):
    version, data_dir, _marks, _before = data_dir_from("3.4.23")
    with running_etcd(version, data_dir, tmp_path):
        with pytest.raises(MigrationError, match="in use.*stop etcd"):
            migrate(params(data_dir, etcd_version("3.5")))
    assert (data_dir / "version.txt").read_text() == "%s/etcd3" % version


def test_failing_hop_restores_the_backup(data_dir_from, tmp_path):
    version, data_dir, marks, before = data_dir_from("3.4.23")
    broken = tmp_path / "bin"
    for v in (etcd_version("3.5"), etcd_version("3.6"), etcd_version("3.7")):
        shutil.copytree(BIN_ROOT / v, broken / v)
    bad = broken / etcd_version("3.6") / "etcd"
    bad.write_text("#!/bin/sh\necho 'simulated crash: corrupt binary' >&2\nexit 3\n")
    with pytest.raises(MigrationError) as err:
        migrate(params(data_dir, etcd_version("3.7"), bin_dir=str(broken)))
    message = str(err.value)
    assert "step upgrade %s -> %s failed" % (etcd_version("3.5"), etcd_version("3.6")) in message
    assert "simulated crash" in message and "restored from the backup" in message
    assert (data_dir / "version.txt").read_text() == "%s/etcd3" % version
    assert not (data_dir / ".etcd-migrate-inflight.json").exists()
    check_on(version, data_dir, tmp_path, marks, before)


def test_run_killed_during_a_hop_converges_when_run_again(data_dir_from, tmp_path):
    version, data_dir, marks, before = data_dir_from("3.4.23")
    target = etcd_version("3.7")
    cli = [sys.executable, str(COLLECTION / "bin" / "etcd-migrate"), "--bin-dir", str(BIN_ROOT),
           "--client-port", str(free_port()), "--listen-peer-urls", "http://127.0.0.1:%d" % free_port()]
    env = dict(os.environ, TARGET_VERSION=target, DATA_DIRECTORY=str(data_dir))
    proc = subprocess.Popen(cli, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    marker = data_dir / ".etcd-migrate-inflight.json"
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), "no hop started: %s" % proc.communicate()[1]
    time.sleep(0.5)  # etcd of the hop is up and writing
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    again = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=300, check=False)
    for _attempt in range(100):  # the killed run's etcd gets SIGTERM from the kernel; wait for it to let go
        if again.returncode == 0 or "in use" not in again.stderr:
            break
        time.sleep(0.2)
        again = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    assert "previous run died" in again.stderr
    assert (data_dir / "version.txt").read_text() == "%s/etcd3" % target
    check_on(target, data_dir, tmp_path, marks, before)


def test_backups_are_pruned_to_the_configured_count(data_dir_from):
    version, data_dir, _marks, _before = data_dir_from("3.4.23")
    backups = data_dir.parent / "backups"
    first = migrate(params(data_dir, etcd_version("3.5"), backup_dir=str(backups), backups_to_keep=1))
    second = migrate(params(data_dir, version, backup_dir=str(backups), backups_to_keep=1))
    assert second["removed_backups"] == [first["backup"]]
    assert os.listdir(backups) == [os.path.basename(second["backup"])]


def test_v2_entries_left_in_the_wal_make_36_panic_unless_a_snapshot_covers_them(data_dir_from, tmp_path):
    """The hazard the engine's forced snapshot exists for, shown on real binaries."""
    from ansible_collections.etcdops.etcd.plugins.module_utils.detect import detect

    _version, data_dir, _marks, _before = data_dir_from("3.4.23")  # 3.4's /health proposes a v2 QGET
    assert any(e.startswith("QGET") for e in detect(str(data_dir))["wal"]["v2_after_snapshot"])
    with running_etcd(etcd_version("3.5"), data_dir, tmp_path):
        pass  # a plain 3.5 start and stop: no snapshot
    readiness = detect(str(data_dir))["ready_for_next"]["3.6"]
    assert not readiness["ready"] and "QGET" in readiness["blockers"][0]
    v36 = etcd_version("3.6")
    with pytest.raises(MigrationError, match="exited"):
        with running_etcd(v36, data_dir, tmp_path):
            pass
    assert "detected disallowed v2 WAL" in (tmp_path / ("etcd-%s.log" % v36)).read_text()

    _version, fresh, marks, before = data_dir_from("3.4.23")
    migrate(params(fresh, etcd_version("3.5")))  # the engine's 3.5 hop ends with a covering snapshot
    assert detect(str(fresh))["ready_for_next"]["3.6"]["ready"]
    check_on(v36, fresh, tmp_path, marks, before)


def test_a_member_of_a_multi_member_cluster_records_one_minor_up_and_refuses_the_rest(tmp_path):
    from ansible_collections.etcdops.etcd.plugins.module_utils.etcd_process import Member, Toolset

    names = ["etcd-a", "etcd-b", "etcd-c"]
    peers = {name: "http://127.0.0.1:%d" % free_port() for name in names}
    cluster = ",".join("%s=%s" % item for item in peers.items())
    started = [Member(Toolset(BIN_ROOT, "3.4.23"), str(tmp_path / name), str(tmp_path / ("%s.log" % name)),
                      name=name, client_port=free_port(), listen_peer_urls=peers[name], initial_cluster=cluster)
               for name in names]
    try:
        for member in started:
            member.start()
        for member in started:
            member.wait_ready(60)
        started[0].ctl("put", "/k", "v")
    finally:
        for member in started:
            member.stop()
    data_dir = tmp_path / "etcd-a"
    (data_dir / "version.txt").write_text("3.4.23/etcd3")
    digest = tree_digest(data_dir)
    for target, refusal in (("3.6.16", "cannot go from 3.4.23 to 3.6.16 in one restart.*upgrade.yml"),
                            ("3.3.25", "cannot go down from 3.4.23 to 3.3.25.*upgrade.yml")):
        with pytest.raises(MigrationError, match="members etcd-a, etcd-b, etcd-c.*" + refusal):
            migrate(params(data_dir, target))
        assert tree_digest(data_dir) == digest
    member_digest = tree_digest(data_dir / "member")
    target = etcd_version("3.5")
    result = migrate(params(data_dir, target))
    assert [(s["action"], s["binary"]) for s in result["steps"]] == [("record-version", None)]
    assert result["backup"] is None and any("does the hop itself" in w for w in result["warnings"])
    assert (data_dir / "version.txt").read_text() == "%s/etcd3" % target
    assert tree_digest(data_dir / "member") == member_digest
    assert not [p for p in os.listdir(tmp_path) if ".etcd-backup." in p]
