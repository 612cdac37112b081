# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Migrate one data dir: checks, lock, plan, backup, steps, progress, rollback.

Shared by the ``etcd_migrate`` module and the command-line entry.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile
import time

from .datadir import Backups, DataDir
from .bbolt import FormatError
from .detect import members, safe_detect
from .etcd_process import available_versions
from .membership import record_only_plan
from .plan import RECORD, plan_migration
from .steps import StepRunner
from .versions import MigrationError, check_storage, parse_version

DEFAULTS = {
    "target_storage": "etcd3",
    "name": None,
    "initial_cluster": None,
    "listen_peer_urls": "http://127.0.0.1:18630",
    "initial_advertise_peer_urls": None,
    "initial_cluster_token": "etcd-cluster",
    "client_port": 18629,
    "server_extra_args": [],
    "current_version": None,
    "backup": True,
    "backup_dir": None,
    "backups_to_keep": 3,
    "defer_final_hop": False,
    "timeout": 120,
    "data_dir_mode": "0700",
    "ttl_keys_prefix": "/registry/events",
    "ttl_keys_ttl": 3600,
}


class StepFailed(MigrationError):
    """A step failed; the data dir was put back from the backup when there was one."""


def _versioned(version, storage):
    return {"version": str(version) if version is not None else None, "storage": storage}


def migrate(params, check_mode=False, log=None):
    """Bring ``params['data_dir']`` to ``params['target_version']``; returns the result dict."""
    opts = dict(DEFAULTS)
    opts.update((k, v) for k, v in params.items() if v is not None)
    say = log or (lambda message: None)
    target = parse_version(opts["target_version"], "target_version")
    target_storage = check_storage(opts["target_storage"], "target_storage")
    mode = int(str(opts["data_dir_mode"]), 8)
    data_dir = DataDir(opts["data_dir"])
    data_dir.check_usable()
    result = {"changed": False, "steps": [], "warnings": [], "backup": None, "removed_backups": []}

    if not data_dir.exists():
        result["diff"] = {"before": "", "after": DataDir.format_version(target, target_storage)}
        plan = plan_migration(None, None, target, target_storage, [], empty=True)
        result.update(changed=True, previous=_versioned(None, None), current=_versioned(target, target_storage),
                      plan=[s._asdict() for s in plan.steps])
        if not check_mode:
            os.makedirs(data_dir.path, mode)
            os.chmod(data_dir.path, mode)  # makedirs' mode is filtered by the umask
            data_dir.write_version(target, target_storage)
        say("created %s for etcd %s" % (data_dir.path, target))
        return result

    if data_dir.held_by_other_process():
        raise MigrationError("%s is in use (member/snap/db is locked): stop etcd before migrating its data"
                             % data_dir.path)
    data_dir.lock()
    try:
        return _migrate_locked(data_dir, opts, target, target_storage, mode, check_mode, say, result)
    finally:
        data_dir.unlock()


def _recover_interrupted_run(data_dir, check_mode, say, result):
    inflight = data_dir.read_inflight()
    if inflight is None:
        return
    message = "a previous run died during %s; the data dir is restored from %s" % (
        inflight["step"], inflight["backup"])
    if check_mode:
        result["warnings"].append(message.replace("is restored", "will be restored"))
        return
    data_dir.replace_contents_from(inflight["backup"])
    data_dir.clear_inflight()
    result["changed"] = True
    result["warnings"].append(message)
    say(message)


def _current_version(data_dir, opts, empty, result):
    """(version, storage) from version.txt, current_version, or the data files themselves."""
    recorded = data_dir.read_version()
    given = opts["current_version"]
    if given is not None:
        given_version = parse_version(given, "current_version")
        if recorded is not None and recorded[0] != given_version:
            raise MigrationError("current_version %s contradicts %s, which says %s: fix one of them"
                                 % (given_version, data_dir.file("version.txt"), recorded[0]))
    if recorded is not None:
        return recorded
    if empty:
        return None, None
    detected = safe_detect(data_dir.path)
    shown = ("version", "cluster_version", "storage_version", "lower_bound", "ambiguous", "evidence", "error")
    result["detected"] = {k: detected.get(k) for k in shown}
    candidates = {detected.get(k) for k in ("version", "cluster_version", "lower_bound")} - {None}
    if given is not None:
        if candidates and "%d.%d" % (given_version.major, given_version.minor) not in candidates:
            raise MigrationError("current_version %s contradicts the data files, which show %s (%s)"
                                 % (given_version, detected["version"], "; ".join(detected["evidence"])))
        return given_version, "etcd3"
    if detected.get("error") or detected["ambiguous"] or detected["version"] is None:
        raise MigrationError("%s holds etcd data but no version.txt, and its files do not settle the version (%s): "
                             "give current_version (the etcd version that last ran on it, e.g. 3.4.23)"
                             % (data_dir.path, detected.get("error") or "; ".join(detected["evidence"])))
    # Only the minor is on disk: patch 0 makes the plan run the newest patch of that minor first.
    return parse_version(detected["version"] + ".0"), "etcd3"


def _migrate_locked(data_dir, opts, target, target_storage, mode, check_mode, say, result):
    _recover_interrupted_run(data_dir, check_mode, say, result)
    empty = data_dir.is_empty()
    current, storage = _current_version(data_dir, opts, empty, result)
    before_text = data_dir.read_version_text() or ""
    available = available_versions(opts["bin_dir"]) if opts.get("bin_dir") else []
    plan = None if empty else _cluster_member_plan(data_dir, current, storage, target, target_storage, available)
    plan = plan or plan_migration(current, storage, target, target_storage, available,
                                  defer_final_hop=opts["defer_final_hop"], empty=empty)
    result["warnings"].extend(plan.warnings)
    result["previous"] = _versioned(current, storage)
    result["current"] = _versioned(target, target_storage)
    result["plan"] = [s._asdict() for s in plan.steps]
    after_text = DataDir.format_version(target, target_storage)
    result["diff"] = {"before": before_text, "after": after_text}
    will_change = bool(plan.steps) or before_text != after_text or (empty and not before_text)
    if check_mode:
        result["changed"] = result["changed"] or will_change or data_dir.mode_differs(mode)
        return result

    data_steps = [s for s in plan.steps if s.action != RECORD]
    if data_steps and opts["backup"]:
        result["backup"] = Backups(data_dir, opts["backup_dir"]).create(str(current))
        say("backup of %s in %s" % (data_dir.path, result["backup"]))
    work_dir = tempfile.mkdtemp(prefix="etcd-migrate-")
    try:
        runner = StepRunner(data_dir, opts.get("bin_dir"), work_dir, opts)
        for step in plan.steps:
            started = time.monotonic()
            say("%s %s -> %s%s" % (step.action, step.from_version, step.to_version,
                                   " (etcd %s)" % step.binary if step.binary else ""))
            if step.action != RECORD:
                _run_guarded(runner, step, data_dir, result["backup"])
            data_dir.write_version(parse_version(step.to_version), step.storage)
            data_dir.clear_inflight()
            result["steps"].append({"action": step.action, "from": step.from_version, "to": step.to_version,
                                    "binary": step.binary, "seconds": round(time.monotonic() - started, 2)})
            result["changed"] = True
        result["warnings"].extend(runner.notes)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    if data_dir.write_version(target, target_storage):
        result["changed"] = True
    if data_dir.ensure_mode(mode):
        result["changed"] = True
    if result["backup"]:
        result["removed_backups"] = Backups(data_dir, opts["backup_dir"]).prune(
            opts["backups_to_keep"], protect=result["backup"])
    return result


def _cluster_member_plan(data_dir, current, storage, target, target_storage, available):
    """None for a single member; for a member of a multi-member cluster, membership.py's record-only plan."""
    if current == target and storage == target_storage:
        return None
    try:
        found = members(data_dir.path)
    except FormatError as exc:
        raise MigrationError("cannot read the membership of %s: %s" % (data_dir.path, exc))
    if len(found) <= 1:
        return None
    names = ", ".join(sorted(m.get("name") or "?" for m in found))
    readiness = safe_detect(data_dir.path).get("ready_for_next") or {}
    try:
        return record_only_plan(len(found), current, storage, target, target_storage, readiness, available)
    except MigrationError as exc:
        raise MigrationError("%s (members %s): %s" % (data_dir.path, names, exc))


def _run_guarded(runner, step, data_dir, backup):
    """Run one data step; on failure put the data dir back from the backup."""
    label = "%s %s -> %s" % (step.action, step.from_version, step.to_version)
    if backup:
        data_dir.mark_inflight(label, backup)
    try:
        runner.run(step)
    except Exception as exc:
        if backup:
            data_dir.replace_contents_from(backup)
            data_dir.clear_inflight()
            raise StepFailed("step %s failed: %s\nThe data dir was restored from the backup %s."
                             % (label, exc, backup))
        raise StepFailed("step %s failed without a backup (backup: false): %s\nThe data dir may be partly migrated."
                         % (label, exc))
