"""etcd_data_restore killed at every moment that matters, then run again: no data is lost, the restore converges.

One real member's data (keys, revisions, a compaction, a lease) and a snapshot of it taken before more writes. Each
case copies that data, runs the phases in a process group paused at one checkpoint (restore_phases.py) or inside
the restore tool (a wrapper), kills the group, then runs the real module's three phases as restore.yml does. The
data dir must then serve the snapshot's keys, and the original data must be kept aside byte for byte.
"""

import json
import os
import signal
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from etcd_sample import free_port, read_state, write_sample_data
from helpers import BIN_ROOT, ROOT, copy_tree, etcd_version, running_etcd, tmpfs, tree_digest

from ansible_collections.etcdops.etcd.plugins.module_utils.datadir import WAL_SEGMENT_BYTES

# The collection as Ansible finds it, for the module and the driver run in their own processes.
ENVIRONMENT = dict(os.environ, PYTHONPATH=str(ROOT / ".cache" / "collections"))
DRIVER = Path(__file__).with_name("restore_phases.py")
MODULE = "ansible_collections.etcdops.etcd.plugins.modules.etcd_data_restore"
PHASES = ["prepared", "swapped", "finished"]
STAMP = "20261129T200000Z"


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    """(version, pristine data dir, marks, state at the snapshot, state at the end, snapshot, peer URL)."""
    version = etcd_version("3.5")
    base = tmp_path_factory.mktemp("restore-original")
    # A name of its own: restore.yml copies the snapshot to the member's snapshot directory under it, and another
    # test run on this machine must not find or remove this one's copy.
    data, snapshot = base / "data", base / ("etcd-%s-snapshot-%s.db" % (version, uuid.uuid4().hex[:12]))
    with running_etcd(version, data, base) as member:
        marks = write_sample_data(member)
        at_snapshot = read_state(member, marks)
        member.ctl("snapshot", "save", str(snapshot))
        for i in range(5):
            member.ctl("put", "/after-snapshot/key-%d" % i, "lost by the restore")
        at_end = read_state(member, marks)
    (data / "version.txt").write_text("%s/etcd3" % version)
    assert at_end["kvs"] != at_snapshot["kvs"]
    return dict(version=version, data=data, marks=marks, at_snapshot=at_snapshot, at_end=at_end,
                snapshot=snapshot, peer="http://127.0.0.1:%d" % free_port(), digest=tree_digest(data))


def restore_params(original, data_dir, bin_dir=BIN_ROOT):
    return dict(data_dir=str(data_dir), snapshot=str(original["snapshot"]), bin_dir=str(bin_dir),
                version=original["version"], name="default", initial_cluster="default=%s" % original["peer"],
                initial_cluster_token="restored", initial_advertise_peer_urls=original["peer"], stamp=STAMP)


def killed_at(params, phases, tmp_path, pause_at=None, pause_count=1, marker=None):
    """Run ``phases`` in a new process group, wait until it pauses (or ``marker`` appears), kill the group."""
    marker = marker or tmp_path / "paused"
    spec = dict(params=params, phases=phases, pause_at=pause_at, pause_count=pause_count, marker=str(marker))
    proc = subprocess.Popen([sys.executable, str(DRIVER), json.dumps(spec)], env=ENVIRONMENT,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, "the phases ended before %s: %s" % (pause_at, proc.stdout.read().decode())
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()


def module(params, state, tmp_path, check_mode=False):
    """The real module in a subprocess, as Ansible runs it: (rc, result)."""
    args = dict(params, state=state, _ansible_check_mode=check_mode)
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    run = subprocess.run([sys.executable, "-m", MODULE, str(args_file)], env=ENVIRONMENT, capture_output=True,
                         text=True, check=False)
    return run.returncode, json.loads(run.stdout)


def rerun(params, tmp_path):
    """restore.yml's order after a kill: prepare (a swap in progress is kept), swap, finish."""
    results = []
    for state in PHASES:
        rc, result = module(params, state, tmp_path)
        assert rc == 0 and not result.get("failed"), result
        results.append(result)
    return results


def assert_restored(original, data_dir, aside, tmp_path):
    """The data dir serves the snapshot's keys, and the original data is kept aside byte for byte."""
    assert tree_digest(aside) == original["digest"]
    assert (Path(data_dir) / "version.txt").read_text() == "%s/etcd3" % original["version"]
    peer = original["peer"]
    with running_etcd(original["version"], data_dir, tmp_path, listen_peer_urls=peer,
                      initial_advertise_peer_urls=peer) as member:
        restored = read_state(member, original["marks"])
    assert restored["kvs"] == original["at_snapshot"]["kvs"]
    assert restored["lease"] == original["at_snapshot"]["lease"]


def fresh_copy(original, tmp_path):
    data_dir = tmp_path / "etcd" / "data"
    data_dir.parent.mkdir()
    copy_tree(original["data"], data_dir)
    return data_dir


def test_a_restore_keeps_the_original_whole_and_serves_the_snapshot(original, tmp_path):
    data_dir = fresh_copy(original, tmp_path)
    params = restore_params(original, data_dir)
    rc, plan = module(params, "prepared", tmp_path, check_mode=True)
    assert rc == 0 and plan["changed"] and os.listdir(data_dir.parent) == ["data"]
    prepared, swapped, finished = rerun(params, tmp_path)
    aside = "%s.before-restore-%s" % (data_dir, STAMP)
    assert prepared["step"] == "staged" and swapped["aside"] == aside and finished["step"] is None
    assert sorted(os.listdir(data_dir.parent)) == ["data", "data.before-restore-%s" % STAMP]
    assert swapped["seconds"] < 1
    assert_restored(original, data_dir, aside, tmp_path)
    with running_etcd(original["version"], aside, tmp_path) as member:
        assert read_state(member, original["marks"]) == original["at_end"]


@pytest.mark.parametrize("phases, pause_at, count", [
    (["prepared"], "restored", 1),
    (["prepared"], "renamed staged", 1),
    (["prepared"], "journal staged", 1),
    (["prepared", "swapped"], "journal aside", 1),
    (["prepared", "swapped"], "renamed aside", 1),
    (["prepared", "swapped"], "journal in", 1),
    (["prepared", "swapped"], "renamed in", 1),
    (["prepared", "swapped"], "journal swapped", 1),
])
def test_a_kill_at_any_moment_then_a_rerun_converges(original, tmp_path, phases, pause_at, count):
    data_dir = fresh_copy(original, tmp_path)
    params = restore_params(original, data_dir)
    killed_at(dict(params, stamp="20261129T190000Z"), phases, tmp_path, pause_at, count)
    rerun(params, tmp_path)
    stamps = [n for n in os.listdir(data_dir.parent) if n != "data"]
    assert len(stamps) == 1, stamps
    if "swapped" in phases:  # the swap had begun: the journal's stamp, not the re-run's
        assert stamps == ["data.before-restore-20261129T190000Z"]
    assert_restored(original, data_dir, data_dir.parent / stamps[0], tmp_path)


def test_the_swap_refuses_a_member_that_still_runs(original, tmp_path):
    data_dir = fresh_copy(original, tmp_path)
    params = restore_params(original, data_dir)
    assert module(params, "prepared", tmp_path)[0] == 0
    with running_etcd(original["version"], data_dir, tmp_path):
        rc, result = module(params, "swapped", tmp_path)
        assert rc == 1 and "etcd still runs on %s" % data_dir in result["msg"] and "stop the member" in result["msg"]
    assert sorted(os.listdir(data_dir.parent)) == [".data.restore-staged", ".data.restore.json", "data"]
    assert json.loads((data_dir.parent / ".data.restore.json").read_text())["step"] == "staged"


def test_a_kill_inside_the_restore_tool_leaves_the_live_data_alone(original, tmp_path):
    """The tool wrote its restore but had not returned: the re-run removes it and restores again."""
    bin_dir = tmp_path / "bin"
    real = BIN_ROOT / original["version"]
    (bin_dir / original["version"]).mkdir(parents=True)
    for tool in ("etcd", "etcdctl"):
        (bin_dir / original["version"] / tool).symlink_to(real / tool)
    marker = tmp_path / "tool-ran"
    wrapper = bin_dir / original["version"] / "etcdutl"
    wrapper.write_text('#!/bin/sh\n"%s" "$@" || exit\n[ "$1 $2" = "snapshot restore" ] || exit 0\n'
                       'touch "%s"\nsleep 3600\n' % (real / "etcdutl", marker))
    wrapper.chmod(0o755)
    data_dir = fresh_copy(original, tmp_path)
    params = restore_params(original, data_dir)
    killed_at(dict(params, bin_dir=str(bin_dir)), ["prepared"], tmp_path, marker=marker)
    assert tree_digest(data_dir) == original["digest"]
    assert sorted(os.listdir(data_dir.parent)) == [".data.restore-staged.partial", "data"]
    rerun(params, tmp_path)
    assert_restored(original, data_dir, "%s.before-restore-%s" % (data_dir, STAMP), tmp_path)


@pytest.mark.parametrize("pause_at", ["renamed aside", "renamed in"])
def test_a_mount_point_data_dir_is_swapped_entry_by_entry(original, tmp_path, pause_at):
    """A data dir that is a mount point cannot be renamed: its entries are, and lost+found stays."""
    with tmpfs(tmp_path / "mnt", "256m") as data_dir:
        copy_tree(original["data"] / "member", data_dir / "member")
        copy_tree(original["data"] / "version.txt", data_dir / "version.txt")
        (data_dir / "lost+found").mkdir()
        params = restore_params(original, data_dir)
        killed_at(params, ["prepared", "swapped"], tmp_path, pause_at)
        prepared, swapped, _finished = rerun(params, tmp_path)
        assert prepared["resuming"] and prepared["mount_point"] and swapped["changed"]
        aside = data_dir / (".before-restore-%s" % STAMP)
        assert sorted(os.listdir(data_dir)) == [aside.name, "lost+found", "member", "version.txt"]
        assert sorted(os.listdir(aside)) == ["member", "version.txt"]
        assert_restored_in_mount(original, data_dir, aside, tmp_path)


def assert_restored_in_mount(original, data_dir, aside, tmp_path):
    digest_of_original = tree_digest(aside)
    reference = tmp_path / "reference"
    reference.mkdir()
    copy_tree(original["data"] / "member", reference / "member")
    copy_tree(original["data"] / "version.txt", reference / "version.txt")
    os.chmod(reference, os.stat(aside).st_mode)
    assert digest_of_original == tree_digest(reference)
    peer = original["peer"]
    with running_etcd(original["version"], data_dir, tmp_path, listen_peer_urls=peer,
                      initial_advertise_peer_urls=peer) as member:
        assert read_state(member, original["marks"])["kvs"] == original["at_snapshot"]["kvs"]
    with running_etcd(original["version"], aside, tmp_path) as member:
        assert read_state(member, original["marks"]) == original["at_end"]


def restore_playbook(original, data_dir, tmp_path):
    """restore.yml on localhost without the yes (no systemd needed): rc and output."""
    config_dir = tmp_path / "etc"
    config_dir.mkdir(exist_ok=True)
    (config_dir / "etcd.conf.yml").write_text(json.dumps({
        "name": "default", "data-dir": str(data_dir), "initial-advertise-peer-urls": original["peer"],
        "initial-cluster": "default=%s" % original["peer"], "initial-cluster-token": "restored"}))
    inventory = tmp_path / "inventory.ini"
    member_dir = tmp_path / "member-snapshots"
    inventory.write_text("[etcd]\nlocalhost ansible_connection=local ansible_python_interpreter=%s etcd_config_dir=%s "
                         "etcd_bin_dir=%s etcd_user=root etcd_group=root etcd_backup_member_dir=%s\n"
                         % (sys.executable, config_dir, BIN_ROOT, member_dir))
    member_copy = member_dir / original["snapshot"].name
    try:
        run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
                              str(ROOT / "playbooks" / "restore.yml"), "-e", "ansible_become=false",
                              "-e", "etcd_restore_snapshot=%s" % original["snapshot"]],
                             env=dict(ENVIRONMENT, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".cache" / "collections")),
                             capture_output=True, text=True, check=False, timeout=300)
    finally:
        if member_copy.exists():
            member_copy.unlink()
    return run.returncode, run.stdout


def test_restore_yml_states_the_plan_and_resumes_a_killed_swap(original, tmp_path):
    """Without the yes nothing is written; after a kill with the data dir renamed aside, the checks still pass and
    the plan says the killed restore is finished with its own stamp."""
    data_dir = fresh_copy(original, tmp_path)
    rc, out = restore_playbook(original, data_dir, tmp_path)
    assert rc != 0 and "serves no request" in out and "run again with -e etcd_restore_confirm=true" in out, out
    assert "%s.before-restore-" % data_dir in out and "A killed restore" not in out
    # The member's copy of the snapshot went to a directory only root can enter (not a shared one like /var/tmp).
    member_dir = (tmp_path / "member-snapshots").stat()
    assert stat.S_IMODE(member_dir.st_mode) == 0o700 and member_dir.st_uid == 0
    assert os.listdir(data_dir.parent) == ["data"] and tree_digest(data_dir) == original["digest"]
    killed_at(restore_params(original, data_dir), ["prepared", "swapped"], tmp_path, "renamed aside")
    rc, out = restore_playbook(original, data_dir, tmp_path)
    assert rc != 0 and "A killed restore is finished, its data already swapped on: localhost." in out, out
    assert "%s.before-restore-%s" % (data_dir, STAMP) in out and "etcd_restore_confirm=true" in out
    assert not data_dir.exists()


def test_a_filesystem_too_small_is_refused_before_anything_stops(original, tmp_path):
    with tmpfs(tmp_path / "small", "8m") as small:
        data_dir = small / "data"
        data_dir.mkdir()
        (data_dir / "version.txt").write_text("%s/etcd3" % original["version"])
        digest = tree_digest(data_dir)
        params = restore_params(original, data_dir)
        for check_mode in (True, False):
            rc, result = module(params, "prepared", tmp_path, check_mode=check_mode)
            assert rc == 1 and result["failed"]
            message = result["msg"]
            needed = 2 * original["snapshot"].stat().st_size + WAL_SEGMENT_BYTES
            assert message.startswith("Nothing was stopped or changed") and "mounted at %s" % small in message
            assert "needs %d bytes" % needed in message
        assert tree_digest(data_dir) == digest and os.listdir(small) == ["data"]


# --- found by an adversarial review: bad input is refused with nothing changed ------------------------------------

def test_a_directory_that_is_not_a_members_data_is_never_swapped_aside(original, tmp_path):
    """A mistyped data_dir (a home, a parent of the data dir): the swap would rename everything in it aside."""
    home = tmp_path / "srv" / "etcd"
    (home / "projects").mkdir(parents=True)
    (home / "notes.txt").write_text("mine")
    digest = tree_digest(home)
    rc, result = module(restore_params(original, home), "prepared", tmp_path)
    assert rc == 1 and result["msg"].startswith("Nothing was changed: %s holds notes.txt, projects, which etcd does "
                                                "not write: it is not a member's data dir" % home), result
    assert tree_digest(home) == digest and os.listdir(home.parent) == ["etcd"]
    rc, result = module(restore_params(original, "/"), "prepared", tmp_path, check_mode=True)
    assert rc == 1 and "Nothing was changed: / is a system directory, not an etcd data dir" in result["msg"], result


def not_a_snapshot(original, path, kind):
    data = original["snapshot"].read_bytes()
    path.write_bytes({"empty": b"", "truncated": data[:len(data) // 2], "text": b"hello\n",
                      "db without its hash": (original["data"] / "member" / "snap" / "db").read_bytes()}[kind])
    return path


@pytest.mark.parametrize("kind", ["empty", "truncated", "text", "db without its hash"])
def test_a_snapshot_the_tool_cannot_restore_is_named_and_leaves_nothing(original, tmp_path, kind):
    data_dir = fresh_copy(original, tmp_path)
    snapshot = not_a_snapshot(original, tmp_path / "bad.db", kind)
    rc, result = module(dict(restore_params(original, data_dir), snapshot=str(snapshot)), "prepared", tmp_path)
    assert rc == 1 and result["msg"].startswith("Nothing was changed: etcdutl %s cannot restore the snapshot %s "
                                                "(%d bytes): Error: " % (original["version"], snapshot,
                                                                         snapshot.stat().st_size)), result
    assert "take the snapshot again" in result["msg"] and "\n" not in result["msg"]
    assert os.listdir(data_dir.parent) == ["data"] and tree_digest(data_dir) == original["digest"]
