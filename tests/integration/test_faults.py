"""Crash safety: kill -9 of the whole process tree at every moment that matters, then a re-run converges.

The invariant under test (plugins/module_utils/datadir.py): at every instant the data dir or a complete backup
holds the member's data, and the in-flight marker says which.  Each moment is chosen by watching the run, never
by sleeping:

- ``syscall`` moments: strace stops the command-line entry on entry to its N-th call of a syscall (the mkdir that
  starts a backup, the sendfile that copies the WAL, the rename that publishes the backup or writes the marker or
  version.txt, a staging swap, a prune) and kills it there with SIGKILL, checked against the path in the call;
- ``watch`` moments: the test watches the processes and the data dir (an etcd of the hop's version appears, it
  answers, a .snap appears, a downgrade snapshot appears, etcdctl runs the downgrade API) and kills then.

Either way the whole process group (the CLI, etcd, etcdctl, etcdutl) is then killed with SIGKILL.  Runs
follow until one succeeds (the operator fixing a broken binary in between where the case needs it), and the data
on the target version must hold every key, value, revision, lease and the compaction, with no leftovers.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from etcd_sample import free_port
from helpers import BIN_ROOT, ROOT, broken_bin_dir, copy_tree, etcd_version, state_on

from ansible_collections.etcdops.etcd.plugins.module_utils.datadir import Backups, DataDir

CLI = ROOT / ".cache" / "collections" / "ansible_collections" / "etcdops" / "etcd" / "bin" / "etcd-migrate"
LEFTOVER_MARKS = (".partial", ".deleting", ".etcd-migrate-restore", ".etcd-migrate-work", ".tmp.")


# --- the process tree ----------------------------------------------------

def group_pids(pgid):
    """Live (not zombie) processes of a process group."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry))
    return found


def group_cmdlines(pgid):
    lines = []
    for pid in group_pids(pgid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                lines.append(handle.read().decode("utf-8", "replace").split("\0"))
        except OSError:
            continue
    return lines


def kill_tree(proc):
    """SIGKILL to every process of the run's group, then wait until none is left."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(30)
    deadline = time.monotonic() + 30
    while group_pids(proc.pid):
        assert time.monotonic() < deadline, "processes of the killed run stayed: %s" % group_cmdlines(proc.pid)
        time.sleep(0.01)


# --- one run of the command-line entry -------------------------------------

class Case:
    """A private data dir, its backup dir, and the CLI to run on it."""

    def __init__(self, tmp_path, pristine, target, bin_dir=None):
        self.root = tmp_path
        self.data = tmp_path / "data"
        self.data.parent.mkdir(parents=True, exist_ok=True)
        copy_tree(pristine, self.data)
        self.backups = tmp_path / "backups"
        self.target = target
        self.bin_dir = str(bin_dir or BIN_ROOT)
        self.port = free_port()
        self.extra = []

    def command(self):
        return [sys.executable, str(CLI), "--data-dir", str(self.data), "--target-version", self.target,
                "--bin-dir", self.bin_dir, "--client-port", str(self.port),
                "--listen-peer-urls", "http://127.0.0.1:%d" % free_port(),
                "--backup-dir", str(self.backups), "--backups-to-keep", "1"] + self.extra

    def killed_at_syscall(self, syscall, nth, expect):
        """Run under strace, SIGKILLed on entry to the ``nth`` ``syscall``, which must name ``expect``."""
        trace = self.root / ("trace-%s-%d" % (syscall, nth))
        proc = subprocess.Popen(["strace", "-qq", "-o", str(trace), "-e", "trace=%s" % syscall,
                                 "-e", "inject=%s:signal=KILL:when=%d" % (syscall, nth)] + self.command(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        _out, err = proc.communicate(timeout=600)
        kill_tree(proc)
        calls = [line for line in trace.read_text().splitlines() if line.startswith(syscall + "(")]
        assert calls and calls[-1].endswith("= ?"), "the run was not killed at %s #%d: %s" % (
            syscall, nth, err.decode()[-2000:])
        assert len(calls) == nth and expect in calls[-1], "killed at %r, expected a call on %r" % (calls[-1], expect)
        return calls[-1]

    def killed_when(self, what, predicate, must=True):
        """Run and SIGKILL the whole tree as soon as ``predicate(pgid)`` holds (``must`` False: None when the run
        ended before it did)."""
        proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            while proc.poll() is None:
                if predicate(proc.pid):
                    kill_tree(proc)
                    return what
                time.sleep(0.003)
            if not must:
                return None
            pytest.fail("the run ended (rc %s) before %s: %s" % (proc.returncode, what, proc.stderr.read()[-2000:]))
        finally:
            if proc.poll() is None:
                kill_tree(proc)

    def run(self):
        return subprocess.run(self.command(), capture_output=True, text=True, timeout=600, check=False)

    def leftovers(self):
        places = [self.data, self.backups] + [Path(p) for p in (self.data / "member").glob("*") if p.is_symlink()]
        return [str(p) for place in places if place.exists() for p in place.iterdir()
                if any(mark in p.name for mark in LEFTOVER_MARKS)]


# --- predicates on what the run does ---------------------------------------

def etcd_running(version):
    return lambda pgid: any(cmd[0].endswith("/%s/etcd" % version) for cmd in group_cmdlines(pgid))


def answering(case, version, cluster_version=None):
    """The run's etcd of ``version`` answers /version (with ``cluster_version``, when given)."""
    def predicate(pgid):
        if not etcd_running(version)(pgid):
            return False
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/version" % case.port, timeout=0.5) as resp:
                info = json.load(resp)
        except (OSError, ValueError):
            return False
        return info["etcdserver"] == version and cluster_version in (None, info["etcdcluster"])
    return predicate


def new_snap(case, version):
    before = set(os.listdir(case.data / "member" / "snap"))
    return lambda pgid: etcd_running(version)(pgid) and any(
        n.endswith(".snap") and n not in before for n in os.listdir(case.data / "member" / "snap"))


def file_appears(directory, suffix):
    return lambda pgid: directory.exists() and any(n.endswith(suffix) for n in os.listdir(directory))


# --- the scenarios, and where their syscalls fall -----------------------------

TRACED = "mkdir,rename,unlink,unlinkat,sendfile"


def upgrade(written_by, tmp_path):
    """3.4.23 -> newest 3.5, keeping one backup, with an older backup of this data dir to prune."""
    written = written_by("3.4.23")
    case = Case(tmp_path, written[1], etcd_version("3.5"))
    Backups(DataDir(str(case.data)), str(case.backups)).create(written[0], keep=3)
    return case, written


def snapshot_downgrade(written_by, tmp_path):
    written = written_by("3.5")
    return Case(tmp_path, written[1], "3.4.23"), written


def failed_hop(written_by, tmp_path):
    """3.4.23 -> 3.6 with a 3.6 etcd that crashes: the hop fails and the backup is put back."""
    written = written_by("3.4.23")
    target = etcd_version("3.6")
    return Case(tmp_path, written[1], target, bin_dir=broken_bin_dir(tmp_path, target, [etcd_version("3.5"), target])), \
        written


SCENARIOS = {"upgrade": upgrade, "snapshot_downgrade": snapshot_downgrade, "failed_hop": failed_hop}


@pytest.fixture(scope="module")
def syscalls(written_by, tmp_path_factory):
    """``syscalls(scenario)``: the traced calls of a whole run of the scenario, in order, made once."""
    traces = {}

    def trace(name):
        if name not in traces:
            case, _written = SCENARIOS[name](written_by, tmp_path_factory.mktemp("calibrate-" + name))
            out = case.root / "trace"
            subprocess.run(["strace", "-qq", "-o", str(out), "-e", "trace=" + TRACED] + case.command(),
                           capture_output=True, timeout=600, check=False)
            traces[name] = [line for line in out.read_text().splitlines() if "(" in line and line[0].isalpha()]
        return traces[name]
    return trace


def nth_call(calls, syscall, expect, after=None):
    """The position among ``syscall``'s calls of the first one naming ``expect`` (after one naming ``after``)."""
    seen_after, count = after is None, 0
    for line in calls:
        if line.startswith(syscall + "("):
            count += 1
            if seen_after and expect in line:
                return count
        if after is not None and after in line:
            seen_after = True
    where = " after %r" % after if after else ""
    raise AssertionError("no %s call on %r%s in the run: %s" % (syscall, expect, where, calls))


def converge(case, written, expect_restore):
    """Run until a run succeeds (at most three); then every key, revision, lease and the compaction are there."""
    _version, _pristine, marks, before = written
    for _attempt in range(3):
        result = case.run()
        if result.returncode == 0:
            break
    assert result.returncode == 0, result.stderr
    assert ("previous run died" in result.stderr) == expect_restore, result.stderr
    assert (case.data / "version.txt").read_text() == "%s/etcd3" % case.target
    assert not (case.data / ".etcd-migrate-inflight.json").exists()
    assert case.leftovers() == []
    assert len(Backups(DataDir(str(case.data)), str(case.backups)).existing()) == 1  # retention re-applied
    after, info, _header = state_on(case.target, case.data, case.root, marks)
    assert info["etcdserver"] == case.target
    assert after["kvs"] == before["kvs"] and after["revision"] == before["revision"]
    assert after["lease"] == before["lease"]
    assert after["below_compaction_refused"] and after["at_compaction"] == before["at_compaction"]
    return result


# --- kills at syscalls -------------------------------------------------------

# (scenario, syscall, the call names this, after a call naming this, the moment)
SYSCALL_MOMENTS = [
    ("upgrade", "mkdir", '.partial"', None, "the backup starts"),
    ("upgrade", "sendfile", "", '.partial"', "the backup copies the WAL"),
    ("upgrade", "sendfile", "", "partial/member/snap", "the backup copies the db"),
    ("upgrade", "rename", ".etcd-migrate-backup.json", None, "the backup's manifest is written"),
    ("upgrade", "rename", '.partial"', None, "the backup is published"),
    ("upgrade", "rename", ".etcd-migrate-inflight.json", None, "the marker is written"),
    ("upgrade", "rename", "version.txt", None, "the hop is recorded in version.txt"),
    ("upgrade", "unlink", ".etcd-migrate-inflight.json", None, "the marker is removed after the hop"),
    ("upgrade", "rename", ".deleting", None, "the old backup is renamed for pruning"),
    ("upgrade", "unlinkat", "", ".deleting", "the old backup is half deleted"),
    ("snapshot_downgrade", "rename", "replaced-member", None, "the old member dir is moved aside"),
    ("snapshot_downgrade", "rename", "restored/member", None, "the restored member dir is renamed into place"),
    ("failed_hop", "mkdir", ".etcd-migrate-restore", None, "the restore starts staging"),
    ("failed_hop", "sendfile", "", ".etcd-migrate-restore", "the restore copies into staging"),
    ("failed_hop", "rename", ".etcd-migrate-restore/member", None, "the staged member is swapped in"),
    ("failed_hop", "unlink", ".etcd-migrate-inflight.json", '.etcd-migrate-restore"', "the marker is removed after the restore"),
]


@pytest.mark.parametrize("scenario,syscall,expect,after,moment", SYSCALL_MOMENTS, ids=[m[4] for m in SYSCALL_MOMENTS])
def test_killed_at_a_syscall_converges(written_by, syscalls, tmp_path, scenario, syscall, expect, after, moment):
    case, written = SCENARIOS[scenario](written_by, tmp_path)
    case.killed_at_syscall(syscall, nth_call(syscalls(scenario), syscall, expect, after), expect)
    case.bin_dir = str(BIN_ROOT)  # after a failed hop, the operator puts a good binary in place
    converge(case, written, expect_restore=(case.data / ".etcd-migrate-inflight.json").exists())


# --- kills while etcd works --------------------------------------------------

def test_upgrade_killed_when_the_hops_etcd_starts(written_by, tmp_path):
    case, written = upgrade(written_by, tmp_path)
    case.killed_when("the hop's etcd starts", etcd_running(case.target))
    converge(case, written, expect_restore=True)


def test_upgrade_killed_when_the_hops_etcd_answers(written_by, tmp_path):
    case, written = upgrade(written_by, tmp_path)
    case.killed_when("the hop's etcd answers", answering(case, case.target))
    converge(case, written, expect_restore=True)


def test_upgrade_killed_at_the_forced_snapshot(written_by, tmp_path):
    case, written = upgrade(written_by, tmp_path)
    case.killed_when("the forced snapshot", new_snap(case, case.target))
    converge(case, written, expect_restore=True)


def test_snapshot_downgrade_killed_when_the_snapshot_is_saved(written_by, tmp_path):
    case, written = snapshot_downgrade(written_by, tmp_path)
    case.killed_when("the snapshot is saved", file_appears(case.data / ".etcd-migrate-work", ".db"))
    converge(case, written, expect_restore=True)


def test_snapshot_downgrade_killed_when_the_target_proves_the_data(written_by, tmp_path):
    case, written = snapshot_downgrade(written_by, tmp_path)
    case.killed_when("the target proves the data", etcd_running("3.4.23"))
    converge(case, written, expect_restore=True)


@pytest.mark.parametrize("moment", ["the downgrade API lowered the cluster version", "the target finishes the downgrade"])
def test_api_downgrade_killed_converges(written_by, tmp_path, moment):
    written = written_by("3.7")
    target = etcd_version("3.6")
    # The lowered cluster version shows for a few of the run's polls before it stops that member: on a loaded
    # machine one run can pass it between two of the test's, so up to three runs, each on a fresh copy.
    for attempt in range(3):
        case = Case(tmp_path / ("run-%d" % attempt), written[1], target)
        lowered = answering(case, written[0], cluster_version=target.rsplit(".", 1)[0] + ".0")
        if case.killed_when(moment, lowered if moment.startswith("the downgrade API") else etcd_running(target),
                            must=attempt == 2):
            break
    converge(case, written, expect_restore=True)


def test_kills_in_a_row_during_the_recovery_converge(written_by, tmp_path):
    case, written = upgrade(written_by, tmp_path)
    case.killed_when("the hop's etcd answers", answering(case, case.target))
    case.killed_at_syscall("mkdir", 1, ".etcd-migrate-restore")  # the re-run's recovery starts staging
    case.killed_at_syscall("rename", 1, ".etcd-migrate-restore/member")  # the next one's swap
    converge(case, written, expect_restore=True)


def test_without_a_backup_a_kill_mid_step_is_refused_and_the_scratch_copies_kept(written_by, tmp_path):
    """backup: false has nothing to put back: the next run must refuse, not take the half-moved data for empty."""
    written = written_by("3.5")
    case = Case(tmp_path, written[1], "3.4.23")
    case.extra = ["--no-backup"]
    case.killed_at_syscall("rename", nth_call(syscalls_of(case), "rename", "restored/member"), "restored/member")
    again = case.run()
    assert again.returncode == 1 and "backup: false died during downgrade-snapshot" in again.stderr
    work = case.data / ".etcd-migrate-work"
    assert (work / "replaced-member" / "snap" / "db").exists() and (work / "restored" / "member").exists()
    assert (case.data / ".etcd-migrate-inflight.json").exists()


def syscalls_of(case):
    """The traced calls of a whole run of ``case`` on a copy of its data."""
    dry = Case(case.root / "dry", case.data, case.target, case.bin_dir)
    dry.extra = ["--no-backup"]
    out = case.root / "dry-trace"
    subprocess.run(["strace", "-qq", "-o", str(out), "-e", "trace=" + TRACED] + dry.command(),
                   capture_output=True, timeout=600, check=False)
    return [line for line in out.read_text().splitlines() if "(" in line and line[0].isalpha()]
