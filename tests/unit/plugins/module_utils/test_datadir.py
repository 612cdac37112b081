"""version.txt, locks, backups: the data dir's bookkeeping, on real files."""

import fcntl
import json
import os

from pathlib import Path

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils.datadir import Backups, DataDir
from ansible_collections.etcdops.etcd.plugins.module_utils.engine import migrate
from ansible_collections.etcdops.etcd.plugins.module_utils.versions import MigrationError


def test_version_file_tolerates_surrounding_whitespace(tmp_path):
    (tmp_path / "version.txt").write_text("  3.5.30/etcd3\n\n")
    version, storage = DataDir(str(tmp_path)).read_version()
    assert (str(version), storage) == ("3.5.30", "etcd3")


def test_version_file_is_written_without_newline_and_not_rewritten_when_unchanged(tmp_path):
    data = DataDir(str(tmp_path))
    assert data.write_version("3.4.23", "etcd3") is True
    assert (tmp_path / "version.txt").read_bytes() == b"3.4.23/etcd3"
    inode = os.stat(tmp_path / "version.txt").st_ino
    assert data.write_version("3.4.23", "etcd3") is False
    assert os.stat(tmp_path / "version.txt").st_ino == inode
    assert data.write_version("3.5.1", "etcd3") is True
    assert os.stat(tmp_path / "version.txt").st_ino != inode  # replaced by rename, never edited in place
    assert sorted(os.listdir(tmp_path)) == ["version.txt"]  # no temp file left


@pytest.mark.parametrize("content,problem", [
    ("garbage", "expected <version>/<storage>"),
    ("3.5/etcd3", "is not an etcd version"),
    ("3.5.30/etcd4", "storage in"),
    ("\x00\x01/etcd3", "is not an etcd version"),
])
def test_garbage_in_version_file_is_a_clear_error(tmp_path, content, problem):
    (tmp_path / "version.txt").write_text(content)
    with pytest.raises(MigrationError, match="version.txt") as err:
        DataDir(str(tmp_path)).read_version()
    assert problem in str(err.value) and "current_version" in str(err.value)


@pytest.mark.parametrize("bad,problem", [
    ({"target_version": "three"}, "target_version 'three' is not an etcd version"),
    ({"target_version": "3.5"}, "is not an etcd version"),
    ({"target_storage": "etcd4"}, "target_storage 'etcd4' is unknown"),
])
def test_bad_parameters_fail_before_anything_changes(tmp_path, bad, problem):
    (tmp_path / "member").mkdir()
    (tmp_path / "version.txt").write_text("3.4.23/etcd3")
    params = {"data_dir": str(tmp_path), "target_version": "3.5.1"}
    params.update(bad)
    with pytest.raises(MigrationError, match=problem):
        migrate(params)
    assert sorted(os.listdir(tmp_path)) == ["member", "version.txt"]


def test_a_data_dir_that_is_a_file_is_refused(tmp_path):
    path = tmp_path / "data"
    path.write_text("not a dir")
    with pytest.raises(MigrationError, match="is not a directory"):
        migrate({"data_dir": str(path), "target_version": "3.5.1"})
    assert path.read_text() == "not a dir"


def unreadable_member(data_dir):
    """A member dir with the files etcd writes, but content no reader can settle."""
    (data_dir / "member" / "snap").mkdir(parents=True)
    (data_dir / "member" / "snap" / "db").write_bytes(b"not bbolt")
    (data_dir / "member" / "wal").mkdir()
    (data_dir / "member" / "wal" / "0000000000000000-0000000000000000.wal").write_bytes(b"")


def test_data_without_version_file_needs_current_version(tmp_path):
    unreadable_member(tmp_path)
    with pytest.raises(MigrationError, match="no version.txt.*give current_version"):
        migrate({"data_dir": str(tmp_path), "target_version": "3.5.1"})
    with pytest.raises(MigrationError, match="contradicts"):
        (tmp_path / "version.txt").write_text("3.4.23/etcd3")
        migrate({"data_dir": str(tmp_path), "target_version": "3.5.1", "current_version": "3.3.25"}, check_mode=True)


def test_a_second_run_on_the_same_dir_is_refused_while_the_first_holds_it(tmp_path):
    first = DataDir(str(tmp_path))
    first.lock()
    try:
        with pytest.raises(MigrationError, match="another etcd_migrate run"):
            DataDir(str(tmp_path)).lock()
    finally:
        first.unlock()
    DataDir(str(tmp_path)).lock()


def test_a_locked_db_means_etcd_holds_the_dir(tmp_path):
    db = tmp_path / "member" / "snap" / "db"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"")
    data = DataDir(str(tmp_path))
    assert not data.held_by_other_process()
    with open(db, "rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # what bbolt does
        pid = os.fork()
        if pid == 0:  # another process, as etcd would be
            os._exit(1 if data.held_by_other_process() else 0)
        assert os.waitpid(pid, 0)[1] >> 8 == 1


def test_backups_copy_everything_but_the_inflight_marker_and_prune_oldest_first(tmp_path):
    data_path = tmp_path / "data"
    (data_path / "member").mkdir(parents=True)
    (data_path / "member" / "file").write_text("payload")
    data = DataDir(str(data_path))
    data.mark_inflight("step", "elsewhere")
    backups = Backups(data, str(tmp_path / "backups"))
    made = [backups.create("3.4.23", keep=3)[0] for _copy in range(3)]
    assert len(set(made)) == 3
    assert sorted(os.listdir(made[0])) == [".etcd-migrate-backup.json", "member"]
    manifest = json.loads((Path(made[0]) / ".etcd-migrate-backup.json").read_text())
    assert manifest["data_dir"] == str(data_path) and manifest["files"]["member/file"][0] == 7
    assert (tmp_path / "backups" / os.path.basename(made[0]) / "member" / "file").read_text() == "payload"
    assert backups.prune(2, protect=[made[-1]]) == made[:1]
    assert backups.existing() == made[1:]


def test_what_an_interrupted_member_switch_leaves_is_the_collections_own_and_nothing_else(tmp_path):
    """etcd_member_switch's marker and temp files are not foreign (etcd_migrate on start must not refuse a member a
    killed switch left); a name that only looks like them is."""
    (tmp_path / "member").mkdir()
    for name in ("version.txt", "version.txt.previous", "version.txt.tmp", "version.txt.previous.tmp"):
        (tmp_path / name).write_text("3.4.23/etcd3")
    data = DataDir(str(tmp_path))
    assert data.foreign_entries() == []
    (tmp_path / "version.txt.previous.bak").write_text("x")
    assert data.foreign_entries() == ["version.txt.previous.bak"]
