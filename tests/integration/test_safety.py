"""An operator's bad day: wrong paths, shared backup dirs, symlinked WALs, foreign ports, bad values, full disks.

Each case is one that lost or endangered data before (issue #11); each runs on real etcd data and checks that
nothing was lost and that the error names the problem and the fix.
"""

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from etcd_sample import free_port, read_state, write_sample_data
from helpers import (BIN_ROOT, ROOT, broken_bin_dir, copy_tree, etcd_version, params, running_etcd, state_on,
                     tmpfs, tree_digest)

from ansible_collections.etcdops.etcd.plugins.module_utils.datadir import (WAL_SEGMENT_BYTES, Backups, DataDir,
                                                                           free_bytes, mount_point)
from ansible_collections.etcdops.etcd.plugins.module_utils.engine import _disk_full_note, migrate, validate
from ansible_collections.etcdops.etcd.plugins.module_utils.etcd_process import EtcdBinaries, Toolset
from ansible_collections.etcdops.etcd.plugins.module_utils.steps import StepRunner
from ansible_collections.etcdops.etcd.plugins.module_utils.versions import MigrationError

CLI = ROOT / ".cache" / "collections" / "ansible_collections" / "etcdops" / "etcd" / "bin" / "etcd-migrate"
MARKER = ".etcd-migrate-inflight.json"


def same_data(before, after):
    assert after["kvs"] == before["kvs"] and after["revision"] == before["revision"]
    assert after["lease"] == before["lease"]
    assert after["below_compaction_refused"] and after["at_compaction"] == before["at_compaction"]


def refused_untouched(data_dir, match, **extra):
    """The run is refused with ``match`` and leaves the data dir and its parent exactly as they were."""
    digest, around = tree_digest(data_dir), sorted(os.listdir(Path(data_dir).parent))
    with pytest.raises(MigrationError, match=match) as err:
        migrate(params(data_dir, extra.pop("target", etcd_version("3.5")), **extra))
    assert "\n" not in str(err.value)
    assert tree_digest(data_dir) == digest and sorted(os.listdir(Path(data_dir).parent)) == around
    return str(err.value)


# --- 1. a marker whose backup is gone, incomplete or unreadable -------------------

def test_a_marker_naming_a_missing_backup_is_refused_and_nothing_is_touched(data_dir_from):
    _version, data_dir, _marks, _before = data_dir_from("3.4.23")
    (data_dir / MARKER).write_text(json.dumps({"step": "upgrade 3.4.23 -> 3.5.35", "backup": "/nowhere/b"}))
    message = refused_untouched(data_dir, "the backup /nowhere/b is missing: nothing was changed")
    assert "remove %s" % (data_dir / MARKER) in message


def test_a_marker_naming_an_incomplete_backup_is_refused(data_dir_from):
    version, data_dir, _marks, _before = data_dir_from("3.4.23")
    backup = Backups(DataDir(str(data_dir)), str(data_dir.parent / "b")).create(version, keep=3)[0]
    os.unlink(os.path.join(backup, "member", "snap", "db"))
    (data_dir / MARKER).write_text(json.dumps({"step": "upgrade", "backup": backup}))
    refused_untouched(data_dir, r"is incomplete \(member/snap/db is missing")


def test_an_unreadable_marker_is_refused_with_what_to_do(data_dir_from):
    _version, data_dir, _marks, _before = data_dir_from("3.4.23")
    (data_dir / MARKER).write_text("{not json")
    refused_untouched(data_dir, "is unreadable .*Restore this data dir's newest backup")


# --- 2 and 8. backups belong to one data dir ----------------------------------------

def test_pruning_keeps_the_backups_of_other_data_dirs_and_ignores_look_alikes(written_by, tmp_path):
    version, pristine, marks, before = written_by("3.4.23")
    shared = tmp_path / "backups"
    x, y = tmp_path / "x" / "data", tmp_path / "y" / "data"
    copy_tree_to(pristine, x)
    copy_tree_to(pristine, y)
    x_backup = Backups(DataDir(str(x)), str(shared)).create(version, keep=3)[0]
    y_old = Backups(DataDir(str(y)), str(shared)).create(version, keep=3)[0]
    prefix = os.path.basename(y_old).split("etcd-backup.")[0] + "etcd-backup."
    (shared / (prefix + "00000000T000000000000Z.v1.0.0")).symlink_to(x_backup)  # a link named like y's oldest
    (shared / (prefix + "00000000T000000000001Z.v1.0.0")).write_text("a file named like a backup")
    result = migrate(params(y, etcd_version("3.5"), backup_dir=str(shared), backups_to_keep=1))
    assert result["removed_backups"] == [y_old]
    assert os.path.isdir(x_backup) and (Path(x_backup) / "member" / "snap" / "db").exists()
    assert sorted(os.listdir(shared)) == sorted([os.path.basename(x_backup), os.path.basename(result["backup"]),
                                                 prefix + "00000000T000000000000Z.v1.0.0",
                                                 prefix + "00000000T000000000001Z.v1.0.0"])
    same_data(before, state_on(etcd_version("3.5"), y, tmp_path, marks)[0])


def copy_tree_to(src, dst):
    dst.parent.mkdir(parents=True, exist_ok=True)
    copy_tree(src, dst)


# --- 4. the WAL elsewhere: a symlink in member/, or etcd's --wal-dir ----------------

def test_a_symlinked_wal_is_backed_up_by_content_and_restored_into_its_target(data_dir_from, tmp_path):
    version, data_dir, marks, before = data_dir_from("3.4.23")
    other_disk = tmp_path / "disk2" / "wal"
    other_disk.parent.mkdir()
    os.rename(data_dir / "member" / "wal", other_disk)
    os.symlink(str(other_disk), str(data_dir / "member" / "wal"))
    wal_digest = tree_digest(other_disk)
    v35, v36 = etcd_version("3.5"), etcd_version("3.6")
    with pytest.raises(MigrationError, match="restored from the backup") as err:
        migrate(params(data_dir, v36, bin_dir=str(broken_bin_dir(tmp_path, v36, [v35, v36]))))
    backup = str(err.value).rsplit("backup ", 1)[1].rstrip(".")
    assert not os.path.islink(os.path.join(backup, "member", "wal"))  # the content, not the link
    assert os.readlink(str(data_dir / "member" / "wal")) == str(other_disk)
    assert tree_digest(other_disk) == wal_digest  # the WAL the 3.5 hop extended is put back too
    same_data(before, state_on(version, data_dir, tmp_path, marks)[0])
    migrate(params(data_dir, v36))
    assert os.readlink(str(data_dir / "member" / "wal")) == str(other_disk)
    same_data(before, state_on(v36, data_dir, tmp_path, marks)[0])


def test_a_wal_dir_is_honoured_by_detection_backup_hops_and_restore(tmp_path):
    data_dir, wal_dir = tmp_path / "data", tmp_path / "wal-disk" / "wal"
    with running_etcd("3.4.23", data_dir, tmp_path, wal_dir=str(wal_dir)) as member:
        marks = write_sample_data(member)
        before = read_state(member, marks)
    assert not (data_dir / "member" / "wal").exists()
    with pytest.raises(MigrationError, match="no WAL segments in .*give wal_dir"):
        migrate(params(data_dir, etcd_version("3.5"), current_version="3.4.23"))
    digest = tree_digest(wal_dir)
    v35 = etcd_version("3.5")
    with pytest.raises(MigrationError, match="restored from the backup"):
        migrate(params(data_dir, v35, wal_dir=str(wal_dir), bin_dir=str(broken_bin_dir(tmp_path, v35, [v35]))))
    assert tree_digest(wal_dir) == digest and not (data_dir / "member" / "wal").exists()
    result = migrate(params(data_dir, v35, wal_dir=str(wal_dir)))  # detected: no version.txt
    assert result["previous"]["version"] == "3.4.0" and result["detected"]["version"] == "3.4"
    assert not (data_dir / "member" / "wal").exists()
    with running_etcd(v35, data_dir, tmp_path, wal_dir=str(wal_dir)) as member:
        same_data(before, read_state(member, marks))


# --- 5. a hop must run on this data -------------------------------------------------

def test_a_foreign_etcd_on_the_client_port_is_not_taken_for_the_hop(data_dir_from, written_by, tmp_path):
    version, data_dir, marks, before = data_dir_from("3.3.25")
    _v, other, _m, _s = written_by("3.4.23")
    foreign_dir = tmp_path / "foreign"
    copy_tree(other, foreign_dir)
    port = free_port()
    with running_etcd("3.4.23", foreign_dir, tmp_path, client_port=port):
        with pytest.raises(MigrationError, match="port %d on 127.0.0.1 is in use by another process" % port):
            migrate(params(data_dir, "3.4.23", client_port=port))
    assert (data_dir / "version.txt").read_text() == "3.3.25/etcd3"
    same_data(before, state_on(version, data_dir, tmp_path, marks)[0])


def test_the_hop_proves_the_member_and_cluster_ids_of_the_data(data_dir_from, tmp_path):
    _version, data_dir, _marks, _before = data_dir_from("3.4.23")
    options = validate(params(data_dir, "3.4.23"))
    runner = StepRunner(DataDir(str(data_dir)), EtcdBinaries(str(BIN_ROOT)), str(tmp_path), options)
    ids = runner.data_ids()
    with running_etcd("3.4.23", tmp_path / "fresh", tmp_path) as stranger:  # a member of another cluster
        with pytest.raises(MigrationError, match="reports member .* but the data holds member %x of cluster %x"
                           % ids):
            runner.wait_on(stranger, Toolset(str(BIN_ROOT), "3.4.23").version, ids)


@pytest.mark.parametrize("flag", ["--data-dir=/elsewhere", "--wal-dir", "-name", "--snapshot-count=5"])
def test_extra_args_may_not_override_what_the_engine_sets(data_dir_from, flag):
    _version, data_dir, _marks, _before = data_dir_from("3.4.23")
    refused_untouched(data_dir, r"server_extra_args \(ETCD_CREDS on the command line\) set --%s" % flag.lstrip("-").split("=")[0],
                      server_extra_args=[flag, "/x"])


# --- 6 and 7. what is not a member's data, and backups inside it -----------------------

def test_a_directory_that_is_not_a_members_data_is_refused(tmp_path):
    stranger = tmp_path / "home"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    message = refused_untouched(stranger, "holds notes.txt, which etcd does not write", current_version="3.4.23")
    assert "not a member's data dir" in message
    hollow = tmp_path / "hollow"
    (hollow / "member").mkdir(parents=True)
    (hollow / "version.txt").write_text("3.4.23/etcd3")
    refused_untouched(hollow, "has member/ but no member/snap/db and no WAL segments")
    with pytest.raises(MigrationError, match="data_dir / is a system directory"):
        migrate(params("/", "3.5.35", current_version="3.4.23"), check_mode=True)


def test_a_mount_points_lost_and_found_is_not_data(tmp_path):
    mounted = tmp_path / "mnt"
    (mounted / "lost+found").mkdir(parents=True)
    result = migrate(params(mounted, "3.5.35"))
    assert [s["action"] for s in result["steps"]] == ["record-version"]
    assert sorted(os.listdir(mounted)) == ["lost+found", "version.txt"]


def test_a_backup_dir_inside_the_data_dir_is_refused(data_dir_from):
    _version, data_dir, _marks, _before = data_dir_from("3.4.23")
    refused_untouched(data_dir, "backup_dir .* is inside .*, so a backup would copy itself",
                      backup_dir=str(data_dir / "member" / "backups"))


# --- 9 and 10. values and errors --------------------------------------------------------

@pytest.mark.parametrize("bad,problem", [
    ({"timeout": 0}, "timeout 0 is out of range"), ({"timeout": -1}, "timeout -1 is out of range"),
    ({"client_port": 0}, "client_port 0 is out of range"), ({"client_port": 70000}, "client_port 70000"),
    ({"client_port": -1}, "client_port -1"), ({"backups_to_keep": -5}, "backups_to_keep -5"),
    ({"backups_to_keep": 0}, "backups_to_keep 0"), ({"target": "3.7.3+build.1"}, "has build metadata"),
    ({"data_dir_mode": "abc"}, "data_dir_mode 'abc' is not an octal mode"),
    ({"data_dir_mode": "0500"}, "data_dir_mode '0500'"), ({"ttl_keys_ttl": 0}, "ttl_keys_ttl 0"),
    ({"listen_peer_urls": "127.0.0.1:2380"}, "listen_peer_urls .* is not a list of http"),
])
def test_bad_values_are_refused_before_any_backup_or_process(data_dir_from, bad, problem):
    _version, data_dir, _marks, _before = data_dir_from("3.4.23")
    refused_untouched(data_dir, problem, **bad)


def test_a_damaged_wal_is_refused_before_the_backup(data_dir_from):
    _version, data_dir, _marks, _before = data_dir_from("3.4.23")
    wal = next((data_dir / "member" / "wal").glob("*.wal"))
    records = len(wal.read_bytes().rstrip(b"\0"))
    with open(wal, "r+b") as handle:
        handle.truncate(records - 5)  # the last record torn: its length runs past the end
    refused_untouched(data_dir, r"cannot be read \(.*\.wal: record of .* runs past the end .*restore it from a backup")


def test_a_read_only_backup_dir_is_one_line_from_the_cli(data_dir_from, tmp_path):
    _version, data_dir, _marks, _before = data_dir_from("3.4.23")
    with tmpfs(tmp_path / "ro", "1m") as read_only:
        subprocess.run(["mount", "-o", "remount,ro", str(read_only)], check=True)
        digest = tree_digest(data_dir)
        run = cli(data_dir, etcd_version("3.5"), "--backup-dir", str(read_only / "b"))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "Read-only file system" in run.stderr and "remount it read-write" in run.stderr
    assert tree_digest(data_dir) == digest


def cli_args(data_dir, target, *args):
    return [sys.executable, str(CLI), "--data-dir", str(data_dir), "--target-version", target,
            "--bin-dir", str(BIN_ROOT), "--client-port", str(free_port()),
            "--listen-peer-urls", "http://127.0.0.1:%d" % free_port()] + list(args)


def cli(data_dir, target, *args):
    return subprocess.run(cli_args(data_dir, target, *args), capture_output=True, text=True, timeout=600, check=False)


# --- disk full --------------------------------------------------------------------------

def test_a_backup_that_does_not_fit_is_refused_up_front(data_dir_from, tmp_path):
    _version, data_dir, _marks, _before = data_dir_from("3.4.23")
    with tmpfs(tmp_path / "small", "8m") as small:
        message = refused_untouched(data_dir, "not enough space for the backup", backup_dir=str(small))
        assert "mounted at %s" % small in message and not os.listdir(small)


def test_a_disk_that_fills_during_the_backup_copy_leaves_the_data_and_no_partial(data_dir_from, tmp_path):
    _version, data_dir, _marks, _before = data_dir_from("3.4.23")
    backups = tmp_path / "b"
    digest = tree_digest(data_dir)
    command = cli_args(data_dir, etcd_version("3.5"), "--backup-dir", str(backups))
    # The device fills while the WAL is being copied: the kernel's ENOSPC, injected at that very call.
    run = subprocess.run(["strace", "-qq", "-o", "/dev/null", "-e", "trace=sendfile",
                          "-e", "inject=sendfile:error=ENOSPC:when=1"] + command,
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert "no space left on the filesystem mounted at" in run.stderr and "nothing was changed" in run.stderr
    assert tree_digest(data_dir) == digest and os.listdir(backups) == []


def test_a_disk_that_fills_during_the_copy_after_retention_names_the_backups_it_removed(data_dir_from, tmp_path):
    """The room check counts apparent sizes: a copy can still run out after retention removed the older backups to
    make room, and the message said "nothing was changed"."""
    version, data_dir, _marks, _before = data_dir_from("3.4.23")
    backups = tmp_path / "b"
    older = Backups(DataDir(str(data_dir)), str(backups)).create(version, keep=3)[0]
    digest = tree_digest(data_dir)
    command = cli_args(data_dir, etcd_version("3.5"), "--backup-dir", str(backups), "--backups-to-keep", "1")
    run = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=sendfile",
                          "-e", "inject=sendfile:error=ENOSPC:when=1"] + command,
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert "the data dir was not changed, but backups_to_keep had already removed the older backup(s) %s" % older \
        in run.stderr
    assert tree_digest(data_dir) == digest and os.listdir(backups) == []


def test_the_disk_full_note_names_the_wals_filesystem_too_when_it_is_another(tmp_path):
    (tmp_path / "data").mkdir()
    with tmpfs(tmp_path / "wal-disk", "4m") as wal_disk:
        note = _disk_full_note(DataDir(str(tmp_path / "data"), wal_dir=str(wal_disk / "wal")), True)
        assert "the filesystem mounted at %s has" % mount_point(str(tmp_path)) in note
        assert "and the filesystem mounted at %s has %d bytes free" % (wal_disk, free_bytes(str(wal_disk))) in note
    assert _disk_full_note(DataDir(str(tmp_path / "data")), True).count("the filesystem mounted at") == 1
    assert _disk_full_note(DataDir(str(tmp_path / "data")), False) == ""


def test_a_disk_that_fills_during_a_hop_is_named_and_the_data_put_back(written_by, tmp_path):
    version, pristine, marks, before = written_by("3.4.23")
    # Room for the data and one more WAL segment once the filler goes: a restarting etcd truncates its WAL tail and
    # extends it again while it preallocates the next segment, two 64 MB allocations that may overlap.
    size = sum(f.stat().st_size for f in pristine.rglob("*") if f.is_file()) + 2 * WAL_SEGMENT_BYTES
    with tmpfs(tmp_path / "disk", "%dk" % (size // 1024)) as disk:
        data_dir = disk / "data"
        copy_tree(pristine, data_dir)
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        filler = disk / "filler"
        with open(filler, "wb") as handle:
            handle.write(b"\0" * (free - 8192))
        target = etcd_version("3.5")
        with pytest.raises(MigrationError) as err:
            migrate(params(data_dir, target, backup_dir=str(tmp_path / "backups")))
        message = str(err.value)
        assert "no space left" in message.lower() and "mounted at %s" % disk in message
        assert "restored from the backup" in message
        # The free space named is the operator's once the data is back, not what the failed etcd had freed.
        named_free = int(re.search(r"has (\d+) bytes free", message).group(1))
        assert named_free < WAL_SEGMENT_BYTES and abs(named_free - free_bytes(str(disk))) < 1 << 20
        assert (data_dir / "version.txt").read_text() == "%s/etcd3" % version
        same_data(before, state_on(version, data_dir, tmp_path, marks)[0])
        filler.unlink()  # the operator frees space and runs again
        migrate(params(data_dir, target, backup_dir=str(tmp_path / "backups")))
        same_data(before, state_on(target, data_dir, tmp_path, marks)[0])


# --- 11 and 12. leftovers and bounded output -------------------------------------------

def test_leftovers_of_killed_runs_are_removed_and_only_this_data_dirs(data_dir_from, tmp_path):
    version, data_dir, _marks, _before = data_dir_from("3.4.23")
    backups = data_dir.parent
    made = Backups(DataDir(str(data_dir)), str(backups)).create(version, keep=3)[0]
    partial, deleting = made + ".partial", made.replace("v3.4.23", "v3.3.25") + ".deleting"
    copy_tree(made, partial)
    copy_tree(made, deleting)
    (data_dir / ".etcd-migrate-work").mkdir()
    (data_dir / ".etcd-migrate-work" / "downgrade-3.5.35.db").write_bytes(b"\0" * 1024)
    (data_dir / "version.txt.tmp.4242").write_text("3.5.35/etcd3")
    operators = backups / ("%s.restore-20240101" % data_dir.name)  # an operator's own restore, never ours
    operators.mkdir()
    someone_elses = backups / "other.0123456789.etcd-backup.20260101T000000000000Z.v3.4.23.partial"
    someone_elses.mkdir()
    # A killed run's directory of etcd logs in the shared temp dir, and a link under a name of that form.
    path_hash = Backups(DataDir(str(data_dir)), str(backups)).path_hash
    killed_logs = Path(tempfile.mkdtemp(prefix="etcd-migrate-%s-" % path_hash, suffix=".logs"))
    (killed_logs / "etcd-3.5.35.log").write_text("from a killed run")
    planted = Path(tempfile.gettempdir()) / ("etcd-migrate-%s-planted.logs" % path_hash)
    planted.symlink_to(tmp_path)
    try:
        result = migrate(params(data_dir, etcd_version("3.5"), backup_dir=str(backups)))
        assert not killed_logs.exists() and planted.is_symlink() and tmp_path.is_dir()
        # This run's own directory is gone too: only the planted link is left.
        assert [p.name for p in Path(tempfile.gettempdir()).glob("etcd-migrate-%s-*.logs" % path_hash)] == [planted.name]
    finally:
        planted.unlink()
        shutil.rmtree(killed_logs, ignore_errors=True)
    removed = [w.split("removed ", 1)[1].split(", left")[0] for w in result["warnings"] if "left by a run" in w]
    assert sorted(removed) == sorted([str(data_dir / ".etcd-migrate-work"), str(data_dir / "version.txt.tmp.4242"),
                                      partial, deleting])
    assert someone_elses.exists() and operators.exists()


def test_a_huge_version_file_is_never_echoed(data_dir_from, tmp_path):
    _version, data_dir, _marks, _before = data_dir_from("3.4.23")
    (data_dir / "version.txt").write_text("3.4.23/etcd3" + " " * 10 ** 7)
    run = cli(data_dir, etcd_version("3.5"))
    assert run.returncode == 1 and len(run.stdout) + len(run.stderr) < 1000
    assert "is 10000012 bytes, expected <version>/<storage>" in run.stderr


# --- found by an adversarial review --------------------------------------------------

def test_a_damaged_backup_with_the_right_sizes_is_refused(data_dir_from):
    version, data_dir, _marks, _before = data_dir_from("3.4.23")
    backup = Backups(DataDir(str(data_dir)), str(data_dir.parent / "b")).create(version, keep=3)[0]
    db = Path(backup) / "member" / "snap" / "db"
    db.write_bytes(db.read_bytes()[:8192] + b"\0" * (db.stat().st_size - 8192))
    (data_dir / MARKER).write_text(json.dumps({"step": "upgrade", "backup": backup}))
    refused_untouched(data_dir, r"is damaged \(member/snap/db does not match its checksum\)")


def test_another_hosts_backup_of_the_same_path_is_never_pruned(written_by, tmp_path):
    """Hosts sharing a backup_dir (NFS) with the same data dir path: one host's retention keeps the other's."""
    version, pristine, _marks, _before = written_by("3.4.23")
    data_dir, shared = tmp_path / "data", tmp_path / "shared"
    copy_tree(pristine, data_dir)
    other_host = subprocess.run(
        ["unshare", "--uts", "sh", "-c", 'hostname etcd-elsewhere && exec "$@"', "sh"]
        + cli_args(data_dir, etcd_version("3.5"), "--backup-dir", str(shared), "--backups-to-keep", "1"),
        capture_output=True, text=True, timeout=600, check=False)
    assert other_host.returncode == 0, other_host.stderr
    theirs = json.loads(other_host.stdout)["backup"]
    subprocess.run(["rm", "-rf", str(data_dir)], check=True)
    copy_tree(pristine, data_dir)
    ours = migrate(params(data_dir, etcd_version("3.5"), backup_dir=str(shared), backups_to_keep=1))
    assert ours["removed_backups"] == [] and os.path.isdir(theirs) and theirs != ours["backup"]


def test_a_wal_disk_not_mounted_at_recovery_is_refused_until_it_is(written_by, tmp_path):
    version, pristine, marks, before = written_by("3.4.23")
    data_dir, disk, mount = tmp_path / "data", tmp_path / "disk", tmp_path / "walmount"
    copy_tree(pristine, data_dir)
    mount.mkdir()
    with tmpfs(disk, "128m"):
        subprocess.run(["mount", "--bind", str(disk), str(mount)], check=True)
        try:
            unmounted_wal_recovery(data_dir, mount, disk, tmp_path, version, marks, before)
        finally:
            subprocess.run(["umount", str(mount)], check=False)


def unmounted_wal_recovery(data_dir, mount, disk, tmp_path, version, marks, before):
    """The WAL moved to a disk mounted at ``mount``; a run dies mid-hop; the disk is not mounted at the re-run."""
    shutil.move(str(data_dir / "member" / "wal"), str(mount / "wal"))
    os.symlink(str(mount / "wal"), str(data_dir / "member" / "wal"))
    backup = Backups(DataDir(str(data_dir)), str(tmp_path / "b")).create(version, keep=3)[0]
    (data_dir / MARKER).write_text(json.dumps({"step": "upgrade", "backup": backup}))  # a run died mid-hop
    subprocess.run(["umount", str(mount)], check=True)
    (mount / "wal").mkdir()  # what a late mount leaves: an empty directory on the root disk
    with pytest.raises(MigrationError, match="is missing or on another filesystem now .*mount it and run again"):
        migrate(params(data_dir, version, backup_dir=str(tmp_path / "b")))
    assert os.listdir(mount / "wal") == [] and (data_dir / MARKER).exists()
    (mount / "wal").rmdir()
    subprocess.run(["mount", "--bind", str(disk), str(mount)], check=True)
    result = migrate(params(data_dir, version, backup_dir=str(tmp_path / "b")))
    assert "previous run died" in " ".join(result["warnings"])
    same_data(before, state_on(version, data_dir, tmp_path, marks)[0])


def test_a_root_run_leaves_every_file_to_the_data_dirs_owner(data_dir_from, tmp_path):
    version, data_dir, marks, before = data_dir_from("3.4.23")
    subprocess.run(["chown", "-R", "4242:4243", str(data_dir)], check=True)
    v35 = etcd_version("3.5")

    def owners():
        return {(os.lstat(os.path.join(d, n)).st_uid, os.lstat(os.path.join(d, n)).st_gid)
                for d, dirs, files in os.walk(data_dir) for n in dirs + files}
    with pytest.raises(MigrationError, match="restored from the backup"):
        migrate(params(data_dir, v35, bin_dir=str(broken_bin_dir(tmp_path, v35, [v35]))))
    assert owners() == {(4242, 4243)}
    migrate(params(data_dir, v35))
    assert owners() == {(4242, 4243)}
    same_data(before, state_on(v35, data_dir, tmp_path, marks)[0])


def test_failed_attempts_in_a_row_keep_no_more_backups_than_asked(data_dir_from, tmp_path):
    _version, data_dir, _marks, _before = data_dir_from("3.4.23")
    v35 = etcd_version("3.5")
    broken = broken_bin_dir(tmp_path, v35, [v35])
    for _attempt in range(3):
        with pytest.raises(MigrationError, match="restored from the backup"):
            migrate(params(data_dir, v35, bin_dir=str(broken), backup_dir=str(tmp_path / "b"), backups_to_keep=1))
    assert len(os.listdir(tmp_path / "b")) == 1


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
def test_a_version_file_that_is_not_a_regular_file_is_refused_unread(data_dir_from, tmp_path, kind):
    _version, data_dir, _marks, _before = data_dir_from("3.4.23")
    secret = tmp_path / "secret"
    secret.write_text("root:$6$SECRET")
    (data_dir / "version.txt").unlink()
    if kind == "symlink":
        (data_dir / "version.txt").symlink_to(secret)
    else:
        os.mkfifo(str(data_dir / "version.txt"))
    message = refused_untouched(data_dir, "version.txt is (a symlink|not a regular file)")
    assert "SECRET" not in message


def test_auth_enabled_data_is_refused_before_the_backup(data_dir_from, tmp_path):
    version, data_dir, _marks, _before = data_dir_from("3.4.23")
    with running_etcd(version, data_dir, tmp_path) as member:
        member.ctl("user", "add", "root:pw")
        member.ctl("user", "grant-role", "root", "root")
        member.ctl("auth", "enable")
    refused_untouched(data_dir, "auth is enabled in .*'etcdctl auth disable'")


def test_wal_dir_beside_a_member_wal_is_refused(data_dir_from, tmp_path):
    _version, data_dir, _marks, _before = data_dir_from("3.4.23")
    (tmp_path / "wal").mkdir()
    refused_untouched(data_dir, "member/wal exists while wal_dir is", wal_dir=str(tmp_path / "wal"))


def test_port_problems_are_refused_before_the_backup(data_dir_from):
    _version, data_dir, _marks, _before = data_dir_from("3.4.23")
    port = free_port()
    refused_untouched(data_dir, "client_port %d is also the port of listen_peer_urls" % port, client_port=port,
                      listen_peer_urls="http://127.0.0.1:%d" % port)
    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", 0))
        foreign.listen()
        taken = foreign.getsockname()[1]
        refused_untouched(data_dir, "port %d on 127.0.0.1 is in use by another process" % taken,
                          listen_peer_urls="http://127.0.0.1:%d" % taken)


def test_a_data_dir_path_that_is_not_utf8_works(written_by, tmp_path):
    version, pristine, marks, before = written_by("3.4.23")
    data_dir = Path(os.fsdecode(os.path.join(os.fsencode(str(tmp_path)), b"data-\xff")))
    copy_tree(pristine, data_dir)
    migrate(params(data_dir, etcd_version("3.5")))
    same_data(before, state_on(etcd_version("3.5"), data_dir, tmp_path, marks)[0])


def test_values_the_v2_store_cannot_hold_are_named(data_dir_from):
    version, data_dir, _marks, _before = data_dir_from("3.5")
    with running_etcd(version, data_dir, data_dir.parent) as member:
        member.v3("/kv/put", {"key": "L3JlZ2lzdHJ5L3BvZHMvcA==", "value": "azhzAP8="})  # /registry/pods/p, protobuf
    with pytest.raises(MigrationError, match="the value of '/registry/pods/p' is not UTF-8 text"):
        migrate(params(data_dir, version, target_storage="etcd2"))


def test_another_members_wal_given_as_wal_dir_is_refused_and_left_alone(tmp_path):
    """A hop on this db with another member's WAL ran as that member and wrote 3.5 into its WAL: at 3.4 that member
    then refused to start ("cluster cannot be downgraded")."""
    for name in ("a", "b"):
        with running_etcd("3.4.23", tmp_path / name / "data", tmp_path, wal_dir=str(tmp_path / name / "wal")) as member:
            write_sample_data(member)
    data_dir, theirs = tmp_path / "a" / "data", tmp_path / "b" / "wal"
    digests = [tree_digest(path) for path in (data_dir, theirs, tmp_path / "a" / "wal")]
    with pytest.raises(MigrationError, match="the WAL in %s belongs to member [0-9a-f]+, which %s/member/snap/db does "
                       "not list .*: it is another member's WAL. Nothing was changed; give the wal_dir"
                       % (theirs, data_dir)):
        migrate(params(data_dir, etcd_version("3.5"), current_version="3.4.23", wal_dir=str(theirs)))
    assert [tree_digest(path) for path in (data_dir, theirs, tmp_path / "a" / "wal")] == digests
    assert sorted(os.listdir(tmp_path / "a")) == ["data", "wal"]


def test_a_member_restored_by_etcdctl_3_4_is_not_taken_for_another_members_wal(tmp_path):
    """etcdctl 3.4's snapshot restore leaves the old cluster's members in the db and writes the new member to the .snap
    only: the check for another member's WAL refused such data (the restore the Kubernetes docs show)."""
    with running_etcd("3.4.23", tmp_path / "old", tmp_path) as member:
        marks = write_sample_data(member)
        before = read_state(member, marks)
        member.ctl("snapshot", "save", str(tmp_path / "snapshot.db"))
    data_dir, peer = tmp_path / "restored", "http://127.0.0.1:%d" % free_port()
    Toolset(str(BIN_ROOT), "3.4.23").run("etcdctl", ["snapshot", "restore", str(tmp_path / "snapshot.db"),
                                                     "--data-dir", str(data_dir), "--name", "restored",
                                                     "--initial-cluster", "restored=" + peer,
                                                     "--initial-advertise-peer-urls", peer])
    target = etcd_version("3.5")
    migrate(params(data_dir, target, current_version="3.4.23", name="restored", listen_peer_urls=peer,
                   backup_dir=str(tmp_path / "backups")))
    assert (data_dir / "version.txt").read_text() == "%s/etcd3" % target
    same_data(before, state_on(target, data_dir, tmp_path, marks)[0])


def test_a_data_disk_full_when_the_marker_is_written_is_named_not_a_hang(written_by, tmp_path):
    """ENOSPC from a buffered write carries no file name: describing it looked for the free space of a relative
    placeholder path and looped forever at full CPU."""
    _version, pristine, _marks, _before = written_by("3.4.23")
    size = sum(f.stat().st_size for f in pristine.rglob("*") if f.is_file())
    with tmpfs(tmp_path / "disk", "%dk" % (size // 1024 + 1024)) as disk:
        data_dir = disk / "data"
        copy_tree(pristine, data_dir)
        with open(disk / "filler", "wb", buffering=0) as handle:  # every block taken: the marker cannot be written
            while True:
                try:
                    handle.write(b"\0" * 4096)
                except OSError:
                    break
        digest = tree_digest(data_dir)
        run = subprocess.run(cli_args(data_dir, etcd_version("3.5"), "--backup-dir", str(tmp_path / "b")),
                             capture_output=True, text=True, timeout=120, check=False)
        assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
        assert "no space left on the filesystem mounted at %s (writing %s" % (disk, data_dir) in run.stderr
        assert tree_digest(data_dir) == digest


def test_a_backup_that_does_not_fit_keeps_the_older_ones(written_by, tmp_path):
    """Retention removed the older backups first, then refused the new one for want of room: the refused run had
    taken the only backup."""
    version, pristine, _marks, _before = written_by("3.4.23")
    data_dir = tmp_path / "data"
    copy_tree(pristine, data_dir)
    with tmpfs(tmp_path / "backups", "100m") as backups:
        older = Backups(DataDir(str(data_dir)), str(backups)).create(version, keep=1)[0]
        free = os.statvfs(backups).f_bavail * os.statvfs(backups).f_frsize
        (backups / "filler").write_bytes(b"\0" * (free - (1 << 20)))
        with running_etcd(version, data_dir, tmp_path) as member:  # the data grew since: the room left is short
            for i in range(4):
                member.v3("/kv/put", {"key": base64.b64encode(b"/big/%d" % i).decode(),
                                      "value": base64.b64encode(b"x" * 1000000).decode()})
        digest, older_digest = tree_digest(data_dir), tree_digest(older)
        with pytest.raises(MigrationError, match="not enough space for the backup of %s" % data_dir) as err:
            migrate(params(data_dir, etcd_version("3.5"), backup_dir=str(backups), backups_to_keep=1))
        assert sorted(os.listdir(backups)) == sorted([os.path.basename(older), "filler"])
        assert tree_digest(older) == older_digest and tree_digest(data_dir) == digest
        assert "that backups_to_keep would remove; none was removed" in str(err.value)
