# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""An etcd data directory: its version.txt, its locks, its mode and its backups."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import json
import os
import shutil
import time

from .versions import MigrationError, check_storage, parse_version

VERSION_FILE = "version.txt"
# Written before a step that changes data, removed once it is recorded: its
# presence at start means a run died mid-step and the backup must be restored.
INFLIGHT_FILE = ".etcd-migrate-inflight.json"
DB_PATH = os.path.join("member", "snap", "db")
BOOKKEEPING = (VERSION_FILE, INFLIGHT_FILE)


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path, content):
    """Write ``content`` (text) through a temp file, fsync, rename and directory fsync."""
    directory = os.path.dirname(path)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(tmp, path)
    _fsync_dir(directory)


class DataDir:
    def __init__(self, path):
        self.path = os.path.abspath(path)
        self._lock_fd = None

    # --- checks ---------------------------------------------------------

    def check_usable(self):
        """Fail clearly when the path is not a directory this process can use."""
        if os.path.lexists(self.path) and not os.path.isdir(self.path):
            raise MigrationError("data_dir %s is not a directory: point data_dir at etcd's --data-dir" % self.path)
        if os.path.isdir(self.path) and not os.access(self.path, os.R_OK | os.W_OK | os.X_OK):
            raise MigrationError("data_dir %s is not readable and writable by this user: run as etcd's owner or root"
                                 % self.path)

    def exists(self):
        return os.path.isdir(self.path)

    def is_empty(self):
        """True when there is no etcd data (our own bookkeeping files do not count)."""
        if not self.exists():
            return True
        return not [name for name in os.listdir(self.path) if name not in BOOKKEEPING]

    def file(self, *parts):
        return os.path.join(self.path, *parts)

    # --- version.txt ----------------------------------------------------

    def read_version(self):
        """``(Version, storage)`` from version.txt, or None when it is missing."""
        path = self.file(VERSION_FILE)
        try:
            with open(path) as handle:
                text = handle.read().strip()
        except IOError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise MigrationError("cannot read %s: %s" % (path, exc))
        version, sep, storage = text.partition("/")
        if not sep:
            raise MigrationError("%s holds %r, expected <version>/<storage> such as 3.5.30/etcd3: "
                                 "fix or remove it and give current_version" % (path, text[:80]))
        try:
            return parse_version(version, "version in %s" % path), check_storage(storage, "storage in %s" % path)
        except MigrationError as exc:
            raise MigrationError("%s; fix or remove the file and give current_version" % exc)

    @staticmethod
    def format_version(version, storage):
        return "%s/%s" % (version, storage)

    def read_version_text(self):
        path = self.file(VERSION_FILE)
        if not os.path.exists(path):
            return None
        with open(path) as handle:
            return handle.read()

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
        path = self.file(INFLIGHT_FILE)
        if not os.path.exists(path):
            return None
        with open(path) as handle:
            return json.load(handle)

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

    # --- contents -------------------------------------------------------

    def replace_contents_from(self, source_dir, keep=()):
        """Make the data dir hold exactly what ``source_dir`` holds (a copy; the source stays).

        The directory itself stays in place, as it may be a mount point.
        """
        for name in os.listdir(self.path):
            if name in keep:
                continue
            path = self.file(name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        for name in os.listdir(source_dir):
            if name in keep:
                continue
            src = os.path.join(source_dir, name)
            if os.path.isdir(src) and not os.path.islink(src):
                shutil.copytree(src, self.file(name), symlinks=True)
            else:
                shutil.copy2(src, self.file(name), follow_symlinks=False)
        _fsync_tree(self.path)


def _fsync_tree(root):
    for directory, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(directory, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(directory)


class Backups:
    """Full copies of a data dir in ``backup_dir``, named ``<dir name>.etcd-backup.<UTC time>.v<version>``.

    The names sort by time, oldest first.
    """

    def __init__(self, data_dir, backup_dir=None):
        self.data_dir = data_dir
        self.root = os.path.abspath(backup_dir or os.path.dirname(data_dir.path))
        self.prefix = os.path.basename(data_dir.path) + ".etcd-backup."

    def create(self, version_label):
        if not os.path.isdir(self.root):
            os.makedirs(self.root, 0o700)
        now = time.time()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + "%06dZ" % (now % 1 * 1e6)
        final = os.path.join(self.root, "%s%s.v%s" % (self.prefix, stamp, version_label))
        if os.path.exists(final):  # same microsecond: take the next one
            time.sleep(0.001)
            return self.create(version_label)
        partial = final + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        # Bookkeeping stays out: a restored copy must not look like a run died in it.
        shutil.copytree(self.data_dir.path, partial, symlinks=True,
                        ignore=lambda _dir, names: [n for n in names if n == INFLIGHT_FILE])
        _fsync_tree(partial)
        os.rename(partial, final)
        _fsync_dir(self.root)
        return final

    def existing(self):
        if not os.path.isdir(self.root):
            return []
        found = [os.path.join(self.root, name) for name in os.listdir(self.root)
                 if name.startswith(self.prefix) and not name.endswith(".partial")]
        return sorted(found)

    def prune(self, keep, protect):
        """Delete the oldest backups beyond ``keep``; never the one just made."""
        removed = []
        candidates = [path for path in self.existing() if path != protect]
        excess = len(candidates) + 1 - max(keep, 1)
        for path in candidates[:max(excess, 0)]:
            shutil.rmtree(path)
            removed.append(path)
        return removed
