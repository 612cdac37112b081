# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The migration plan: a pure function from versions to ordered steps.

No I/O here: current version/storage, target, the binary versions available
and the policy go in; the steps (or a MigrationError naming what is missing)
come out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

from .compat import DOWNGRADE_API as DOWNGRADE_API_RULE, ETCDCTL_MIGRATE_REMOVED, PATCH_FLOORS, V2_STORE_REMOVED, holds
from .versions import MigrationError, minor, minor_text, parse_version

# Run a binary on the data dir until it is healthy on the hop's cluster version.
UPGRADE = "upgrade"
# Snapshot with the current version, restore with the target's tool (to <= 3.5).
DOWNGRADE_SNAPSHOT = "downgrade-snapshot"
# etcd's downgrade API with the current version, then the target binary (from >= 3.6).
DOWNGRADE_API = "downgrade-api"
# Only version.txt changes (empty dir, patch change, deferred final hop).
RECORD = "record-version"
# etcd2 (v2 store) data into etcd3 with etcdctl migrate of a 3.0-3.4 binary, TTL keys leased.
CONVERT_TO_ETCD3 = "convert-etcd2-to-etcd3"
# etcd3 keys into a fresh v2-store data dir served by the target (3.5 or older).
CONVERT_TO_ETCD2 = "convert-etcd3-to-etcd2"


class Step(namedtuple("Step", "action from_version to_version binary tool storage")):
    """One step; the versions are semver versions (``binary``/``tool``: the etcd run, or None)."""

    __slots__ = ()

    def as_result(self):
        """The step as the module's result shows it, versions as text."""
        return dict((field, value if value is None or field in ("action", "storage") else str(value))
                    for field, value in self._asdict().items())


Plan = namedtuple("Plan", "steps warnings")


def _minor_before(rule):
    return "%d.%d" % (rule.since[0], rule.since[1] - 1)


def _step(action, from_version, to_version, binary=None, tool=None):
    return Step(action, from_version, to_version, binary, tool, None)


def _newest_in_minor(available, wanted_minor, at_least=None):
    found = [v for v in available if minor(v) == wanted_minor and (at_least is None or v >= at_least)]
    return max(found) if found else None


def _require(version, available, why):
    if version not in available:
        raise MigrationError("etcd %s is needed (%s) but is not among the available binaries (%s): "
                             "install it next to the others in bin_dir"
                             % (version, why, ", ".join(str(v) for v in sorted(available)) or "none"))
    return version


def _floor_hop(version, available, warnings):
    """A patch hop inside ``version``'s minor when upstream's floor asks for it, else None."""
    floors = PATCH_FLOORS.get(minor(version))
    if not floors:
        return None
    floor, recommended = parse_version(floors[0]), parse_version(floors[1])
    newest = _newest_in_minor(available, minor(version))
    if version < floor:
        if newest is None or newest < floor:
            raise MigrationError("etcd %s must reach %s or later before leaving %s, and no such binary is available: "
                                 "install etcd %s or newer" % (version, floor, minor_text(version), recommended))
    if newest is not None and newest > version and version < recommended:
        if newest < recommended:
            warnings.append("etcd %s is below %s, which upstream recommends before leaving %s"
                            % (newest, recommended, minor_text(version)))
        return newest
    if version < recommended:
        warnings.append("etcd %s is below %s, which upstream recommends before leaving %s"
                        % (version, recommended, minor_text(version)))
    return None


def _upgrade(current, target, available, defer_final_hop):
    steps, warnings = [], []
    at = current
    while minor(at) < minor(target):
        patch = _floor_hop(at, available, warnings)
        if patch is not None:
            steps.append(_step(UPGRADE, at, patch, binary=patch))
            at = patch
        next_minor = (at.major, at.minor + 1)
        if next_minor == minor(target):
            hop = target
            if defer_final_hop:
                steps.append(_step(RECORD, at, hop))
                break
            _require(hop, available, "the target")
        else:
            hop = _newest_in_minor(available, next_minor)
            if hop is None:
                raise MigrationError("no etcd %d.%d binary is available for the intermediate hop from %s to %s: "
                                     "minors cannot be skipped, install an etcd %d.%d"
                                     % (next_minor + (at, target) + next_minor))
        steps.append(_step(UPGRADE, at, hop, binary=hop))
        at = hop
    return steps, warnings


def _runnable(version, available):
    """The binary that opens ``version``'s data: itself, else a newer patch of its minor."""
    found = version if version in available else _newest_in_minor(available, minor(version), at_least=version)
    if found is None:
        raise MigrationError("etcd %s (or a newer %s patch) is needed to read the current data but is not "
                             "among the available binaries: install it in bin_dir" % (version, minor_text(version)))
    return found


def _downgrade(current, target, available):
    if minor(target) != (current.major, current.minor - 1):
        raise MigrationError("target %s is more than one minor below %s: etcd downgrades one minor at a time, "
                             "migrate to %d.%d first" % (target, current, current.major, current.minor - 1))
    runner = _runnable(current, available)
    _require(target, available, "the downgrade target")
    if holds(DOWNGRADE_API_RULE, current):
        return [_step(DOWNGRADE_API, current, target, binary=target, tool=runner)]
    return [_step(DOWNGRADE_SNAPSHOT, current, target, binary=target, tool=runner)]


def _version_steps(current, target, available, defer_final_hop):
    if current == target:
        return [], []
    if minor(current) == minor(target):
        return [_step(RECORD, current, target)], []
    if target > current:
        return _upgrade(current, target, available, defer_final_hop)
    return _downgrade(current, target, available), []


def _with_storage(steps, storage):
    """Fill in each step's storage: what version.txt records once the step is done."""
    out = []
    for step in steps:
        storage = {CONVERT_TO_ETCD3: "etcd3", CONVERT_TO_ETCD2: "etcd2"}.get(step.action, storage)
        out.append(step._replace(storage=storage))
    return out


def plan_migration(current, current_storage, target, target_storage, available,
                   defer_final_hop=False, empty=False):
    """Ordered steps from ``current``/``current_storage`` to ``target``/``target_storage``.

    ``current`` and ``target`` are semver versions, ``available`` the versions
    whose binaries can be run.  ``current`` may be None only when ``empty``.
    """
    available = sorted(set(available))
    if target_storage == "etcd2" and holds(V2_STORE_REMOVED, target):
        raise MigrationError("etcd %s has no v2 store: etcd2 storage needs a target of %s or older "
                             "(or target_storage etcd3)" % (target, _minor_before(V2_STORE_REMOVED)))
    if empty:
        already = current is not None and current == target and current_storage == target_storage
        return Plan([] if already else _with_storage([_step(RECORD, current or target, target)], target_storage), [])
    if target.major != 3 or current.major != 3:
        raise MigrationError("only etcd 3.x data is supported (current %s, target %s)" % (current, target))
    steps = []
    if current_storage == "etcd2" and target_storage == "etcd3":
        if holds(ETCDCTL_MIGRATE_REMOVED, current):
            raise MigrationError("etcd2 data at %s cannot be converted: 'etcdctl migrate' was removed in 3.5; "
                                 "convert it with etcd 3.4 before moving to 3.5" % current)
        steps.append(_step(CONVERT_TO_ETCD3, current, current, binary=_runnable(current, available)))
    version_steps, warnings = _version_steps(current, target, available, defer_final_hop)
    steps.extend(version_steps)
    if current_storage == "etcd3" and target_storage == "etcd2":
        steps.append(_step(CONVERT_TO_ETCD2, target, target, binary=_require(target, available, "the target")))
    return Plan(_with_storage(steps, current_storage), warnings)
