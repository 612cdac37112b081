# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Migrate one data dir: checks, lock, plan, backup, steps, progress, rollback.

Shared by the ``etcd_migrate`` module and the command-line entry.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import glob
import os
import re
import shutil
import stat
import tempfile
import time

from .datadir import INFLIGHT_FILE, WAL_SEGMENT_BYTES, WORK_DIR, Backups, DataDir, free_bytes, mount_point
from .ondisk.bbolt import FormatError
from .detect import members, safe_detect
from .etcd_process import EtcdBinaries, check_port_free, listen_addresses
from .membership import record_only_plan
from .options import DEFAULTS, MigrateOptions, flag_names
from .plan import RECORD, plan_migration
from .steps import StepRunner
from .versions import MigrationError, Versioned, check_storage, parse_version

from urllib.error import URLError
from urllib.parse import urlparse


# What the engine sets on every temporary member itself: server_extra_args may not say otherwise.
OWNED_FLAGS = ("data-dir", "wal-dir", "name", "listen-client-urls", "advertise-client-urls", "listen-peer-urls",
               "initial-advertise-peer-urls", "initial-cluster", "initial-cluster-state", "initial-cluster-token",
               "snapshot-count", "force-new-cluster", "config-file")


class StepFailed(MigrationError):
    """A step failed; the data dir was put back from the backup when there was one."""


def migrate(params, check_mode=False, log=None, etcd=None):
    """Bring ``params['data_dir']`` to ``params['target_version']``; returns the result dict.

    ``etcd`` runs the binaries (EtcdBinaries of ``bin_dir`` unless given: the seam unit tests use).
    """
    opts = validate(params)
    try:
        return _migrate(opts, check_mode, log or (lambda message: None), etcd or EtcdBinaries(opts.bin_dir))
    except (IOError, OSError) as exc:
        raise MigrationError(describe_os_error(exc, opts.data_dir))


def describe_os_error(exc, place):
    """One line naming what failed on which path, and what to do; ``place`` stands for the path a failed write
    does not name (ENOSPC from a buffered write carries no file name)."""
    path = exc.filename or ""
    if exc.errno == errno.ENOSPC:
        where = path or place
        return ("no space left on the filesystem mounted at %s (writing %s; %d bytes free): free space there and "
                "run again" % (mount_point(where), where, free_bytes(where)))
    hint = {errno.EACCES: "run as etcd's owner or root", errno.EPERM: "run as etcd's owner or root",
            errno.EROFS: "the filesystem is read-only: remount it read-write",
            errno.ENOENT: "check the path"}.get(exc.errno, "check the path and the disk")
    return "%s: %s: %s" % (exc.strerror or exc, path, hint) if path else "%s: %s" % (exc.strerror or exc, hint)


def _positive_int(opts, key, low=1, high=None):
    value = opts[key]
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or number < low or (high is not None and number > high):
        raise MigrationError("%s %r is out of range: give a whole number from %d%s"
                             % (key, value, low, " to %d" % high if high else " up"))
    return number


def _check_url_list(key, text):
    for url in str(text).split(","):
        parsed = urlparse(url.strip())
        try:
            port = parsed.port
        except ValueError:
            port = None
        if parsed.scheme not in ("http", "https") or not parsed.hostname or port is None or not 0 < port < 65536:
            raise MigrationError("%s %r is not a list of http(s)://host:port URLs: give one such as "
                                 "http://127.0.0.1:18630" % (key, text))


def _owned_flags(args):
    """Flags of ``args`` that would override what the engine sets on its temporary members."""
    return ["--" + name for name in flag_names(args) if name in OWNED_FLAGS]


def validate(params):
    """Every value checked before anything is read, copied or started: ``DEFAULTS`` and ``params``
    (None counts as unset) as a MigrateOptions."""
    opts = dict(DEFAULTS)
    opts.update((k, v) for k, v in params.items() if v is not None)
    target = parse_version(opts["target_version"], "target_version")
    current = None if opts["current_version"] is None else parse_version(opts["current_version"], "current_version")
    for key, version in (("target_version", target), ("current_version", current)):
        if version and version.build:
            raise MigrationError("%s %s has build metadata, which etcd versions do not carry: give MAJOR.MINOR.PATCH"
                                 % (key, version))
    storage = check_storage(opts["target_storage"], "target_storage")
    mode_text = str(opts["data_dir_mode"])
    mode = int(mode_text.replace("o", ""), 8) if re.match(r"^0?o?[0-7]{3}$", mode_text) else None
    if mode is None or mode & 0o700 != 0o700:
        raise MigrationError("data_dir_mode %r is not an octal mode that lets etcd's owner read, write and enter: "
                             "give one such as 0700" % mode_text)
    opts["timeout"] = _positive_int(opts, "timeout")
    opts["client_port"] = _positive_int(opts, "client_port", 1, 65535)
    opts["backups_to_keep"] = _positive_int(opts, "backups_to_keep")
    opts["ttl_keys_ttl"] = _positive_int(opts, "ttl_keys_ttl")
    _check_url_list("listen_peer_urls", opts["listen_peer_urls"])
    if opts["client_port"] in [urlparse(url.strip()).port for url in str(opts["listen_peer_urls"]).split(",")]:
        raise MigrationError("client_port %d is also the port of listen_peer_urls: give them different ports"
                             % opts["client_port"])
    if opts["initial_advertise_peer_urls"]:
        _check_url_list("initial_advertise_peer_urls", opts["initial_advertise_peer_urls"])
    owned = _owned_flags(opts["server_extra_args"])
    if owned:
        raise MigrationError("server_extra_args (ETCD_CREDS on the command line) set %s, which the migration sets "
                             "itself on its temporary member: "
                             "remove them (use the data_dir, wal_dir, name, listen_peer_urls, "
                             "initial_advertise_peer_urls, initial_cluster and initial_cluster_token options)"
                             % ", ".join(owned))
    opts.update(target_version=target, current_version=current, target_storage=storage, data_dir_mode=mode,
                server_extra_args=tuple(opts["server_extra_args"]))
    return MigrateOptions(**opts)


def _migrate(opts, check_mode, say, etcd):
    goal, mode = Versioned(opts.target_version, opts.target_storage), opts.data_dir_mode
    data_dir = DataDir(opts.data_dir, opts.wal_dir)
    data_dir.check_usable()
    result = {"changed": False, "steps": [], "warnings": [], "backup": None, "removed_backups": []}

    if not data_dir.exists():
        result["diff"] = {"before": "", "after": str(goal)}
        plan = plan_migration(None, None, goal.version, goal.storage, [], empty=True)
        result.update(changed=True, previous=Versioned(None, None).as_result(), current=goal.as_result(),
                      plan=[step.as_result() for step in plan.steps])
        if not check_mode:
            os.makedirs(data_dir.path, mode)
            os.chmod(data_dir.path, mode)  # makedirs' mode is filtered by the umask
            data_dir.write_version(*goal)
        say("created %s for etcd %s" % (data_dir.path, goal.version))
        return result

    if data_dir.held_by_other_process():
        raise MigrationError("%s is in use (member/snap/db is locked): stop etcd before migrating its data"
                             % data_dir.path)
    data_dir.lock()
    try:
        return _migrate_locked(data_dir, opts, goal, etcd, check_mode, say, result)
    finally:
        data_dir.unlock()


def _recover_interrupted_run(data_dir, check_mode, say, result):
    """A marker means a run died mid-step: the backup it names is authoritative and is put back."""
    inflight = data_dir.read_inflight()
    if inflight is None:
        return
    if inflight["backup"] is None:
        raise MigrationError("a previous run with backup: false died during %s, so %s may be half-migrated and there "
                             "is no backup to put back: nothing was changed. Check the data (its scratch copies are "
                             "in %s), restore it from a snapshot if needed, then remove %s"
                             % (inflight.get("step"), data_dir.path, data_dir.file(WORK_DIR),
                                data_dir.file(INFLIGHT_FILE)))
    Backups.verify(inflight["backup"], data_dir)
    message = "a previous run died during %s; the data dir is restored from %s" % (
        inflight.get("step"), inflight["backup"])
    if check_mode:
        result["warnings"].append(message.replace("is restored", "will be restored"))
        return
    data_dir.restore_from(inflight["backup"])
    data_dir.ensure_owner()
    data_dir.clear_inflight()
    result["changed"] = True
    result["warnings"].append(message)
    say(message)


def _current_version(data_dir, opts, empty, result):
    """The Versioned pair from version.txt, current_version, or the data files themselves."""
    recorded = data_dir.read_version()
    given_version = opts.current_version
    if given_version is not None:
        if recorded is not None and recorded.version != given_version:
            raise MigrationError("current_version %s contradicts %s, which says %s: fix one of them"
                                 % (given_version, data_dir.file("version.txt"), recorded.version))
    if recorded is not None:
        return recorded
    if empty:
        return Versioned(None, None)
    detected = safe_detect(data_dir.path, wal_dir=data_dir.wal_dir)
    shown = ("version", "cluster_version", "storage_version", "lower_bound", "ambiguous", "evidence", "error")
    result["detected"] = {k: detected.get(k) for k in shown}
    candidates = {detected.get(k) for k in ("version", "cluster_version", "lower_bound")} - {None}
    if given_version is not None:
        if candidates and "%d.%d" % (given_version.major, given_version.minor) not in candidates:
            raise MigrationError("current_version %s contradicts the data files, which show %s (%s)"
                                 % (given_version, detected["version"], "; ".join(detected["evidence"])))
        return Versioned(given_version, "etcd3")
    if detected.get("error") or detected["ambiguous"] or detected["version"] is None:
        raise MigrationError("%s holds etcd data but no version.txt, and its files do not settle the version (%s): "
                             "give current_version (the etcd version that last ran on it, e.g. 3.4.23)"
                             % (data_dir.path, detected.get("error") or "; ".join(detected["evidence"])))
    # Only the minor is on disk: patch 0 makes the plan run the newest patch of that minor first.
    return Versioned(parse_version(detected["version"] + ".0"), "etcd3")


def _migrate_locked(data_dir, opts, goal, etcd, check_mode, say, result):
    mode = opts.data_dir_mode
    backups = Backups(data_dir, opts.backup_dir)
    if opts.backup:
        backups.check_placement()
    _recover_interrupted_run(data_dir, check_mode, say, result)
    if not check_mode:
        for path in data_dir.remove_leftovers() + backups.remove_leftovers():
            result["warnings"].append("removed %s, left by a run that was killed" % path)
            result["changed"] = True
    empty = data_dir.is_empty()
    if not empty:
        data_dir.check_member_data()
    source = _current_version(data_dir, opts, empty, result)
    before_text = data_dir.read_version_text() or ""
    available = etcd.versions()
    plan = None if empty else _cluster_member_plan(data_dir, source, goal, available)
    plan = plan or plan_migration(source.version, source.storage, goal.version, goal.storage, available,
                                  defer_final_hop=opts.defer_final_hop, empty=empty)
    result["warnings"].extend(plan.warnings)
    result["previous"] = source.as_result()
    result["current"] = goal.as_result()
    result["plan"] = [step.as_result() for step in plan.steps]
    after_text = str(goal)
    result["diff"] = {"before": before_text, "after": after_text}
    will_change = bool(plan.steps) or before_text != after_text or (empty and not before_text)
    if check_mode:
        result["changed"] = result["changed"] or will_change or data_dir.mode_differs(mode)
        return result

    data_steps = [s for s in plan.steps if s.action != RECORD]
    if data_steps:
        _preflight(data_dir, opts)
    if data_steps and opts.backup:
        result["backup"], result["removed_backups"] = backups.create(str(source.version), opts.backups_to_keep)
        say("backup of %s in %s" % (data_dir.path, result["backup"]))
    work_dir = data_dir.work_dir() if data_steps else None
    log_dir = _new_log_dir(backups.path_hash) if data_steps else None
    try:
        runner = StepRunner(data_dir, etcd, work_dir, opts, log_dir)
        for step in plan.steps:
            started = time.monotonic()
            say("%s %s -> %s%s" % (step.action, step.from_version, step.to_version,
                                   " (etcd %s)" % step.binary if step.binary else ""))
            if step.action != RECORD:
                _run_guarded(runner, step, data_dir, result["backup"])
            data_dir.write_version(step.to_version, step.storage)
            data_dir.clear_inflight()
            shown = step.as_result()
            result["steps"].append({"action": step.action, "from": shown["from_version"], "to": shown["to_version"],
                                    "binary": shown["binary"], "seconds": round(time.monotonic() - started, 2)})
            result["changed"] = True
        result["warnings"].extend(runner.notes)
    finally:
        # A step that failed without a backup keeps its marker, and its scratch copies for the operator.
        if work_dir and not os.path.exists(data_dir.file(INFLIGHT_FILE)):
            shutil.rmtree(work_dir, ignore_errors=True)
        if log_dir:
            shutil.rmtree(log_dir, ignore_errors=True)
    if data_dir.write_version(*goal):
        result["changed"] = True
    if data_dir.ensure_mode(mode):
        result["changed"] = True
    if data_dir.ensure_owner():
        result["changed"] = True
    if opts.backup:
        # Retention is applied after every success, so a run killed while pruning is finished by the next one.
        result["removed_backups"] += backups.prune(opts.backups_to_keep, protect=[result["backup"]])
        result["changed"] = result["changed"] or bool(result["removed_backups"])
    return result


def _cluster_member_plan(data_dir, source, goal, available):
    """None for a single member; for a member of a multi-member cluster, membership.py's record-only plan."""
    if source == goal:
        return None
    try:
        found = members(data_dir.path)
    except FormatError as exc:
        raise MigrationError("cannot read the membership of %s: %s" % (data_dir.path, exc))
    if len(found) <= 1:
        return None
    names = ", ".join(sorted(m.get("name") or "?" for m in found))
    readiness = safe_detect(data_dir.path, wal_dir=data_dir.wal_dir).get("ready_for_next") or {}
    try:
        return record_only_plan(len(found), source.version, source.storage, goal.version, goal.storage, readiness,
                                available)
    except MigrationError as exc:
        raise MigrationError("%s (members %s): %s" % (data_dir.path, names, exc))


def _new_log_dir(path_hash):
    """The directory for etcd's logs of the temporary members, in the temp dir (not on a data disk that may be full).

    mkdtemp: 0700 under a name no other user can take first in the shared temp dir.  A killed run's directory for
    the same data dir is removed first, if this user owns it (a link or another user's entry is left alone).
    """
    for old in glob.glob(os.path.join(tempfile.gettempdir(), "etcd-migrate-%s-*.logs" % path_hash)):
        info = os.lstat(old)
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid():
            shutil.rmtree(old, ignore_errors=True)
    return tempfile.mkdtemp(prefix="etcd-migrate-%s-" % path_hash, suffix=".logs")


def _logged_disk_full(log_dir):
    """Whether a temporary etcd of this run logged ENOSPC."""
    for name in os.listdir(log_dir) if log_dir and os.path.isdir(log_dir) else []:
        if name.endswith(".log"):
            with open(os.path.join(log_dir, name), "rb") as handle:
                if b"no space left on device" in handle.read():
                    return True
    return False


def _disk_full_note(data_dir, disk_full):
    """The free space once the data is back (a failed etcd may have shrunk its WAL tail, which the restore refills),
    on the data's filesystem and the WAL's when that is another one (wal_dir, or member/wal linked elsewhere)."""
    if not disk_full:
        return ""
    mounts = {}
    for place in (data_dir.path, os.path.realpath(data_dir.wal_path())):
        mounts.setdefault(mount_point(place), place)
    return ("\nNo space left on device: %s; etcd needs %d bytes for a new WAL segment besides its data: free space "
            "there and run again" % (" and ".join("the filesystem mounted at %s has %d bytes free"
                                                  % (mount, free_bytes(place)) for mount, place in mounts.items()),
                                     WAL_SEGMENT_BYTES))


def _preflight(data_dir, opts):
    """What would make a step fail is refused before the backup: damaged files, auth, busy ports."""
    found = safe_detect(data_dir.path, wal_dir=data_dir.wal_dir)
    if found.get("error"):
        raise MigrationError("%s cannot be read (%s): the member's data is damaged and nothing was changed; restore "
                             "it from a backup or a snapshot" % (data_dir.path, found["error"]))
    listed = ["%x" % member["id"] for member in (found.get("db") or {}).get("members") or [] if member.get("id")]
    # etcdctl 3.4 and older's "snapshot restore" leaves the old cluster's members in the db and writes the new ones
    # to the .snap only: a member listed there is this data's own.
    in_snap = (found.get("snap") or {}).get("members") or []
    if found.get("member_id") and listed and found["member_id"] not in listed + in_snap:
        # A hop would run this db as the WAL's member and append to that member's WAL.
        raise MigrationError("the WAL in %s belongs to member %s, which %s/member/snap/db does not list (it lists %s): "
                             "it is another member's WAL. Nothing was changed; give the wal_dir this member runs with "
                             "(etcd's --wal-dir), or point member/wal at its own WAL"
                             % (data_dir.wal_path(), found["member_id"], data_dir.path, ", ".join(listed)))
    if (found.get("db") or {}).get("auth_enabled"):
        raise MigrationError("auth is enabled in %s's data: the migration's temporary member cannot read it without "
                             "credentials, and takes none. Nothing was changed; run 'etcdctl auth disable' before "
                             "and 'auth enable' after, or roll the cluster with playbooks/upgrade.yml"
                             % data_dir.path)
    for host, port in listen_addresses(opts.client_port, opts.listen_peer_urls):
        check_port_free(host, port)


def _run_guarded(runner, step, data_dir, backup):
    """Run one data step; on failure put the data dir back from the backup."""
    label = "%s %s -> %s" % (step.action, step.from_version, step.to_version)
    # Without a backup the marker still tells the next run that this step never finished.
    data_dir.mark_inflight(label, backup)
    try:
        runner.run(step)
    except Exception as exc:
        os_error = isinstance(exc, (IOError, OSError)) and not isinstance(exc, URLError)
        reason = describe_os_error(exc, data_dir.path) if os_error else str(exc)
        disk_full = "filesystem mounted at" not in reason and ("no space left" in reason.lower()
                                                               or _logged_disk_full(runner.log_dir))
        if backup:
            try:
                data_dir.restore_from(backup)
            except (IOError, OSError, MigrationError) as restore_exc:
                restore_os_error = isinstance(restore_exc, (IOError, OSError))
                why = describe_os_error(restore_exc, data_dir.path) if restore_os_error else restore_exc
                raise StepFailed("step %s failed: %s%s\nPutting the backup %s back failed too (%s); the marker "
                                 "stays, so the next run restores it: fix that and run again"
                                 % (label, reason, _disk_full_note(data_dir, disk_full), backup, why))
            data_dir.ensure_owner()
            data_dir.clear_inflight()
            raise StepFailed("step %s failed: %s%s\nThe data dir was restored from the backup %s."
                             % (label, reason, _disk_full_note(data_dir, disk_full), backup))
        reason += _disk_full_note(data_dir, disk_full)
        raise StepFailed("step %s failed without a backup (backup: false): %s\nThe data dir may be partly migrated; "
                         "check it, then remove %s" % (label, reason, data_dir.file(INFLIGHT_FILE)))
