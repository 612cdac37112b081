# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""An etcd data directory: its version.txt, its locks, its mode, its WAL location and its backups.

Crash consistency, the invariant every data-changing path keeps:

  At every instant a complete copy of the member's data exists: the data dir
  itself (with its WAL, wherever that lives) or a complete, fsynced backup.
  The in-flight marker says which one is authoritative.

- A backup is copied to ``<name>.partial``, fsynced, its manifest written
  last, then renamed to its final name: a backup without ``.partial`` is
  complete, and its manifest proves it.
- The marker (naming that backup) is written, fsynced, before a step changes
  data, and removed only once the step is recorded in ``version.txt``.
- A restore copies the backup into a staging directory inside each location
  (same filesystem, so the data dir may be a mount point), fsyncs it, swaps
  it in with renames, and removes the marker last.  A run killed anywhere in
  a restore finds the marker and restores again from the untouched backup.
- A marker whose backup is missing or incomplete is refused: nothing is
  touched and the message says what to do.
- Every temporary path carries a name the next run recognises and removes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import stat
import time

from .detect import safe_detect
from .versions import MigrationError, Versioned, check_storage, parse_version

VERSION_FILE = "version.txt"
# Written before a step that changes data, removed once it is recorded: its
# presence at start means a run died mid-step and the backup must be restored.
INFLIGHT_FILE = ".etcd-migrate-inflight.json"
# Scratch space of a run (logs, snapshots, restored or rebuilt member dirs).
WORK_DIR = ".etcd-migrate-work"
# A restore's copy of the backup, swapped in once complete.
STAGING_DIR = ".etcd-migrate-restore"
# Inside a backup: where its data came from and what it holds, written last.
BACKUP_MANIFEST = ".etcd-migrate-backup.json"
# etcd_member_switch's marker of a switch under way (member_switch.py): the version record to go back to.
SWITCH_MARKER = VERSION_FILE + ".previous"
OWN_NAMES = (VERSION_FILE, INFLIGHT_FILE, WORK_DIR, STAGING_DIR, SWITCH_MARKER)
# atomic_write's temporary files, "<file>.tmp.<pid>", and the member switch's, "<file>.tmp"; and Kubernetes'
# migrate's "version.txt-next", which it renames over version.txt: a kill or a full disk in between leaves it.
OWN_TEMP = re.compile(r"^((%s|%s|%s)\.tmp(\.\d+)?|%s-next)$"
                      % (re.escape(VERSION_FILE), re.escape(INFLIGHT_FILE), re.escape(SWITCH_MARKER),
                         re.escape(VERSION_FILE)))
# What a mount point brings with it.
TOLERATED = ("lost+found",)
DB_PATH = os.path.join("member", "snap", "db")
# etcd's wal.SegmentSizeBytes: each WAL segment is preallocated to this size.
WAL_SEGMENT_BYTES = 64 * 1000 * 1000
WAL_REL = os.path.join("member", "wal")
# A version.txt is a few bytes; anything bigger is not one and is never echoed.
VERSION_FILE_MAX = 256
SYSTEM_PATHS = ("/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/media", "/mnt", "/opt",
                "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/usr/bin", "/usr/lib",
                "/usr/local", "/usr/local/bin", "/usr/sbin", "/var", "/var/lib", "/var/tmp", "/var/log")


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root):
    for directory, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            if os.path.islink(path):
                continue
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(directory)


def _remove(path):
    """Remove a file, a symlink (never what it points to) or a directory tree."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def atomic_write(path, content):
    """Write ``content`` (text) through a temp file, fsync, rename and directory fsync."""
    directory = os.path.dirname(path)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "w") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
    except (IOError, OSError):
        # A full disk: the half-written temp file goes, so the failed run leaves the directory as it was.
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    os.rename(tmp, path)
    _fsync_dir(directory)


def inside(path, root):
    """True when ``path`` is ``root`` or below it (both real paths)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def tree_size(path):
    """Bytes under ``path``, following symlinks as a backup does."""
    total = 0
    for directory, _dirs, files in os.walk(path, followlinks=True):
        for name in files:
            try:
                total += os.stat(os.path.join(directory, name)).st_size
            except OSError:
                continue
    return total


def free_bytes(path):
    """Free bytes for an unprivileged writer on the filesystem of ``path`` (its nearest existing parent)."""
    path = os.path.abspath(path)  # a relative path's parents end in "", which never exists
    while not os.path.exists(path):
        path = os.path.dirname(path)
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def mount_point(path):
    path = os.path.realpath(path)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    while not os.path.ismount(path):
        path = os.path.dirname(path)
    return path


def check_space(where, needed, what):
    """Refuse before writing ``needed`` bytes under ``where`` when they do not fit."""
    free = free_bytes(where)
    if needed > free:
        raise MigrationError("not enough space for %s: it needs %d bytes under %s, and the filesystem mounted at %s "
                             "has %d free; free %d bytes there or point it elsewhere"
                             % (what, needed, where, mount_point(where), free, needed - free))


class DataDir:
    """A member's data dir; ``wal_dir`` is etcd's ``--wal-dir`` when the WAL lives elsewhere."""

    def __init__(self, path, wal_dir=None):
        self.path = os.path.abspath(path)
        self.wal_dir = os.path.abspath(wal_dir) if wal_dir else None
        self._lock_fd = None

    # --- checks ---------------------------------------------------------

    def check_usable(self):
        """Fail clearly when the path is not a directory this process may use as a data dir."""
        real = os.path.realpath(self.path)
        if real in SYSTEM_PATHS:
            raise MigrationError("data_dir %s is a system directory, not an etcd data dir: point data_dir at etcd's "
                                 "--data-dir (such as /var/lib/etcd)" % self.path)
        if os.path.lexists(self.path) and not os.path.isdir(self.path):
            raise MigrationError("data_dir %s is not a directory: point data_dir at etcd's --data-dir" % self.path)
        if os.path.isdir(self.path) and not os.access(self.path, os.R_OK | os.W_OK | os.X_OK):
            raise MigrationError("data_dir %s is not readable and writable by this user: run as etcd's owner or root"
                                 % self.path)
        if self.wal_dir:
            wal = os.path.realpath(self.wal_dir)
            if wal in SYSTEM_PATHS or inside(real, wal) or inside(wal, real):
                raise MigrationError("wal_dir %s must be a directory of its own, neither the data dir, inside it, "
                                     "nor holding it: give etcd's --wal-dir, or leave wal_dir out when the WAL is in "
                                     "member/wal" % self.wal_dir)
            if os.path.lexists(self.wal_dir) and not os.path.isdir(self.wal_dir):
                raise MigrationError("wal_dir %s is not a directory: give etcd's --wal-dir" % self.wal_dir)

    def exists(self):
        return os.path.isdir(self.path)

    def foreign_entries(self):
        """Entries that neither etcd nor this module writes (a mount point's lost+found is tolerated)."""
        return sorted(name for name in os.listdir(self.path)
                      if name not in OWN_NAMES and name not in TOLERATED and name != "member"
                      and not OWN_TEMP.match(name))

    def is_empty(self):
        """True when there is no etcd data (our own bookkeeping files do not count)."""
        if not self.exists():
            return True
        return not [name for name in os.listdir(self.path)
                    if name not in OWN_NAMES and name not in TOLERATED and not OWN_TEMP.match(name)]

    def check_member_data(self):
        """Refuse a directory that holds anything but one member's etcd data."""
        foreign = self.foreign_entries()
        if foreign:
            raise MigrationError("%s holds %s, which etcd does not write: this is not a member's data dir. Point "
                                 "data_dir at etcd's --data-dir (it holds member/ only), or move those entries away"
                                 % (self.path, ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")))
        if os.path.islink(self.file("member")):
            raise MigrationError("%s/member is a symlink: etcd_migrate backs up and restores the directories inside "
                                 "member/ (such as member/wal) when they are symlinks, not member/ itself; link those "
                                 "instead, or point data_dir at the real directory" % self.path)
        if self.wal_dir and os.path.lexists(self.file(WAL_REL)):
            raise MigrationError("%s exists while wal_dir is %s: etcd uses wal_dir and ignores member/wal; move "
                                 "member/wal away once you know it is stale, or leave wal_dir out if it is the WAL"
                                 % (self.file(WAL_REL), self.wal_dir))
        missing = []
        if not os.path.isfile(self.file(DB_PATH)):
            missing.append(DB_PATH)
        wal = self.wal_path()
        if not (os.path.isdir(wal) and [n for n in os.listdir(wal) if n.endswith(".wal")]):
            missing.append("WAL segments in %s" % wal)
        if missing == [DB_PATH]:
            raise MigrationError("%s has a WAL but no %s: the data of etcd 2 or a member whose db was lost, which "
                                 "nothing here can migrate; restore the member from a backup or a snapshot (etcd 2 "
                                 "data goes to etcd 3.0 first)" % (self.path, DB_PATH))
        if missing:
            raise MigrationError("%s has member/ but no %s: it is not a complete member's data and nothing would "
                                 "migrate (a run would start a new, empty cluster). Restore the member's data, give "
                                 "wal_dir if etcd runs with --wal-dir, or empty the directory"
                                 % (self.path, " and no ".join(missing)))

    def wal_path(self):
        return self.wal_dir or self.file(WAL_REL)

    def file(self, *parts):
        return os.path.join(self.path, *parts)

    # --- locations: where the member's data lives ---------------------

    def locations(self):
        """``{relative path in a backup: (real path, symlink text or None)}`` for data outside the data dir.

        The WAL given as ``wal_dir`` and every symlink inside ``member/`` (the
        usual way to put the WAL on another disk) are backed up by content and
        restored into their targets.
        """
        found = {}
        member = self.file("member")
        if os.path.isdir(member) and not os.path.islink(member):
            for directory, dirs, files in os.walk(member):
                for name in list(dirs) + files:
                    path = os.path.join(directory, name)
                    if not os.path.islink(path):
                        continue
                    if not os.path.exists(path):
                        raise MigrationError("%s is a symlink to %s, which does not exist: mount or restore it, or "
                                             "remove the link" % (path, os.readlink(path)))
                    if not os.path.isdir(path):
                        raise MigrationError("%s is a symlink to a file: etcd_migrate backs up and restores data "
                                             "behind symlinked directories only (such as member/wal); link the "
                                             "directory instead" % path)
                    real = os.path.realpath(path)
                    if real in SYSTEM_PATHS or inside(os.path.realpath(self.path), real):
                        raise MigrationError("%s points to %s, which holds the data dir or the system: it cannot be "
                                             "backed up or restored; point it at a directory of its own" % (path, real))
                    found[os.path.relpath(path, self.path)] = (real, os.readlink(path))
        if self.wal_dir:
            found[WAL_REL] = (os.path.realpath(self.wal_dir), None)
        return found

    def ensure_owner(self):
        """Give every entry of the member's data the data dir's owner (a root run must not leave root's files).

        Returns True when an owner changed.
        """
        changed = False
        if os.geteuid() != 0:
            return changed
        owner = os.stat(self.path)
        places = [self.path] + [real for real, _link in self.locations().values()]
        for place in places:
            for directory, dirs, files in os.walk(place):
                for name in [""] + dirs + files:
                    path = os.path.join(directory, name) if name else directory
                    info = os.lstat(path)
                    if (info.st_uid, info.st_gid) != (owner.st_uid, owner.st_gid):
                        os.lchown(path, owner.st_uid, owner.st_gid)
                        changed = True
        return changed

    # --- what the member's files say -------------------------------------

    def member_ids(self):
        """(member ID, cluster ID) as the WAL records them, for proving who answers on a member's port."""
        found = safe_detect(self.path, wal_dir=self.wal_dir)
        if not found.get("member_id") or not found.get("cluster_id"):
            raise MigrationError("cannot read the member and cluster IDs from %s's WAL (%s)"
                                 % (self.path, found.get("error") or "no WAL metadata"))
        return int(found["member_id"], 16), int(found["cluster_id"], 16)

    def ready_for_next(self):
        """detect's ``ready_for_next``: for each later minor, whether it can start on the files as they are."""
        return safe_detect(self.path, wal_dir=self.wal_dir).get("ready_for_next", {})

    # --- version.txt ----------------------------------------------------

    def read_version_text(self):
        """version.txt's text, or None.

        Opened without following a symlink or blocking on a FIFO, and only when it is a regular file of a
        version's size: the file is in a directory etcd's user owns, and what it holds is never echoed.
        """
        path = self.file(VERSION_FILE)
        fix = "expected <version>/<storage> such as 3.5.30/etcd3: fix or remove it and give current_version"
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except (IOError, OSError) as exc:
            if exc.errno == errno.ENOENT:
                return None
            if exc.errno == errno.ELOOP:
                raise MigrationError("%s is a symlink, %s" % (path, fix))
            raise MigrationError("cannot read %s: %s" % (path, exc.strerror or exc))
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise MigrationError("%s is not a regular file, %s" % (path, fix))
            if info.st_size > VERSION_FILE_MAX:
                raise MigrationError("%s is %d bytes, %s" % (path, info.st_size, fix))
            raw = handle.read(VERSION_FILE_MAX + 1)
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise MigrationError("%s is not text, %s" % (path, fix))

    def read_version(self):
        """The Versioned pair version.txt records, or None when it is missing or empty: Kubernetes' migrate emptied it
        on a full disk (kubernetes#98989), and an empty file says nothing, so the data is read instead."""
        text = self.read_version_text()
        if text is None or not text.strip():
            return None
        path = self.file(VERSION_FILE)
        version, sep, storage = text.strip().partition("/")
        if not sep:
            raise MigrationError("%s: expected <version>/<storage> such as 3.5.30/etcd3 (what it holds is not shown): "
                                 "fix or remove it and give current_version" % path)
        try:
            return Versioned(parse_version(version, "version in %s" % path),
                             check_storage(storage, "storage in %s" % path))
        except MigrationError as exc:
            raise MigrationError("%s; fix or remove the file and give current_version" % exc)

    @staticmethod
    def format_version(version, storage):
        return str(Versioned(version, storage))

    def write_version(self, version, storage):
        """Record ``version/storage``; returns False when the file already said so."""
        content = self.format_version(version, storage)
        if self.read_version_text() == content:
            return False
        atomic_write(self.file(VERSION_FILE), content)
        return True

    # --- locks ----------------------------------------------------------

    def held_by_other_process(self):
        """True while etcd (or another bbolt user) has member/snap/db open and locked."""
        db = self.file(DB_PATH)
        if not os.path.exists(db):
            return False
        fd = os.open(db, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except (IOError, OSError) as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return True
            raise
        finally:
            os.close(fd)  # closing drops our probe lock
        return False

    def lock(self):
        """Take our own exclusive lock (on the directory itself) so two runs never overlap."""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (IOError, OSError):
            os.close(fd)
            raise MigrationError("another etcd_migrate run holds %s: wait for it to finish" % self.path)
        self._lock_fd = fd

    def unlock(self):
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # --- in-flight marker -----------------------------------------------

    def read_inflight(self):
        """The marker's content, or None; an unreadable marker is refused with what to do."""
        path = self.file(INFLIGHT_FILE)
        if not os.path.exists(path):
            return None
        try:
            with open(path) as handle:
                marker = json.loads(handle.read(65536))
            if not isinstance(marker, dict) or not isinstance(marker.get("backup"), (str, type(None))):
                raise ValueError("no backup named")
        except (ValueError, UnicodeDecodeError) as exc:
            raise MigrationError("%s says a previous run died in the middle of a step, but it is unreadable (%s): the "
                                 "data dir may be half-migrated and nothing was changed. Restore this data dir's "
                                 "newest backup (*.etcd-backup.*) by hand, then remove the marker"
                                 % (path, exc))
        return marker

    def mark_inflight(self, step, backup):
        atomic_write(self.file(INFLIGHT_FILE), json.dumps({"step": step, "backup": backup, "pid": os.getpid()}))

    def clear_inflight(self):
        path = self.file(INFLIGHT_FILE)
        if os.path.exists(path):
            os.unlink(path)
            _fsync_dir(self.path)

    # --- mode -----------------------------------------------------------

    def mode_differs(self, mode):
        return (os.stat(self.path).st_mode & 0o7777) != mode

    def ensure_mode(self, mode):
        """Set the directory's mode; returns True when it changed."""
        if not self.mode_differs(mode):
            return False
        os.chmod(self.path, mode)
        return True

    # --- scratch space and leftovers ------------------------------------

    def work_dir(self):
        """A fresh scratch directory inside the data dir (same filesystem; the next run removes it)."""
        path = self.file(WORK_DIR)
        _remove(path)
        os.mkdir(path, 0o700)
        return path

    def remove_leftovers(self):
        """Remove what a killed run left in the data dir and the WAL locations; returns the paths removed."""
        removed = []
        places = [self.path] + [real for real, _link in self.locations().values() if os.path.isdir(real)]
        for place in places:
            for name in os.listdir(place):
                if name in (WORK_DIR, STAGING_DIR) or OWN_TEMP.match(name):
                    _remove(os.path.join(place, name))
                    removed.append(os.path.join(place, name))
        return removed

    # --- contents -------------------------------------------------------

    def restore_from(self, backup):
        """Make the member's data exactly what ``backup`` holds, crash-safely (see the module docstring).

        The marker must be in place: it is what makes a killed restore start again.
        """
        manifest = Backups.verify(backup, self)
        locations = {}
        for rel, (real, link, identity) in manifest["locations"].items():
            # The same directory (device and inode), not an empty mount point left by a disk not mounted.
            if not os.path.isdir(real) or [os.stat(real).st_dev, os.stat(real).st_ino] != identity:
                raise MigrationError("%s, where this member's %s lived when %s was made, is missing or on another "
                                     "filesystem now (a disk not mounted?): nothing was changed; mount it and run "
                                     "again" % (real, rel, backup))
            locations[rel] = (real, link)
        places = [(backup, self.path, set(locations) | {BACKUP_MANIFEST}, locations)]
        places += [(os.path.join(backup, rel), real, set(), {}) for rel, (real, _link) in sorted(locations.items())]
        try:
            for source, place, skip, links in places:
                _stage(source, place, skip, links)
        except (IOError, OSError) as exc:
            if exc.errno != errno.ENOSPC:
                raise
            # The data being replaced is what frees the space; the backup stays authoritative.
            for source, place, skip, links in places:
                _clear_dir(place, keep=(INFLIGHT_FILE,) + TOLERATED)
            for source, place, skip, links in places:
                _stage(source, place, skip, links)
        for _source, place, _skip, _links in places:
            _swap_in(place)

    def replace_member(self, new_member):
        """Put a freshly built ``member/`` in place of the current one, keeping data behind symlinks and wal_dir where it lives.

        Called inside a step, under the marker: a kill here is recovered from the backup.
        """
        for rel, (real, link) in sorted(self.locations().items()):
            built = os.path.join(new_member, os.path.relpath(rel, "member"))
            if not os.path.isdir(built):
                continue
            _clear_dir(real, keep=TOLERATED)
            for name in os.listdir(built):
                os.rename(os.path.join(built, name), os.path.join(real, name))
            _fsync_dir(real)
            shutil.rmtree(built)
            if link is not None:
                os.symlink(link, built)
        old = self.file(WORK_DIR, "replaced-member")
        _remove(old)
        os.rename(self.file("member"), old)
        os.rename(new_member, self.file("member"))
        _fsync_dir(self.path)
        shutil.rmtree(old)


def _copy_tree(source, target, skip, links, follow=False):
    """Copy ``source``'s entries into the existing ``target``; at ``links`` paths recreate the symlink instead.

    ``follow`` copies what symlinks point to.  Owners are kept (when run as root).  Errors surface as the
    OSError of the call that failed.
    """
    as_root = os.geteuid() == 0

    def walk(rel):
        for name in os.listdir(os.path.join(source, rel)):
            if name in TOLERATED:  # a mount point's own, never part of a member's data
                continue
            sub = os.path.join(rel, name) if rel else name
            if sub in links:
                link = links[sub][1]
                if link is not None:
                    os.symlink(link, os.path.join(target, sub))
                continue
            if sub in skip:
                continue
            src, dst = os.path.join(source, sub), os.path.join(target, sub)
            if os.path.isdir(src) and (follow or not os.path.islink(src)):
                os.mkdir(dst)
                shutil.copystat(src, dst)
                walk(sub)
            else:
                shutil.copy2(src, dst, follow_symlinks=follow)
            if as_root:
                info = os.stat(src) if follow else os.lstat(src)
                os.lchown(dst, info.st_uid, info.st_gid)
    walk("")


def _clear_dir(path, keep=()):
    for name in os.listdir(path):
        if name not in keep:
            _remove(os.path.join(path, name))


def _stage(source, place, skip, links):
    """A complete, fsynced copy of ``source`` in ``place``'s staging directory."""
    staging = os.path.join(place, STAGING_DIR)
    _remove(staging)
    os.mkdir(staging, 0o700)
    _copy_tree(source, staging, skip, links)
    _fsync_tree(staging)


def _swap_in(place):
    """Replace ``place``'s entries (the marker and lost+found aside) with its staging directory's, by renames."""
    staging = os.path.join(place, STAGING_DIR)
    _clear_dir(place, keep=(INFLIGHT_FILE, STAGING_DIR) + TOLERATED)
    for name in os.listdir(staging):
        os.rename(os.path.join(staging, name), os.path.join(place, name))
    os.rmdir(staging)
    _fsync_dir(place)


def host_identity():
    """This machine's identity, so hosts sharing a backup_dir (NFS) never take each other's backups."""
    try:
        with open("/etc/machine-id") as handle:
            machine = handle.read().strip()
    except (IOError, OSError):
        machine = ""
    return {"machine_id": machine, "hostname": socket.gethostname()}


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Backups:
    """Full copies of one data dir in ``backup_dir``.

    Named ``<dir name>.<hash of host and real path>.etcd-backup.<UTC time>.v<version>``
    (the names sort by time, oldest first), each with a manifest naming the host and
    data dir it belongs to and every file with its size and sha256.  Only real
    directories with this data dir's name prefix and manifest are ever listed,
    pruned or restored.
    """

    def __init__(self, data_dir, backup_dir=None):
        self.data_dir = data_dir
        self.root = os.path.abspath(backup_dir or os.path.dirname(data_dir.path))
        self.owner = dict(host_identity(), data_dir=os.path.realpath(data_dir.path))
        identity = "\0".join([self.owner["machine_id"], self.owner["hostname"]]).encode("utf-8")
        self.path_hash = hashlib.sha256(identity + b"\0" + os.fsencode(self.owner["data_dir"])).hexdigest()[:10]
        self.prefix = "%s.%s.etcd-backup." % (os.path.basename(data_dir.path), self.path_hash)

    def check_placement(self):
        """The backup must not land inside the data it copies."""
        root = os.path.realpath(self.root)
        places = [os.path.realpath(self.data_dir.path)] + [real for real, _l in self.data_dir.locations().values()]
        for place in places:
            if inside(root, place):
                raise MigrationError("backup_dir %s is inside %s, so a backup would copy itself: choose a backup_dir "
                                     "outside the member's data (the default is the data dir's parent)"
                                     % (self.root, place))
        if os.path.lexists(self.root) and not os.path.isdir(self.root):
            raise MigrationError("backup_dir %s is not a directory: give a directory for the backups" % self.root)

    def _not_data(self):
        """Top-level entries of the data dir that a backup leaves out (version.txt is kept)."""
        return set(name for name in os.listdir(self.data_dir.path)
                   if (name in OWN_NAMES and name != VERSION_FILE) or name in TOLERATED or OWN_TEMP.match(name))

    def create(self, version_label, keep):
        """A complete, verified copy; older backups beyond ``keep`` - 1 go first, and it must fit."""
        if not os.path.isdir(self.root):
            os.makedirs(self.root, 0o700)
        # Retention counts the new copy: failed attempts in a row do not pile copies up on the disk.  The older
        # copies go only once the new one is known to fit in the room they leave: a refusal keeps them.
        locations = self.data_dir.locations()
        size = tree_size(self.data_dir.path) + (tree_size(self.data_dir.wal_dir) if self.data_dir.wal_dir else 0)
        freed = sum(tree_size(path) for path in self._beyond(keep - 1, protect=[]))
        check_space(self.root, size - freed, "the backup of %s (%d bytes, less the %d of its older backups that "
                    "backups_to_keep would remove; none was removed)" % (self.data_dir.path, size, freed))
        removed = self.prune(keep - 1, protect=[])
        now = time.time()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + "%06dZ" % (now % 1 * 1e6)
        final = os.path.join(self.root, "%s%s.v%s" % (self.prefix, stamp, version_label))
        if os.path.lexists(final):  # same microsecond: take the next one
            time.sleep(0.001)
            return self.create(version_label, keep)
        partial = final + ".partial"
        try:
            os.mkdir(partial, 0o700)
            # Symlinks are followed: the WAL on another disk is copied by content.
            _copy_tree(self.data_dir.path, partial, skip=self._not_data(), links={}, follow=True)
            if self.data_dir.wal_dir:
                os.makedirs(os.path.join(partial, WAL_REL), 0o700)
                _copy_tree(self.data_dir.wal_dir, os.path.join(partial, WAL_REL), skip={STAGING_DIR}, links={})
            files = {}
            for directory, _dirs, names in os.walk(partial):
                for name in names:
                    path = os.path.join(directory, name)
                    files[os.path.relpath(path, partial)] = [os.path.getsize(path), _sha256(path)]
            manifest = dict(self.owner, version=version_label, created=stamp, files=files,
                            locations=dict((rel, [real, link, [os.stat(real).st_dev, os.stat(real).st_ino]])
                                           for rel, (real, link) in locations.items()))
            _fsync_tree(partial)
            atomic_write(os.path.join(partial, BACKUP_MANIFEST), json.dumps(manifest, sort_keys=True))
            os.rename(partial, final)
            _fsync_dir(self.root)
        except (IOError, OSError) as exc:
            shutil.rmtree(partial, ignore_errors=True)
            if exc.errno == errno.ENOSPC:
                # The room check counts apparent sizes: the copy can still run out, after retention made room.
                changed = ("the data dir was not changed, but backups_to_keep had already removed the older "
                           "backup(s) %s to make room" % ", ".join(removed)) if removed else "nothing was changed"
                raise MigrationError("no space left on the filesystem mounted at %s while backing up %s (%d bytes "
                                     "needed): %s; free space or point backup_dir elsewhere"
                                     % (mount_point(self.root), self.data_dir.path, size, changed))
            raise
        return final, removed

    @staticmethod
    def verify(path, data_dir):
        """The manifest of a complete, intact backup of ``data_dir``; refuses anything else with what to do."""
        def refuse(problem):
            raise MigrationError("the backup %s %s: nothing was changed. Restore the member's data by hand (stop etcd, "
                                 "replace the data dir's contents with those of a complete backup of this member, or "
                                 "restore a snapshot), then remove %s"
                                 % (path, problem, data_dir.file(INFLIGHT_FILE)))
        if os.path.islink(path) or not os.path.isdir(path):
            refuse("is missing")
        try:
            with open(os.path.join(path, BACKUP_MANIFEST)) as handle:
                manifest = json.load(handle)
            files, locations = manifest["files"], manifest["locations"]
            owner = (manifest["data_dir"], manifest["machine_id"], manifest["hostname"])
        except (IOError, OSError, ValueError, KeyError, TypeError):
            refuse("has no readable manifest (it is incomplete, or made by an earlier release)")
        expected = Backups(data_dir)
        if owner != (expected.owner["data_dir"], expected.owner["machine_id"], expected.owner["hostname"]):
            refuse("belongs to %s on %s, not to this data dir on this host" % (owner[0], owner[2]))
        if DB_PATH not in files or not [rel for rel in files if rel.startswith(WAL_REL + os.sep)
                                        and rel.endswith(".wal")]:
            refuse("holds no member/snap/db or no WAL segment")
        for rel, (size, digest) in files.items():
            full = os.path.join(path, rel)
            if not os.path.isfile(full) or os.path.getsize(full) != size:
                refuse("is incomplete (%s is missing or has the wrong size)" % rel)
            if _sha256(full) != digest:
                refuse("is damaged (%s does not match its checksum)" % rel)
        if not isinstance(locations, dict):
            refuse("has no readable manifest (it is incomplete, or made by an earlier release)")
        return manifest

    def existing(self):
        """This data dir's complete backups, oldest first."""
        if not os.path.isdir(self.root):
            return []
        found = []
        for name in os.listdir(self.root):
            path = os.path.join(self.root, name)
            if not name.startswith(self.prefix) or name.endswith((".partial", ".deleting")):
                continue
            if os.path.islink(path) or not os.path.isdir(path):
                continue
            try:
                with open(os.path.join(path, BACKUP_MANIFEST)) as handle:
                    manifest = json.load(handle)
                if any(manifest.get(key) != value for key, value in self.owner.items()):
                    continue
            except (IOError, OSError, ValueError, AttributeError):
                continue
            found.append(path)
        return sorted(found)

    def remove_leftovers(self):
        """Half-made and half-deleted backups of this data dir, left by a killed run."""
        removed = []
        if not os.path.isdir(self.root):
            return removed
        for name in os.listdir(self.root):
            path = os.path.join(self.root, name)
            leftover = name.startswith(self.prefix) and name.endswith((".partial", ".deleting"))
            if leftover and os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
                removed.append(path)
        return removed

    def _beyond(self, keep, protect):
        """This data dir's oldest backups beyond ``keep``, but those in ``protect``."""
        candidates = [path for path in self.existing() if path not in protect]
        excess = len(candidates) + len([p for p in protect if p]) - keep
        return candidates[:max(excess, 0)]

    def prune(self, keep, protect):
        """Delete this data dir's oldest backups beyond ``keep``; never the ones in ``protect``."""
        removed = []
        for path in self._beyond(keep, protect):
            # Renamed first: a kill mid-delete leaves a name the next run finishes removing.
            doomed = path + ".deleting"
            os.rename(path, doomed)
            _fsync_dir(self.root)
            shutil.rmtree(doomed)
            removed.append(path)
        return removed
