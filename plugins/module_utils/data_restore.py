# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""A member's data dir replaced by a snapshot's restore, in phases that a kill at any moment cannot cost data.

``prepare`` (the member runs): refuse when the data dir's filesystem lacks twice the snapshot plus a WAL segment;
restore the snapshot with its version's tool into ``<staging>.partial`` on the data's filesystem, verify it (the
restored db is at the snapshot's revision and has a WAL), write ``version.txt``, give it the owner and 0700, fsync
it, rename it to ``<staging>``, then write the journal (step ``staged``). ``swap`` (the member is stopped): journal
step ``aside``, the live data goes aside, step ``in``, the staged data takes its place, step ``swapped``.
``finish`` (the cluster is verified): the journal goes.

Places (``D`` the data dir, ``P`` its parent):

- ``D`` is not a mount point: staging ``P/.D.restore-staged``, journal ``P/.D.restore.json``; ``D`` is renamed to
  ``D.before-restore-STAMP`` and the staging to ``D`` (two renames).
- ``D`` is a mount point (it cannot be renamed): staging ``D/.restore-staged``, journal ``D/.restore.json``; each
  entry of ``D`` (but ``lost+found``, our own names and earlier ``.before-restore-*``) is renamed into
  ``D/.before-restore-STAMP``, then each entry of the staging into ``D`` (one rename per entry).

Crash invariant (the whole process tree killed at any moment, then the same phase run again):

- The live data is never written: until the journal says ``aside`` it is where etcd reads it, whole; after that
  it is whole in the aside place or, mid-way through a mount point's entries, split between ``D`` and the aside
  place by renames only, and the journal's step says which entries are old: a re-run moves the rest.
- The snapshot's data counts only once ``<staging>`` exists and the journal names it (step ``staged`` or later);
  a ``.partial`` staging, or a staging without a journal, is the restore of a killed run: removed and redone.
- Every rename is followed by a directory fsync, every journal write is atomic (temp file, fsync, rename), and a
  step is written only when the renames of the step before it are done, so a re-run knows from the journal and
  what exists (each rename is idempotent to check: its source gone, its target there) where to go on.
- The STAMP is the journal's on every re-run, never a new clock read: a killed restore keeps one aside place.
- A journal for another snapshot or member settings stops ``prepare`` while its swap has begun (a person
  decides); before the swap, its staging is discarded and the new snapshot staged.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import shutil
import time

from .datadir import (DB_PATH, SYSTEM_PATHS, TOLERATED, WAL_SEGMENT_BYTES, DataDir, _fsync_dir, _fsync_tree, _sha256,
                      atomic_write, check_space, tree_size)
from .etcd_process import Toolset
from .member_switch import _owner_ids
from .versions import MigrationError

JOURNAL_STEPS = ("staged", "aside", "in", "swapped")
STAMP_PATTERN = re.compile(r"^\d{8}T\d{6}Z$")
ASIDE_PATTERN = re.compile(r"^\.?[^/]*before-restore-\d{8}T\d{6}Z$")


def _noop(_point):
    return None


class DataRestore:
    """One member's restore. ``checkpoint(point)`` is called at each moment the crash invariant names."""

    def __init__(self, data_dir, snapshot, bin_dir, version, name, initial_cluster, initial_cluster_token,
                 initial_advertise_peer_urls, stamp=None, owner=None, group=None, checkpoint=_noop):
        self.data_dir = os.path.abspath(data_dir).rstrip(os.sep) or os.sep
        self.snapshot = snapshot
        self.tools = Toolset(bin_dir, version)
        self.version = version
        self.settings = dict(name=name, initial_cluster=initial_cluster, initial_cluster_token=initial_cluster_token,
                             initial_advertise_peer_urls=initial_advertise_peer_urls, version=version)
        self.owner, self.group = owner, group
        self.checkpoint = checkpoint
        self.mounted = os.path.ismount(self.data_dir)
        parent, base = os.path.split(self.data_dir)
        if self.mounted:
            self.staging = os.path.join(self.data_dir, ".restore-staged")
            self.journal_path = os.path.join(self.data_dir, ".restore.json")
        else:
            self.staging = os.path.join(parent, ".%s.restore-staged" % base)
            self.journal_path = os.path.join(parent, ".%s.restore.json" % base)
        self.partial = self.staging + ".partial"
        self.stamp = stamp or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        self._identity = None

    # -- where things are --------------------------------------------------------------------------------------------

    @property
    def aside(self):
        if self.mounted:
            return os.path.join(self.data_dir, ".before-restore-%s" % self.stamp)
        return "%s.before-restore-%s" % (self.data_dir, self.stamp)

    @property
    def place(self):
        """The directory the staging, the journal and (for a mount point) the aside place live in."""
        return self.data_dir if self.mounted else os.path.dirname(self.data_dir)

    def is_own(self, name):
        """The restore's own entries in a mount point's data dir (with a killed journal write's temp file)."""
        journal = os.path.basename(self.journal_path)
        return (name in (os.path.basename(self.staging), os.path.basename(self.partial), journal)
                or name.startswith(journal + ".tmp."))

    def identity(self):
        """What a staged restore is of: the snapshot's content and the member's settings."""
        if self._identity is None:
            self._identity = dict(self.settings, snapshot_sha256=_sha256(self.snapshot), snapshot=self.snapshot)
        return self._identity

    def read_journal(self):
        if not os.path.lexists(self.journal_path):
            return None
        try:
            with open(self.journal_path) as handle:
                journal = json.load(handle)
            if journal.get("step") not in JOURNAL_STEPS or not STAMP_PATTERN.match(journal.get("stamp", "")):
                raise ValueError("unknown step or stamp")
        except (IOError, OSError, ValueError) as error:
            raise MigrationError("the restore journal %s is unreadable (%s): look at %s and %s.before-restore-* to "
                                 "see which holds the member's data, then remove the journal. Nothing was changed"
                                 % (self.journal_path, error, self.data_dir, self.data_dir))
        return journal

    def _same(self, journal, content=True):
        """Whether the journal is of this restore; ``content=False`` (the swap, in the downtime) compares the
        settings and not the snapshot's hash, which ``prepare`` compared just before."""
        ours = self.identity() if content else self.settings
        return all(journal.get(key) == ours[key] for key in ours if key != "snapshot")

    def _write_journal(self, step, journal=None):
        """The journal at ``step``: a new one from this restore's identity, or ``journal`` moved on."""
        atomic_write(self.journal_path, json.dumps(dict(journal or self.identity(), step=step, stamp=self.stamp),
                                                   sort_keys=True))
        self.checkpoint("journal " + step)

    def result(self, changed, step, **extra):
        result = dict(changed=changed, step=step, stamp=self.stamp, data_dir=self.data_dir, aside=self.aside,
                      staging=self.staging, journal=self.journal_path, mount_point=self.mounted)
        result.update(extra)
        return result

    # -- prepared ------------------------------------------------------------------------------------------------

    def problems(self):
        """What makes the restore impossible before anything is written."""
        if os.path.islink(self.data_dir):
            return ("%s is a symlink: give the directory it points to as the data dir (etcd's --data-dir), so the "
                    "restore renames the data and not the link" % self.data_dir)
        if not os.path.isdir(self.data_dir):
            return "%s is not a directory: give the member's --data-dir" % self.data_dir
        if os.path.realpath(self.data_dir) in SYSTEM_PATHS:
            return ("%s is a system directory, not an etcd data dir: give the member's --data-dir (such as "
                    "/var/lib/etcd)" % self.data_dir)
        # The swap moves everything in the data dir aside: a mistyped path must not take a directory of other files.
        foreign = [name for name in DataDir(self.data_dir).foreign_entries()
                   if not (self.is_own(name) or ASIDE_PATTERN.match(name))]
        if foreign:
            return ("%s holds %s, which etcd does not write: it is not a member's data dir. Give the member's "
                    "--data-dir (it holds member/ only), or move those entries away"
                    % (self.data_dir, ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")))
        if not os.access(self.tools.path("etcdutl"), os.X_OK) and not os.access(self.tools.path("etcdctl"), os.X_OK):
            return "no etcdutl or etcdctl of etcd %s in %s: install that version" % (self.version, self.tools.dir)
        if not self.mounted and os.stat(self.data_dir).st_dev != os.stat(self.place).st_dev:
            return ("%s is on another filesystem than its parent but not a mount point (a bind mount?): the restore "
                    "cannot stage beside it; mount it properly or give its mount point" % self.data_dir)
        try:
            _owner_ids(self.owner, self.group)
        except KeyError as error:
            return "no such user or group %s on the host" % error
        return None

    def prepare(self, check_mode=False):
        if not os.path.isfile(self.snapshot):
            raise MigrationError("Nothing was changed: the snapshot %s is not a file on the member." % self.snapshot)
        journal = self.read_journal()
        if journal and journal["step"] != "staged":
            if not self._same(journal):
                raise MigrationError(
                    "Nothing was changed: a restore from %s (another snapshot or member settings) is being swapped "
                    "in on %s (journal %s, step %s): run it again with that snapshot to finish it, or compare %s with "
                    "%s, keep the member's data as %s and remove the journal"
                    % (journal.get("snapshot"), self.data_dir, self.journal_path, journal["step"], self.data_dir,
                       self._aside_of(journal), self.data_dir))
            self.stamp = journal["stamp"]
            return self.result(False, journal["step"], resuming=True)
        problem = self.problems()
        if problem:
            raise MigrationError("Nothing was changed: %s." % problem)
        if journal and self._same(journal) and os.path.isdir(self.staging):
            self.stamp = journal["stamp"]
            return self.result(False, "staged", resuming=False)
        if os.path.lexists(self.aside):
            raise MigrationError("Nothing was changed: %s exists already; wait a second and run again (the stamp is "
                                 "the time), or move it away" % self.aside)
        size = os.path.getsize(self.snapshot)
        needed = 2 * size + WAL_SEGMENT_BYTES
        # Our own leftovers of a killed or superseded run are not data: their room counts as free.
        leftovers = [p for p in (self.partial, self.staging) if os.path.isdir(p)]
        reclaimable = sum(tree_size(p) for p in leftovers)
        try:
            check_space(self.place, needed - reclaimable, "staging the restore of %s (twice its %d bytes plus a "
                        "64 MB WAL segment)" % (self.snapshot, size))
        except MigrationError as error:
            raise MigrationError("Nothing was stopped or changed: %s" % error)
        if check_mode:
            return self.result(True, None, resuming=False)
        if journal:
            os.unlink(self.journal_path)
        for path in leftovers:
            shutil.rmtree(path)
        started = time.monotonic()
        self._stage()
        return self.result(True, "staged", resuming=False, seconds=round(time.monotonic() - started, 3))

    def _aside_of(self, journal):
        saved, self.stamp = self.stamp, journal["stamp"]
        try:
            return self.aside
        finally:
            self.stamp = saved

    def _stage(self):
        tool = "etcdutl" if self.tools.has_etcdutl else "etcdctl"
        settings = self.settings
        restore = self.tools.run(tool, ["snapshot", "restore", self.snapshot, "--name", settings["name"],
                                        "--initial-cluster", settings["initial_cluster"],
                                        "--initial-cluster-token", settings["initial_cluster_token"],
                                        "--initial-advertise-peer-urls", settings["initial_advertise_peer_urls"],
                                        "--data-dir", self.partial], timeout=3600, check=False)
        if restore.returncode != 0:
            # A failed tool leaves half a member dir: it goes, and the tool's last line says why.
            shutil.rmtree(self.partial, ignore_errors=True)
            lines = (restore.stderr or restore.stdout).strip().splitlines() or ["exit %d" % restore.returncode]
            raise MigrationError("Nothing was changed: %s %s cannot restore the snapshot %s (%d bytes): %s. A "
                                 "truncated, damaged or incomplete copy, or a file that is not an etcd snapshot, "
                                 "fails so: take the snapshot again (etcdctl snapshot save) or copy it whole"
                                 % (tool, self.version, self.snapshot, os.path.getsize(self.snapshot),
                                    lines[-1].strip()))
        self.checkpoint("restored")
        self._verify(tool)
        with open(os.path.join(self.partial, "version.txt"), "w") as handle:
            handle.write("%s/etcd3" % self.version)
        self._give_to_owner(self.partial)
        _fsync_tree(self.partial)
        os.rename(self.partial, self.staging)
        _fsync_dir(self.place)
        self.checkpoint("renamed staged")
        self._write_journal("staged")

    def _verify(self, tool):
        def status(path):
            return json.loads(self.tools.run(tool, ["snapshot", "status", path, "-w", "json"]).stdout)
        wanted = status(self.snapshot)["revision"]
        restored = status(os.path.join(self.partial, "member", "snap", "db"))["revision"]
        wal = os.path.join(self.partial, "member", "wal")
        if restored != wanted or not [n for n in os.listdir(wal) if n.endswith(".wal")]:
            raise MigrationError("Nothing was changed: the restore of %s in %s is at revision %s, not the snapshot's "
                                 "%s, or has no WAL; the snapshot or the tool of etcd %s is damaged"
                                 % (self.snapshot, self.partial, restored, wanted, self.version))

    def _give_to_owner(self, root):
        """The etcd user's, 0700 directories and no access for others (as etcd recommends)."""
        uid, gid = _owner_ids(self.owner, self.group)
        for directory, _dirs, files in os.walk(root):
            os.chown(directory, uid, gid)
            os.chmod(directory, 0o700)
            for name in files:
                path = os.path.join(directory, name)
                os.chown(path, uid, gid)
                os.chmod(path, os.stat(path).st_mode & 0o700)

    # -- swapped -------------------------------------------------------------------------------------------------

    def swap(self, check_mode=False):
        journal = self.read_journal()
        if journal is None or not self._same(journal, content=False):
            raise MigrationError("Nothing was changed: no restore of %s is staged for %s (journal %s): run the "
                                 "prepared phase first" % (self.snapshot, self.data_dir, self.journal_path))
        self.stamp = journal["stamp"]
        step = journal["step"]
        if step == "swapped":
            return self.result(False, step)
        if step == "staged" and not os.path.isdir(self.staging):
            raise MigrationError("Nothing was changed: the journal %s says staged but %s is missing: remove the "
                                 "journal and run the prepared phase again" % (self.journal_path, self.staging))
        if step in ("staged", "aside") and DataDir(self.data_dir).held_by_other_process():
            raise MigrationError("Nothing was changed: etcd still runs on %s (its db is locked): stop the member "
                                 "before the swap" % self.data_dir)
        if check_mode:
            return self.result(True, step)
        started = time.monotonic()
        if step == "staged":
            self._write_journal("aside", journal)
            step = "aside"
        if step == "aside":
            self._move_aside()
            self._write_journal("in", journal)
        self._move_in()
        # The journal says "swapped" only over the restored data: a staging that vanished must not start etcd on
        # an empty data dir.
        if not os.path.isfile(os.path.join(self.data_dir, DB_PATH)):
            raise MigrationError("the restored data is not in %s (no %s) and the staging %s is gone (something else "
                                 "removed it): the member's previous data is kept in %s; put it back as %s, delete "
                                 "the journal %s, then run the restore again"
                                 % (self.data_dir, DB_PATH, self.staging, self.aside, self.data_dir,
                                    self.journal_path))
        self._write_journal("swapped", journal)
        return self.result(True, "swapped", seconds=round(time.monotonic() - started, 3))

    def _rename(self, source, target, point):
        """One rename of the swap, made durable; a target that exists was written by something else."""
        if os.path.lexists(target):
            raise self._conflict(source, target)
        os.rename(source, target)
        _fsync_dir(os.path.dirname(target))
        if os.path.dirname(source) != os.path.dirname(target):
            _fsync_dir(os.path.dirname(source))
        self.checkpoint(point)

    def _move_aside(self):
        if not self.mounted:
            if os.path.lexists(self.data_dir):
                self._rename(self.data_dir, self.aside, "renamed aside")
            return
        if not os.path.isdir(self.aside):
            os.mkdir(self.aside, 0o700)
        for name in sorted(os.listdir(self.data_dir)):
            if not (self.is_own(name) or name in TOLERATED or ASIDE_PATTERN.match(name)):
                self._rename(os.path.join(self.data_dir, name), os.path.join(self.aside, name), "renamed aside")

    def _move_in(self):
        if not self.mounted:
            if os.path.lexists(self.staging):
                self._rename(self.staging, self.data_dir, "renamed in")
            return
        if os.path.isdir(self.staging):
            for name in sorted(os.listdir(self.staging)):
                self._rename(os.path.join(self.staging, name), os.path.join(self.data_dir, name), "renamed in")
            os.rmdir(self.staging)
        uid, gid = _owner_ids(self.owner, self.group)
        os.chown(self.data_dir, uid, gid)
        os.chmod(self.data_dir, 0o700)
        _fsync_dir(self.data_dir)

    def _conflict(self, source, target):
        return MigrationError("the restore cannot rename %s to %s: the target exists, which no run of the restore "
                              "leaves (something else wrote it). Compare them, keep the member's data, then run "
                              "again; the journal %s says where the swap stopped" % (source, target, self.journal_path))

    # -- finished ------------------------------------------------------------------------------------------------

    def finish(self, check_mode=False):
        journal = self.read_journal()
        if journal is None:
            return self.result(False, None)
        self.stamp = journal["stamp"]
        if journal["step"] != "swapped":
            raise MigrationError("Nothing was changed: the restore of %s is at step %s, not swapped (journal %s): "
                                 "run the swapped phase first" % (self.data_dir, journal["step"], self.journal_path))
        if not check_mode:
            os.unlink(self.journal_path)
            # A journal write killed before its rename leaves its temp file.
            prefix = os.path.basename(self.journal_path) + ".tmp."
            for name in os.listdir(self.place):
                if name.startswith(prefix):
                    os.unlink(os.path.join(self.place, name))
            _fsync_dir(self.place)
        return self.result(True, None)
